"""CIFAR-100 as Keras's ``cifar100.load_data(label_mode)`` returns it, from Keras's cache
(Keras 3's ``cifar-100-python-target/cifar-100-python`` or Keras 2's
``cifar-100-python``), downloaded from Keras's source when it is not there."""

import os

from kconv.datasets import keras_cache
from kconv.datasets.cifar10 import load_batch
from kconv.validation import check_choice

URL = "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz"
FOLDER = "cifar-100-python"


def load_data(label_mode="fine"):
    """``(x_train, y_train), (x_test, y_test)``: uint8 images (50000/10000, 32, 32, 3) and
    int64 labels (N, 1), the 100 fine classes or (``label_mode='coarse'``) the 20
    superclasses, as Keras returns them.

    Raises:
        ValueError: another ``label_mode``.
        FileNotFoundError: not in Keras's cache and not downloadable, in one line.
    """
    check_choice("label_mode", label_mode, ("fine", "coarse"))
    folder = keras_cache.extracted((f"cifar-100-python-target/{FOLDER}", FOLDER),
                                   ("cifar-100-python-target_archive",
                                    "cifar-100-python.tar.gz"), URL, "CIFAR-100")
    key = f"{label_mode}_labels".encode()
    splits = [load_batch(os.path.join(folder, name), key, "CIFAR-100")
              for name in ("train", "test")]
    return tuple((x, y.reshape(-1, 1)) for x, y in splits)
