"""Keras Applications' ResNet50/101/152 and ResNet50V2/101V2/152V2, layer for layer."""

import functools

from kconv import config
from kconv.applications import imagenet_utils
from kconv.layers import (Activation, Add, BatchNormalization, Conv2D, MaxPooling2D,
                          ZeroPadding2D)
from kconv.models.model import Model


def _bn(name):
    axis = 3 if config.image_data_format() == "channels_last" else 1
    return BatchNormalization(axis=axis, epsilon=1.001e-5, name=name)


def _block_v1(x, filters, stride=1, conv_shortcut=True, name=None):
    if conv_shortcut:
        shortcut = Conv2D(4 * filters, 1, strides=stride, name=f"{name}_0_conv")(x)
        shortcut = _bn(f"{name}_0_bn")(shortcut)
    else:
        shortcut = x
    x = Conv2D(filters, 1, strides=stride, name=f"{name}_1_conv")(x)
    x = Activation("relu", name=f"{name}_1_relu")(_bn(f"{name}_1_bn")(x))
    x = Conv2D(filters, 3, padding="same", name=f"{name}_2_conv")(x)
    x = Activation("relu", name=f"{name}_2_relu")(_bn(f"{name}_2_bn")(x))
    x = _bn(f"{name}_3_bn")(Conv2D(4 * filters, 1, name=f"{name}_3_conv")(x))
    x = Add(name=f"{name}_add")([shortcut, x])
    return Activation("relu", name=f"{name}_out")(x)


def _stack_v1(x, filters, blocks, stride1=2, name=None):
    x = _block_v1(x, filters, stride=stride1, name=f"{name}_block1")
    for i in range(2, blocks + 1):
        x = _block_v1(x, filters, conv_shortcut=False, name=f"{name}_block{i}")
    return x


def _block_v2(x, filters, stride=1, conv_shortcut=False, name=None):
    preact = Activation("relu", name=f"{name}_preact_relu")(_bn(f"{name}_preact_bn")(x))
    if conv_shortcut:
        shortcut = Conv2D(4 * filters, 1, strides=stride, name=f"{name}_0_conv")(preact)
    else:
        shortcut = MaxPooling2D(1, strides=stride)(x) if stride > 1 else x
    x = Conv2D(filters, 1, strides=1, use_bias=False, name=f"{name}_1_conv")(preact)
    x = Activation("relu", name=f"{name}_1_relu")(_bn(f"{name}_1_bn")(x))
    x = ZeroPadding2D(padding=((1, 1), (1, 1)), name=f"{name}_2_pad")(x)
    x = Conv2D(filters, 3, strides=stride, use_bias=False, name=f"{name}_2_conv")(x)
    x = Activation("relu", name=f"{name}_2_relu")(_bn(f"{name}_2_bn")(x))
    x = Conv2D(4 * filters, 1, name=f"{name}_3_conv")(x)
    return Add(name=f"{name}_out")([shortcut, x])


def _stack_v2(x, filters, blocks, stride1=2, name=None):
    x = _block_v2(x, filters, conv_shortcut=True, name=f"{name}_block1")
    for i in range(2, blocks):
        x = _block_v2(x, filters, name=f"{name}_block{i}")
    return _block_v2(x, filters, stride=stride1, name=f"{name}_block{blocks}")


def _resnet(blocks, preact, name, include_top=True, weights=None, input_tensor=None,
            input_shape=None, pooling=None, classes=1000, classifier_activation="softmax"):
    inputs, _ = imagenet_utils.model_inputs(
        weights, include_top, classes, pooling, classifier_activation, input_shape,
        input_tensor)
    x = ZeroPadding2D(padding=((3, 3), (3, 3)), name="conv1_pad")(inputs)
    x = Conv2D(64, 7, strides=2, use_bias=True, name="conv1_conv")(x)
    if not preact:
        x = Activation("relu", name="conv1_relu")(_bn("conv1_bn")(x))
    x = ZeroPadding2D(padding=((1, 1), (1, 1)), name="pool1_pad")(x)
    x = MaxPooling2D(3, strides=2, name="pool1_pool")(x)
    for stage, (filters, count) in enumerate(zip((64, 128, 256, 512), blocks), 2):
        if preact:
            x = _stack_v2(x, filters, count, stride1=1 if stage == 5 else 2,
                          name=f"conv{stage}")
        else:
            x = _stack_v1(x, filters, count, stride1=1 if stage == 2 else 2,
                          name=f"conv{stage}")
    if preact:
        x = Activation("relu", name="post_relu")(_bn("post_bn")(x))
    x = imagenet_utils.head(x, include_top, pooling, classes, classifier_activation)
    return imagenet_utils.finish(Model(inputs, x, name=name), weights)


def _builder(blocks, preact, default_name):
    def build(include_top=True, weights=None, input_tensor=None, input_shape=None,
              pooling=None, classes=1000, classifier_activation="softmax",
              name=default_name):
        return _resnet(blocks, preact, name, include_top, weights, input_tensor,
                       input_shape, pooling, classes, classifier_activation)
    build.__name__ = build.__qualname__ = default_name.replace("resnet", "ResNet").replace(
        "v2", "V2")
    build.__doc__ = (f"Keras's {build.__name__} (``weights``: None or a Keras weights file; "
                     "nothing is downloaded).")
    return build


ResNet50 = _builder((3, 4, 6, 3), False, "resnet50")
ResNet101 = _builder((3, 4, 23, 3), False, "resnet101")
ResNet152 = _builder((3, 8, 36, 3), False, "resnet152")
ResNet50V2 = _builder((3, 4, 6, 3), True, "resnet50v2")
ResNet101V2 = _builder((3, 4, 23, 3), True, "resnet101v2")
ResNet152V2 = _builder((3, 8, 36, 3), True, "resnet152v2")

preprocess_input = functools.partial(imagenet_utils.preprocess_input, mode="caffe")
preprocess_input_v2 = functools.partial(imagenet_utils.preprocess_input, mode="tf")
