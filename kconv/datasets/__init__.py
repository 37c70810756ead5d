"""Keras-style loaders that return NumPy arrays of Keras's shapes and dtypes
(``kconv.datasets.mnist.load_data()``, ``fashion_mnist``, ``cifar10``, ``cifar100``, read
from Keras's cache, and a synthetic ``fake`` set), image
folders (decoded once, in parallel, into a memory-mapped cache), a stratified split, a run's
dataset by name as uint8 (N, H, W, C) tensors (:func:`load_dataset`) and, with Lightning
installed, :class:`ImageDataModule`."""

from kconv.datasets import cifar10, cifar100, fake, fashion_mnist, mnist
from kconv.datasets.bundle import BUILTIN, DataBundle, load_dataset, select_classes
from kconv.datasets.image_folder import FolderData, load_image_folder, resize
from kconv.datasets.split import stratified_split

__all__ = ["mnist", "fashion_mnist", "cifar10", "cifar100", "fake", "load_image_folder",
           "FolderData", "resize", "stratified_split", "BUILTIN", "DataBundle", "load_dataset",
           "select_classes", "ImageDataModule"]


def __getattr__(name):
    # The DataModule needs Lightning, which ``import kconv`` must not pull in.
    if name == "ImageDataModule":
        from kconv.datasets.datamodule import ImageDataModule
        return ImageDataModule
    raise AttributeError(f"module 'kconv.datasets' has no attribute {name!r}")
