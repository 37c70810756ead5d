"""kconv layers: Keras arguments and numerics, torch parameters and modules."""

from kconv.layers.conv import Conv1D, Conv2D, Conv3D
from kconv.layers.advanced_activations import ELU, PReLU, LeakyReLU, ReLU, Softmax
from kconv.layers.core import Activation, Dropout, Flatten, Rescaling
from kconv.layers.input_layer import Input, InputLayer
from kconv.layers.dense import Dense
from kconv.layers.layer import Layer, WeightSpec
from kconv.layers.merging import (Add, Average, Concatenate, Dot, Maximum, Minimum, Multiply,
                                  Subtract, add, average, concatenate, dot, maximum, minimum,
                                  multiply, subtract)
from kconv.layers.normalization import BatchNormalization
from kconv.layers.pooling import (AveragePooling2D, GlobalAveragePooling2D, GlobalMaxPooling2D,
                                  MaxPooling2D)
from kconv.layers.reshaping import (Cropping1D, Cropping2D, Cropping3D, Permute, RepeatVector,
                                    Reshape, UpSampling1D, UpSampling2D, UpSampling3D,
                                    ZeroPadding1D, ZeroPadding2D, ZeroPadding3D)

Convolution1D = Conv1D
Convolution2D = Conv2D
Convolution3D = Conv3D
MaxPool2D = MaxPooling2D
AvgPool2D = AveragePooling2D
GlobalAvgPool2D = GlobalAveragePooling2D
GlobalMaxPool2D = GlobalMaxPooling2D

__all__ = ["Layer", "WeightSpec", "Conv1D", "Conv2D", "Conv3D", "Convolution1D",
           "Convolution2D", "Convolution3D", "Dense", "Activation", "Dropout",
           "Flatten", "Input", "InputLayer", "MaxPooling2D", "MaxPool2D", "AveragePooling2D",
           "AvgPool2D",
           "GlobalAveragePooling2D", "GlobalAvgPool2D", "GlobalMaxPooling2D",
           "GlobalMaxPool2D", "BatchNormalization", "Add", "Subtract", "Multiply", "Average",
           "Maximum", "Minimum", "Concatenate", "Dot", "add", "subtract", "multiply", "average",
           "maximum", "minimum", "concatenate", "dot", "ReLU", "LeakyReLU", "PReLU", "ELU",
           "Softmax", "Rescaling", "ZeroPadding1D", "ZeroPadding2D", "ZeroPadding3D",
           "Cropping1D", "Cropping2D", "Cropping3D", "UpSampling1D", "UpSampling2D",
           "UpSampling3D", "Reshape", "Permute", "RepeatVector"]
