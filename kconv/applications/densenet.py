"""Keras Applications' DenseNet121, DenseNet169 and DenseNet201, layer for layer."""

import functools

from kconv.applications import imagenet_utils
from kconv.layers import (Activation, AveragePooling2D, BatchNormalization, Concatenate, Conv2D,
                          MaxPooling2D, ZeroPadding2D)
from kconv.models.model import Model


def _bn(name):
    return BatchNormalization(axis=3, epsilon=1.001e-5, name=name)


def _conv_block(x, growth_rate, name):
    y = Activation("relu", name=f"{name}_0_relu")(_bn(f"{name}_0_bn")(x))
    y = Conv2D(4 * growth_rate, 1, use_bias=False, name=f"{name}_1_conv")(y)
    y = Activation("relu", name=f"{name}_1_relu")(_bn(f"{name}_1_bn")(y))
    y = Conv2D(growth_rate, 3, padding="same", use_bias=False, name=f"{name}_2_conv")(y)
    return Concatenate(axis=3, name=f"{name}_concat")([x, y])


def _transition(x, reduction, name):
    x = Activation("relu", name=f"{name}_relu")(_bn(f"{name}_bn")(x))
    x = Conv2D(int(x.shape[3] * reduction), 1, use_bias=False, name=f"{name}_conv")(x)
    return AveragePooling2D(2, strides=2, name=f"{name}_pool")(x)


def _densenet(blocks, name, include_top=True, weights=None, input_tensor=None,
              input_shape=None, pooling=None, classes=1000, classifier_activation="softmax"):
    inputs, _ = imagenet_utils.model_inputs(
        weights, include_top, classes, pooling, classifier_activation, input_shape,
        input_tensor, channels_last_only="DenseNet")
    x = ZeroPadding2D(padding=((3, 3), (3, 3)))(inputs)
    x = Conv2D(64, 7, strides=2, use_bias=False, name="conv1_conv")(x)
    x = Activation("relu", name="conv1_relu")(_bn("conv1_bn")(x))
    x = ZeroPadding2D(padding=((1, 1), (1, 1)))(x)
    x = MaxPooling2D(3, strides=2, name="pool1")(x)
    for stage, count in enumerate(blocks, 2):
        for i in range(count):
            x = _conv_block(x, 32, name=f"conv{stage}_block{i + 1}")
        if stage < 5:
            x = _transition(x, 0.5, name=f"pool{stage}")
    x = Activation("relu", name="relu")(_bn("bn")(x))
    x = imagenet_utils.head(x, include_top, pooling, classes, classifier_activation)
    return imagenet_utils.finish(Model(inputs, x, name=name), weights)


def _builder(blocks, default_name):
    def build(include_top=True, weights=None, input_tensor=None, input_shape=None,
              pooling=None, classes=1000, classifier_activation="softmax",
              name=default_name):
        return _densenet(blocks, name, include_top, weights, input_tensor, input_shape,
                         pooling, classes, classifier_activation)
    build.__name__ = build.__qualname__ = default_name.replace("densenet", "DenseNet")
    build.__doc__ = (f"Keras's {build.__name__} (``weights``: None or a Keras weights file; "
                     "nothing is downloaded).")
    return build


DenseNet121 = _builder((6, 12, 24, 16), "densenet121")
DenseNet169 = _builder((6, 12, 32, 32), "densenet169")
DenseNet201 = _builder((6, 12, 48, 32), "densenet201")

preprocess_input = functools.partial(imagenet_utils.preprocess_input, mode="torch")
