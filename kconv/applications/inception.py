"""Keras Applications' InceptionV3 and InceptionResNetV2, layer for layer."""

import functools

from kconv.applications import imagenet_utils
from kconv.applications.imagenet_utils import channel_axis
from kconv.layers import (Activation, AveragePooling2D, BatchNormalization, Concatenate, Conv2D,
                          CustomScaleLayer, MaxPooling2D)
from kconv.models.model import Model


def _conv_bn(x, filters, kernel, strides=1, padding="same", activation="relu",
             use_bias=False, name=None):
    """Keras's ``conv2d_bn``: a convolution, BatchNormalization without scale, an
    activation (named ``name``, ``name_bn``, ``name_ac`` when named: only
    InceptionResNetV2 names them)."""
    x = Conv2D(filters, kernel, strides=strides, padding=padding, use_bias=use_bias,
               name=name)(x)
    if not use_bias:
        x = BatchNormalization(axis=channel_axis(), scale=False,
                               name=name and f"{name}_bn")(x)
    if activation is not None:
        x = Activation(activation, name=name and f"{name}_ac")(x)
    return x


def _branches(x, branches):
    """Each branch a sequence of steps: (filters, kernel[, 'reduce']) for a convolution
    ('reduce': stride 2, 'valid'), 'avg' for 3x3 average pooling of stride 1, 'max' for
    3x3 max pooling of stride 2."""
    outputs = []
    for steps in branches:
        y = x
        for step in steps:
            if step == "avg":
                y = AveragePooling2D(3, strides=1, padding="same")(y)
            elif step == "max":
                y = MaxPooling2D(3, strides=2)(y)
            else:
                reduce = step[2:] == ("reduce",)
                y = _conv_bn(y, step[0], step[1], strides=2 if reduce else 1,
                             padding="valid" if reduce else "same")
        outputs.append(y)
    return outputs


def _stem(inputs):
    x = _conv_bn(inputs, 32, 3, strides=2, padding="valid")
    x = _conv_bn(x, 32, 3, padding="valid")
    x = _conv_bn(x, 64, 3)
    x = MaxPooling2D(3, strides=2)(x)
    x = _conv_bn(x, 80, 1, padding="valid")
    x = _conv_bn(x, 192, 3, padding="valid")
    return MaxPooling2D(3, strides=2)(x)


def _concat(branches, name=None):
    return Concatenate(axis=channel_axis(), name=name)(branches)


def _seven(filters, out=192):
    """InceptionV3's factorized 7x7 branches (1x7 then 7x1, and the doubled one)."""
    return [((out, 1),), ((filters, 1), (filters, (1, 7)), (out, (7, 1))),
            ((filters, 1), (filters, (7, 1)), (filters, (1, 7)), (filters, (7, 1)),
             (out, (1, 7))), ("avg", (out, 1))]


def _start(weights, include_top, classes, pooling, classifier_activation, input_shape,
           input_tensor):
    return imagenet_utils.model_inputs(weights, include_top, classes, pooling,
                                       classifier_activation, input_shape, input_tensor,
                                       299, 75)[0]


def InceptionV3(include_top=True, weights=None, input_tensor=None, input_shape=None,
                pooling=None, classes=1000, classifier_activation="softmax",
                name="inception_v3"):
    """Keras's InceptionV3 (``weights``: None or a Keras weights file; nothing is
    downloaded)."""
    inputs = _start(weights, include_top, classes, pooling, classifier_activation,
                    input_shape, input_tensor)
    x = _stem(inputs)
    double = ((64, 1), (96, 3), (96, 3))
    for i, pool_filters in enumerate((32, 64, 64)):
        x = _concat(_branches(x, [((64, 1),), ((48, 1), (64, 5)), double,
                                  ("avg", (pool_filters, 1))]), f"mixed{i}")
    x = _concat(_branches(x, [((384, 3, "reduce"),), ((64, 1), (96, 3), (96, 3, "reduce")),
                              ("max",)]), "mixed3")
    for i, filters in enumerate((128, 160, 160, 192)):
        x = _concat(_branches(x, _seven(filters)), f"mixed{4 + i}")
    x = _concat(_branches(x, [((192, 1), (320, 3, "reduce")),
                              ((192, 1), (192, (1, 7)), (192, (7, 1)), (192, 3, "reduce")),
                              ("max",)]), "mixed8")
    for i in range(2):
        single = _conv_bn(x, 320, 1)
        pair = _conv_bn(x, 384, 1)
        pair = _concat([_conv_bn(pair, 384, (1, 3)), _conv_bn(pair, 384, (3, 1))],
                       f"mixed9_{i}")
        double = _conv_bn(_conv_bn(x, 448, 1), 384, 3)
        double = _concat([_conv_bn(double, 384, (1, 3)), _conv_bn(double, 384, (3, 1))])
        pool = _branches(x, [("avg", (192, 1))])[0]
        x = _concat([single, pair, double, pool], f"mixed{9 + i}")
    x = imagenet_utils.head(x, include_top, pooling, classes, classifier_activation,
                            pool_names=None, top_pool_name="avg_pool")
    return imagenet_utils.finish(Model(inputs, x, name=name), weights)


# InceptionResNetV2's residual blocks: branches, then the scale of the residual.
_RESIDUAL = {"block35": [((32, 1),), ((32, 1), (32, 3)), ((32, 1), (48, 3), (64, 3))],
             "block17": [((192, 1),), ((128, 1), (160, (1, 7)), (192, (7, 1)))],
             "block8": [((192, 1),), ((192, 1), (224, (1, 3)), (256, (3, 1)))]}


def _residual(x, scale, block_type, index, activation="relu"):
    name = f"{block_type}_{index}"
    mixed = _concat(_branches(x, _RESIDUAL[block_type]), f"{name}_mixed")
    up = _conv_bn(mixed, x.shape[channel_axis()], 1, activation=None, use_bias=True,
                  name=f"{name}_conv")
    x = CustomScaleLayer(scale)([x, up])
    return x if activation is None else Activation(activation, name=f"{name}_ac")(x)


def InceptionResNetV2(include_top=True, weights=None, input_tensor=None, input_shape=None,
                      pooling=None, classes=1000, classifier_activation="softmax",
                      name="inception_resnet_v2"):
    """Keras's InceptionResNetV2 (``weights``: None or a Keras weights file; nothing is
    downloaded)."""
    inputs = _start(weights, include_top, classes, pooling, classifier_activation,
                    input_shape, input_tensor)
    x = _stem(inputs)
    x = _concat(_branches(x, [((96, 1),), ((48, 1), (64, 5)), ((64, 1), (96, 3), (96, 3)),
                              ("avg", (64, 1))]), "mixed_5b")
    for i in range(1, 11):
        x = _residual(x, 0.17, "block35", i)
    x = _concat(_branches(x, [((384, 3, "reduce"),), ((256, 1), (256, 3), (384, 3, "reduce")),
                              ("max",)]), "mixed_6a")
    for i in range(1, 21):
        x = _residual(x, 0.1, "block17", i)
    x = _concat(_branches(x, [((256, 1), (384, 3, "reduce")), ((256, 1), (288, 3, "reduce")),
                              ((256, 1), (288, 3), (320, 3, "reduce")), ("max",)]), "mixed_7a")
    for i in range(1, 10):
        x = _residual(x, 0.2, "block8", i)
    x = _residual(x, 1.0, "block8", 10, activation=None)
    x = _conv_bn(x, 1536, 1, name="conv_7b")
    x = imagenet_utils.head(x, include_top, pooling, classes, classifier_activation,
                            pool_names=None, top_pool_name="avg_pool")
    return imagenet_utils.finish(Model(inputs, x, name=name), weights)


preprocess_input = functools.partial(imagenet_utils.preprocess_input, mode="tf")
