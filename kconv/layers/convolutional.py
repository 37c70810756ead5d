"""Keras 2's ``keras.layers.convolutional`` import path: its convolutions, padding, cropping
and upsampling layers (and the pooling layers, which tutorials import from it too)."""

from kconv.layers.conv import (Conv1D, Conv1DTranspose, Conv2D, Conv2DTranspose, Conv3D,
                               Conv3DTranspose, DepthwiseConv1D, DepthwiseConv2D,
                               SeparableConv1D, SeparableConv2D)
from kconv.layers.pooling import (AveragePooling2D, GlobalAveragePooling2D, GlobalMaxPooling2D,
                                  MaxPooling2D)
from kconv.layers.reshaping import (Cropping1D, Cropping2D, Cropping3D, UpSampling1D,
                                    UpSampling2D, UpSampling3D, ZeroPadding1D, ZeroPadding2D,
                                    ZeroPadding3D)

Convolution1D, Convolution2D, Convolution3D = Conv1D, Conv2D, Conv3D
Convolution2DTranspose, Convolution3DTranspose = Conv2DTranspose, Conv3DTranspose
SeparableConvolution1D, SeparableConvolution2D = SeparableConv1D, SeparableConv2D
MaxPool2D, AvgPool2D = MaxPooling2D, AveragePooling2D

__all__ = ["Conv1D", "Conv2D", "Conv3D", "Conv1DTranspose", "Conv2DTranspose",
           "Conv3DTranspose", "SeparableConv1D", "SeparableConv2D", "DepthwiseConv1D",
           "DepthwiseConv2D", "Convolution1D", "Convolution2D", "Convolution3D",
           "Convolution2DTranspose", "Convolution3DTranspose", "SeparableConvolution1D",
           "SeparableConvolution2D", "Cropping1D", "Cropping2D", "Cropping3D", "UpSampling1D",
           "UpSampling2D", "UpSampling3D", "ZeroPadding1D", "ZeroPadding2D", "ZeroPadding3D",
           "MaxPooling2D", "MaxPool2D", "AveragePooling2D", "AvgPool2D",
           "GlobalAveragePooling2D", "GlobalMaxPooling2D"]
