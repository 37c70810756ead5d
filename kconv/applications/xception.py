"""Keras Applications' Xception, layer for layer."""

import functools

from kconv.applications import imagenet_utils
from kconv.applications.imagenet_utils import channel_axis
from kconv.layers import (Activation, BatchNormalization, Conv2D, MaxPooling2D,
                          SeparableConv2D, add)
from kconv.models.model import Model


def _bn(name=None):
    return BatchNormalization(axis=channel_axis(), name=name)


def _separable(x, filters, name, relu_name=None, relu_after=False):
    """A ReLU (named ``relu_name``; none when None), the separable convolution ``name``
    and its BatchNormalization; ``relu_after`` puts the ReLU after, as block 14 has it."""
    if relu_name and not relu_after:
        x = Activation("relu", name=relu_name)(x)
    x = SeparableConv2D(filters, 3, padding="same", use_bias=False, name=name)(x)
    x = _bn(f"{name}_bn")(x)
    if relu_name and relu_after:
        x = Activation("relu", name=relu_name)(x)
    return x


def _reduction(x, filters, block, first_relu=True):
    """Entry and exit flow: two separable convolutions and a stride-2 max pooling, beside
    a stride-2 1x1 convolution of the input."""
    residual = _bn()(Conv2D(filters[1], 1, strides=2, padding="same", use_bias=False)(x))
    x = _separable(x, filters[0], f"block{block}_sepconv1",
                   f"block{block}_sepconv1_act" if first_relu else None)
    if not first_relu:  # block 2: its ReLU sits between the two convolutions
        x = Activation("relu", name=f"block{block}_sepconv2_act")(x)
        x = _separable(x, filters[1], f"block{block}_sepconv2")
    else:
        x = _separable(x, filters[1], f"block{block}_sepconv2", f"block{block}_sepconv2_act")
    x = MaxPooling2D(3, strides=2, padding="same", name=f"block{block}_pool")(x)
    return add([x, residual])


def Xception(include_top=True, weights=None, input_tensor=None, input_shape=None,
             pooling=None, classes=1000, classifier_activation="softmax", name="xception"):
    """Keras's Xception (``weights``: None or a Keras weights file; nothing is
    downloaded)."""
    inputs, _ = imagenet_utils.model_inputs(
        weights, include_top, classes, pooling, classifier_activation, input_shape,
        input_tensor, 299, 71)
    x = Conv2D(32, 3, strides=2, use_bias=False, name="block1_conv1")(inputs)
    x = Activation("relu", name="block1_conv1_act")(_bn("block1_conv1_bn")(x))
    x = Conv2D(64, 3, use_bias=False, name="block1_conv2")(x)
    x = Activation("relu", name="block1_conv2_act")(_bn("block1_conv2_bn")(x))
    x = _reduction(x, (128, 128), 2, first_relu=False)
    x = _reduction(x, (256, 256), 3)
    x = _reduction(x, (728, 728), 4)
    for block in range(5, 13):
        residual = x
        for conv in range(1, 4):
            x = _separable(x, 728, f"block{block}_sepconv{conv}",
                           f"block{block}_sepconv{conv}_act")
        x = add([x, residual])
    x = _reduction(x, (728, 1024), 13)
    x = _separable(x, 1536, "block14_sepconv1", "block14_sepconv1_act", relu_after=True)
    x = _separable(x, 2048, "block14_sepconv2", "block14_sepconv2_act", relu_after=True)
    x = imagenet_utils.head(x, include_top, pooling, classes, classifier_activation,
                            pool_names=None, top_pool_name="avg_pool")
    return imagenet_utils.finish(Model(inputs, x, name=name), weights)


preprocess_input = functools.partial(imagenet_utils.preprocess_input, mode="tf")
