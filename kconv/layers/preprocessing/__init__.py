"""Keras's image preprocessing and augmentation layers, usable inside a model: random ones
act in training only, on the whole batch on its device."""

from kconv.layers.preprocessing.geometric import (RandomFlip, RandomRotation,
                                                  RandomTranslation, RandomZoom)
from kconv.layers.preprocessing.intensity import RandomBrightness, RandomContrast
from kconv.layers.preprocessing.resizing import CenterCrop, RandomCrop, Resizing

__all__ = ["RandomFlip", "RandomRotation", "RandomTranslation", "RandomZoom",
           "RandomBrightness", "RandomContrast", "CenterCrop", "RandomCrop", "Resizing"]
