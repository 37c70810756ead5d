"""Keras 2's ``keras.layers.convolutional`` import path (tutorials import the pooling layers
from it too)."""

from kconv.layers.conv import Conv2D
from kconv.layers.pooling import (AveragePooling2D, GlobalAveragePooling2D, GlobalMaxPooling2D,
                                  MaxPooling2D)

Convolution2D = Conv2D
MaxPool2D, AvgPool2D = MaxPooling2D, AveragePooling2D

__all__ = ["Conv2D", "Convolution2D", "MaxPooling2D", "MaxPool2D", "AveragePooling2D",
           "AvgPool2D", "GlobalAveragePooling2D", "GlobalMaxPooling2D"]
