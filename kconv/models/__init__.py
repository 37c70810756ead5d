"""Keras's ``keras.models``: ``Sequential``, ``Model`` (functional and subclassed),
``load_model`` and ``clone_model``."""

from kconv.models.model import Functional, Model
from kconv.models.sequential import Sequential
from kconv.saving import load_model

__all__ = ["Model", "Functional", "Sequential", "load_model", "clone_model"]


def clone_model(model):
    """A new model of the same architecture with freshly initialized weights (Keras's
    ``clone_model``): built again from the model's config."""
    from kconv.models.deserialization import model_from_config

    return model_from_config({"class_name": type(model).__name__,
                              "config": model.get_config()})
