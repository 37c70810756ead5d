"""kconv layers: Keras arguments and numerics, torch parameters and modules."""

from kconv.layers.conv import (Conv1D, Conv1DTranspose, Conv2D, Conv2DTranspose, Conv3D,
                               Conv3DTranspose, DepthwiseConv1D, DepthwiseConv2D,
                               SeparableConv1D, SeparableConv2D)
from kconv.layers.advanced_activations import ELU, PReLU, LeakyReLU, ReLU, Softmax
from kconv.layers.core import (Activation, ActivityRegularization, AlphaDropout, Dropout,
                               Flatten, GaussianDropout, GaussianNoise, Identity, LayerScale,
                               Rescaling, SpatialDropout1D, SpatialDropout2D, SpatialDropout3D,
                               StochasticDepth)
from kconv.layers.input_layer import Input, InputLayer
from kconv.layers.dense import Dense
from kconv.layers.layer import Layer, WeightSpec
from kconv.layers.merging import (Add, Average, Concatenate, CustomScaleLayer, Dot, Maximum,
                                  Minimum, Multiply,
                                  Subtract, add, average, concatenate, dot, maximum, minimum,
                                  multiply, subtract)
from kconv.layers.normalization import (BatchNormalization, GroupNormalization,
                                        LayerNormalization, Normalization, RMSNormalization,
                                        UnitNormalization)
from kconv.layers.pooling import (AdaptiveAveragePooling1D, AdaptiveAveragePooling2D,
                                  AdaptiveAveragePooling3D, AdaptiveMaxPooling1D,
                                  AdaptiveMaxPooling2D, AdaptiveMaxPooling3D, AveragePooling1D,
                                  AveragePooling2D, AveragePooling3D,
                                  GlobalAveragePooling1D, GlobalAveragePooling2D,
                                  GlobalAveragePooling3D, GlobalMaxPooling1D,
                                  GlobalMaxPooling2D, GlobalMaxPooling3D, MaxPooling1D,
                                  MaxPooling2D, MaxPooling3D)
from kconv.layers.preprocessing import (AugMix, AutoContrast, CenterCrop,
                                        ContrastLimitedAdaptiveHistogramEqualization, CutMix,
                                        Equalization, RandomElasticTransform,
                                        MaxNumBoundingBoxes, MixUp, Pipeline, RandAugment,
                                        RandomBrightness, RandomErasing,
                                        RandomColorDegeneration, RandomColorJitter,
                                        RandomContrast, RandomCrop, RandomFlip,
                                        RandomGaussianBlur, RandomPerspective, RandomShear,
                                        RandomGrayscale, RandomHue, RandomInvert,
                                        RandomPosterization, RandomRotation,
                                        RandomSaturation, RandomSharpness, RandomTranslation,
                                        RandomZoom, Resizing, Solarization)
from kconv.layers.reshaping import (Cropping1D, Cropping2D, Cropping3D, Permute, RepeatVector,
                                    Reshape, UpSampling1D, UpSampling2D, UpSampling3D,
                                    ZeroPadding1D, ZeroPadding2D, ZeroPadding3D)
from kconv.layers.wrappers import SpectralNormalization, TimeDistributed, Wrapper

Convolution1D = Conv1D
Convolution2D = Conv2D
Convolution3D = Conv3D
SeparableConvolution1D, SeparableConvolution2D = SeparableConv1D, SeparableConv2D
Convolution1DTranspose, Convolution3DTranspose = Conv1DTranspose, Conv3DTranspose
Convolution2DTranspose = Deconvolution2D = Conv2DTranspose
MaxPool1D, MaxPool2D, MaxPool3D = MaxPooling1D, MaxPooling2D, MaxPooling3D
AvgPool1D, AvgPool2D, AvgPool3D = AveragePooling1D, AveragePooling2D, AveragePooling3D
GlobalAvgPool1D, GlobalAvgPool2D, GlobalAvgPool3D = (
    GlobalAveragePooling1D, GlobalAveragePooling2D, GlobalAveragePooling3D)
GlobalMaxPool1D, GlobalMaxPool2D, GlobalMaxPool3D = (
    GlobalMaxPooling1D, GlobalMaxPooling2D, GlobalMaxPooling3D)

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
           "UpSampling3D", "Reshape", "Permute", "RepeatVector", "MaxPooling1D", "MaxPooling3D",
           "AveragePooling1D", "AveragePooling3D", "GlobalAveragePooling1D",
           "GlobalAveragePooling3D", "GlobalMaxPooling1D", "GlobalMaxPooling3D", "MaxPool1D",
           "MaxPool3D", "AvgPool1D", "AvgPool3D", "GlobalAvgPool1D", "GlobalAvgPool3D",
           "GlobalMaxPool1D", "GlobalMaxPool3D", "DepthwiseConv1D", "DepthwiseConv2D",
           "SeparableConv1D", "SeparableConv2D", "SeparableConvolution1D",
           "SeparableConvolution2D", "Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose",
           "Convolution2DTranspose", "Deconvolution2D", "LayerNormalization",
           "GroupNormalization", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D",
           "GaussianNoise", "Normalization", "CustomScaleLayer", "LayerScale",
           "StochasticDepth", "Identity",
           "ActivityRegularization", "GaussianDropout", "AlphaDropout", "UnitNormalization",
           "RMSNormalization", "Convolution1DTranspose", "Convolution3DTranspose",
           "RandomFlip", "RandomRotation", "RandomTranslation", "RandomZoom",
           "RandomBrightness", "RandomContrast", "CenterCrop", "RandomCrop", "Resizing",
           "AdaptiveAveragePooling1D", "AdaptiveAveragePooling2D", "AdaptiveAveragePooling3D",
           "AdaptiveMaxPooling1D", "AdaptiveMaxPooling2D", "AdaptiveMaxPooling3D",
           "AutoContrast", "RandomColorDegeneration", "RandomColorJitter", "RandomGrayscale",
           "RandomHue", "RandomInvert", "RandomPosterization", "RandomSaturation",
           "RandomSharpness", "Solarization", "RandomShear", "RandomGaussianBlur",
           "Equalization", "RandomErasing", "CutMix", "MixUp", "Pipeline",
           "MaxNumBoundingBoxes", "RandomPerspective", "TimeDistributed",
           "SpectralNormalization", "Wrapper", "RandAugment", "AugMix",
           "RandomElasticTransform", "ContrastLimitedAdaptiveHistogramEqualization"]
