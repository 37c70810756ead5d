"""The tutorials' networks built from kconv layers, registered by name, and
``ClassifierSystem``, which trains them on kconv's engine (imported on first use, so
building a network needs no Lightning).

This folder is used from the repository checkout (train.py, notebooks, tests and benchmarks
run there); installing kconv does not install it (CONTRIBUTING.md says why).

Example:
    >>> import models
    >>> models.list_models()
    ['cifar_ex1', 'cifar_ex10', ..., 'lenet', 'mnist_cnn', 'stridednet']
    >>> net = models.get_model("stridednet", classes=4)
"""

from models import cifar, mnist, stridednet  # noqa: F401  (registers the builders)
from models.registry import builder, describe, get_model, list_models, register

__all__ = ["get_model", "list_models", "register", "builder", "describe", "ClassifierSystem"]


def __getattr__(name):
    if name == "ClassifierSystem":  # needs Lightning
        from models.system import ClassifierSystem
        return ClassifierSystem
    raise AttributeError(f"module 'models' has no attribute {name!r}")
