"""kconv: Keras's convolutional toolkit as plain PyTorch modules, numerically equal to Keras.

Example:
    >>> import kconv
    >>> from kconv.layers import Conv2D, Dense, Flatten, Input, MaxPooling2D
    >>> model = kconv.Sequential([Input((28, 28, 1)), Conv2D(32, 3, activation="relu"),
    ...                           MaxPooling2D(2), Flatten(), Dense(10, activation="softmax")])
    >>> model.summary()
"""

from kconv import (activations, applications, augmentation, backend, callbacks, config,
                   constraints, data, datasets, distribution, initializers, layers, legacy,
                   losses, metrics, mixed_precision, models, ops, optimizers, padding,
                   preprocessing, regularizers, saving, summary, utils)
from kconv.constraints import apply_constraints, attach_constraints
from kconv.layers import Input
from kconv.mixed_precision import DTypePolicy
from kconv.models import Model, Sequential
from kconv.naming import clear_session
from kconv.receptive_field import receptive_field

__version__ = "0.1.0"

__all__ = ["activations", "applications", "augmentation", "backend", "callbacks", "config",
           "constraints", "data", "datasets", "distribution", "legacy", "initializers", "layers",
           "losses", "metrics", "mixed_precision", "DTypePolicy", "models", "ops", "optimizers",
           "padding", "preprocessing", "regularizers", "saving", "summary", "trainers", "utils",
           "Model", "Sequential", "Input", "apply_constraints", "attach_constraints",
           "receptive_field", "clear_session", "__version__"]


def __getattr__(name):
    # The training engine needs Lightning; ``import kconv`` stays torch and numpy only.
    if name == "trainers":
        import importlib
        return importlib.import_module("kconv.trainers")
    raise AttributeError(f"module 'kconv' has no attribute {name!r}")
