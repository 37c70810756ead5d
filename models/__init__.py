"""The tutorials' networks built from kconv layers, registered by name, and the Lightning
system that trains them.

Example:
    >>> import models
    >>> models.list_models()
    ['cifar_ex1', 'cifar_ex10', ..., 'lenet', 'mnist_cnn', 'stridednet']
    >>> net = models.get_model("stridednet", classes=4)
"""

from models import cifar, mnist, stridednet  # noqa: F401  (registers the builders)
from models.common import logits
from models.registry import builder, get_model, list_models, register
from models.report import classification_report
from models.system import ClassifierSystem

__all__ = ["get_model", "list_models", "register", "builder", "logits", "ClassifierSystem",
           "classification_report"]
