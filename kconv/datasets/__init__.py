"""Datasets as uint8 (N, H, W, C) tensors, Keras-style (``kconv.datasets.mnist.load_data()``),
plus image folders, CIFAR-10 python batches, a synthetic set and a stratified split."""

from kconv.datasets import cifar10, fake, mnist
from kconv.datasets.image_folder import FolderData, load_image_folder, resize
from kconv.datasets.split import stratified_split

__all__ = ["mnist", "cifar10", "fake", "load_image_folder", "FolderData", "resize",
           "stratified_split"]
