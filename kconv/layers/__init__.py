"""kconv layers: Keras arguments and numerics, torch parameters and modules."""

from kconv.layers.conv import Conv2D
from kconv.layers.core import Activation, Dropout, Flatten, Input
from kconv.layers.dense import Dense
from kconv.layers.layer import Layer, WeightSpec
from kconv.layers.normalization import BatchNormalization
from kconv.layers.pooling import (AveragePooling2D, GlobalAveragePooling2D, GlobalMaxPooling2D,
                                  MaxPooling2D)

Convolution2D = Conv2D
MaxPool2D = MaxPooling2D
AvgPool2D = AveragePooling2D
GlobalAvgPool2D = GlobalAveragePooling2D
GlobalMaxPool2D = GlobalMaxPooling2D

__all__ = ["Layer", "WeightSpec", "Conv2D", "Convolution2D", "Dense", "Activation", "Dropout",
           "Flatten", "Input", "MaxPooling2D", "MaxPool2D", "AveragePooling2D", "AvgPool2D",
           "GlobalAveragePooling2D", "GlobalAvgPool2D", "GlobalMaxPooling2D",
           "GlobalMaxPool2D", "BatchNormalization"]
