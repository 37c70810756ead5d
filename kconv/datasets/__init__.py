"""Datasets as uint8 tensors, Keras-style (``kconv.datasets.mnist.load_data()``)."""

from kconv.datasets import mnist

__all__ = ["mnist"]
