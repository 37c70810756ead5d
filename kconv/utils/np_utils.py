"""Keras 2's ``keras.utils.np_utils`` import path of ``to_categorical``."""

from kconv.utils.numerical_utils import to_categorical

__all__ = ["to_categorical"]
