"""Fashion-MNIST as Keras's ``fashion_mnist.load_data()`` returns it, from Keras's cache
(``fashion-mnist/`` with the four gzipped idx files), downloaded from Keras's source when it
is not there."""

from kconv.datasets import keras_cache
from kconv.datasets.mnist import load_idx

FILES = ("train-labels-idx1-ubyte.gz", "train-images-idx3-ubyte.gz",
         "t10k-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz")
CLASS_NAMES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
               "Sneaker", "Bag", "Ankle boot")


def load_data():
    """``(x_train, y_train), (x_test, y_test)``: uint8 images (60000/10000, 28, 28) and
    uint8 labels (N,), as Keras returns them.

    Raises:
        FileNotFoundError: not in Keras's cache and not downloadable, in one line.
    """
    y_train, x_train, y_test, x_test = (
        load_idx(keras_cache.fetch(f"fashion-mnist/{name}", keras_cache.KERAS_DATASETS + name,
                                   "Fashion-MNIST")) for name in FILES)
    for split, x, y in (("train", x_train, y_train), ("test", x_test, y_test)):
        if len(x) != len(y):
            raise ValueError(f"Fashion-MNIST {split} images and labels differ in count: "
                             f"{len(x)} and {len(y)}")
    return (x_train, y_train), (x_test, y_test)
