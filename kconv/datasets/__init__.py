"""Datasets as uint8 (N, H, W, C) tensors, Keras-style (``kconv.datasets.mnist.load_data()``),
plus image folders, CIFAR-10 python batches, a synthetic set, a stratified split, datasets
by name (:func:`load_dataset`) and, with Lightning installed, :class:`ImageDataModule`."""

from kconv.datasets import cifar10, fake, mnist
from kconv.datasets.bundle import BUILTIN, DataBundle, load_dataset, select_classes
from kconv.datasets.image_folder import FolderData, load_image_folder, resize
from kconv.datasets.split import stratified_split

__all__ = ["mnist", "cifar10", "fake", "load_image_folder", "FolderData", "resize",
           "stratified_split", "BUILTIN", "DataBundle", "load_dataset", "select_classes",
           "ImageDataModule"]


def __getattr__(name):
    # The DataModule needs Lightning, which ``import kconv`` must not pull in.
    if name == "ImageDataModule":
        from kconv.datasets.datamodule import ImageDataModule
        return ImageDataModule
    raise AttributeError(f"module 'kconv.datasets' has no attribute {name!r}")
