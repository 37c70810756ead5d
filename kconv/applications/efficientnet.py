"""Keras Applications' EfficientNetB0-B7 and EfficientNetV2B0-B3/S/M/L, layer for layer.
Both rescale their inputs inside the model (their ``preprocess_input`` returns ``x``)."""

import functools
import math

from kconv.applications import imagenet_utils
from kconv.applications.imagenet_utils import channel_axis, correct_pad
from kconv.layers import (Activation, BatchNormalization, Conv2D, Dense, DepthwiseConv2D,
                          Dropout,
                          GlobalAveragePooling2D, Normalization, Rescaling, Reshape,
                          ZeroPadding2D, add, multiply)
from kconv.models.model import Model

# Keras's initializers of these networks.
_CONV_INIT = {"class_name": "VarianceScaling",
              "config": {"scale": 2.0, "mode": "fan_out", "distribution": "truncated_normal"}}
_DENSE_INIT = {"class_name": "VarianceScaling",
               "config": {"scale": 1.0 / 3.0, "mode": "fan_out", "distribution": "uniform"}}

# EfficientNet (V1): (kernel, repeats, filters in, filters out, expansion, stride) per
# stage; every block has squeeze-and-excitation 0.25 and an identity skip.
_V1_STAGES = ((3, 1, 32, 16, 1, 1), (3, 2, 16, 24, 6, 2), (5, 2, 24, 40, 6, 2),
              (3, 3, 40, 80, 6, 2), (5, 3, 80, 112, 6, 1), (5, 4, 112, 192, 6, 2),
              (3, 1, 192, 320, 6, 1))

# EfficientNetV2: (fused, repeats, filters in, filters out, expansion, squeeze-excite,
# stride) per stage; every kernel is 3x3.
_V2_B = ((1, 1, 32, 16, 1, 0, 1), (1, 2, 16, 32, 4, 0, 2), (1, 2, 32, 48, 4, 0, 2),
         (0, 3, 48, 96, 4, .25, 2), (0, 5, 96, 112, 6, .25, 1), (0, 8, 112, 192, 6, .25, 2))
_V2_STAGES = {
    "b": _V2_B,
    "s": ((1, 2, 24, 24, 1, 0, 1), (1, 4, 24, 48, 4, 0, 2), (1, 4, 48, 64, 4, 0, 2),
          (0, 6, 64, 128, 4, .25, 2), (0, 9, 128, 160, 6, .25, 1),
          (0, 15, 160, 256, 6, .25, 2)),
    "m": ((1, 3, 24, 24, 1, 0, 1), (1, 5, 24, 48, 4, 0, 2), (1, 5, 48, 80, 4, 0, 2),
          (0, 7, 80, 160, 4, .25, 2), (0, 14, 160, 176, 6, .25, 1),
          (0, 18, 176, 304, 6, .25, 2), (0, 5, 304, 512, 6, .25, 1)),
    "l": ((1, 4, 32, 32, 1, 0, 1), (1, 7, 32, 64, 4, 0, 2), (1, 7, 64, 96, 4, 0, 2),
          (0, 10, 96, 192, 4, .25, 2), (0, 19, 192, 224, 6, .25, 1),
          (0, 25, 224, 384, 6, .25, 2), (0, 7, 384, 640, 6, .25, 1))}


def _round_filters(filters, width, divisor=8, v1=True):
    filters *= width
    rounded = max(divisor, int(filters + divisor / 2) // divisor * divisor)
    return int(rounded + divisor if v1 and rounded < 0.9 * filters else rounded)


def _bn(name, momentum=0.99):
    return BatchNormalization(axis=channel_axis(), momentum=momentum, name=name)


def _conv(filters, kernel, name, **kwargs):
    return Conv2D(filters, kernel, padding="same", use_bias=False, kernel_initializer=_CONV_INIT,
                  name=name, **kwargs)


def _squeeze_excite(x, filters, reduced, activation, name):
    se = GlobalAveragePooling2D(name=f"{name}se_squeeze")(x)
    shape = (filters, 1, 1) if channel_axis() == 1 else (1, 1, filters)
    se = Reshape(shape, name=f"{name}se_reshape")(se)
    se = Conv2D(reduced, 1, padding="same", activation=activation,
                kernel_initializer=_CONV_INIT, name=f"{name}se_reduce")(se)
    se = Conv2D(filters, 1, padding="same", activation="sigmoid",
                kernel_initializer=_CONV_INIT, name=f"{name}se_expand")(se)
    return multiply([x, se], name=f"{name}se_excite")


def _skip(x, inputs, drop_rate, name):
    """The identity skip, with Keras's per-sample Dropout on the branch."""
    if drop_rate > 0:
        x = Dropout(drop_rate, noise_shape=(None, 1, 1, 1), name=f"{name}drop")(x)
    return add([x, inputs], name=f"{name}add")


def _v1_block(inputs, activation, drop_rate, name, filters_in, filters_out, kernel, stride,
              expansion):
    filters = filters_in * expansion
    x = inputs
    if expansion != 1:
        x = _bn(f"{name}expand_bn")(_conv(filters, 1, f"{name}expand_conv")(x))
        x = Activation(activation, name=f"{name}expand_activation")(x)
    if stride == 2:
        x = ZeroPadding2D(correct_pad(x, kernel), name=f"{name}dwconv_pad")(x)
    x = DepthwiseConv2D(kernel, strides=stride, padding="valid" if stride == 2 else "same",
                        use_bias=False, depthwise_initializer=_CONV_INIT,
                        name=f"{name}dwconv")(x)
    x = Activation(activation, name=f"{name}activation")(_bn(f"{name}bn")(x))
    x = _squeeze_excite(x, filters, max(1, int(filters_in * 0.25)), activation, name)
    x = _bn(f"{name}project_bn")(_conv(filters_out, 1, f"{name}project_conv")(x))
    if stride == 1 and filters_in == filters_out:
        x = _skip(x, inputs, drop_rate, name)
    return x


def _top(x, include_top, pooling, classes, classifier_activation, dropout_rate, **dense):
    """Average pooling, Dropout and the ``predictions`` Dense, or the ``pooling`` asked for."""
    if not include_top:
        return imagenet_utils.head(x, False, pooling, classes, None)
    x = GlobalAveragePooling2D(name="avg_pool")(x)
    if dropout_rate > 0:
        x = Dropout(dropout_rate, name="top_dropout")(x)
    return Dense(classes, activation=classifier_activation, kernel_initializer=_DENSE_INIT,
                 name="predictions", **dense)(x)


def _efficientnet(width, depth, default_size, dropout_rate, name, include_top=True,
                  weights=None, input_tensor=None, input_shape=None, pooling=None,
                  classes=1000, classifier_activation="softmax"):
    inputs, shape = imagenet_utils.model_inputs(
        weights, include_top, classes, pooling, classifier_activation, input_shape,
        input_tensor, default_size)
    x = Normalization(axis=channel_axis())(Rescaling(1.0 / 255.0)(inputs))
    x = ZeroPadding2D(correct_pad(x, 3), name="stem_conv_pad")(x)
    x = Conv2D(_round_filters(32, width), 3, strides=2, padding="valid", use_bias=False,
               kernel_initializer=_CONV_INIT, name="stem_conv")(x)
    x = Activation("swish", name="stem_activation")(_bn("stem_bn")(x))
    repeats = [int(math.ceil(depth * stage[1])) for stage in _V1_STAGES]
    done, total = 0, float(sum(repeats))
    for i, ((kernel, _, f_in, f_out, expansion, stride), count) in enumerate(
            zip(_V1_STAGES, repeats)):
        f_in, f_out = _round_filters(f_in, width), _round_filters(f_out, width)
        for j in range(count):
            x = _v1_block(x, "swish", 0.2 * done / total, f"block{i + 1}{chr(j + 97)}_",
                          f_in if j == 0 else f_out, f_out, kernel, stride if j == 0 else 1,
                          expansion)
            done += 1
    x = _bn("top_bn")(_conv(_round_filters(1280, width), 1, "top_conv")(x))
    x = Activation("swish", name="top_activation")(x)
    x = _top(x, include_top, pooling, classes, classifier_activation, dropout_rate)
    return imagenet_utils.finish(Model(inputs, x, name=name), weights)


def _v2_block(inputs, fused, f_in, f_out, expansion, se_ratio, stride, drop_rate, name):
    """Keras's MBConvBlock (depthwise) or FusedMBConvBlock (one full 3x3 convolution)."""
    filters, bn = f_in * expansion, functools.partial(_bn, momentum=0.9)
    x = inputs
    if expansion != 1:
        x = _conv(filters, 3 if fused else 1, f"{name}expand_conv",
                  strides=stride if fused else 1)(x)
        x = Activation("swish", name=f"{name}expand_activation")(bn(f"{name}expand_bn")(x))
    if not fused:
        x = DepthwiseConv2D(3, strides=stride, padding="same", use_bias=False,
                            depthwise_initializer=_CONV_INIT, name=f"{name}dwconv2")(x)
        x = Activation("swish", name=f"{name}activation")(bn(f"{name}bn")(x))
    if 0 < se_ratio <= 1:
        x = _squeeze_excite(x, filters, max(1, int(f_in * se_ratio)), "swish", name)
    projects_only = fused and expansion == 1
    x = _conv(f_out, 3 if projects_only else 1, f"{name}project_conv",
              strides=stride if projects_only else 1)(x)
    x = bn(f"{name}project_bn")(x)
    if projects_only:
        x = Activation("swish", name=f"{name}project_activation")(x)
    if stride == 1 and f_in == f_out:
        x = _skip(x, inputs, drop_rate, name)
    return x


def _efficientnet_v2(width, depth, default_size, variant, name, include_top=True,
                     weights=None, input_tensor=None, input_shape=None, pooling=None,
                     classes=1000, classifier_activation="softmax",
                     include_preprocessing=True):
    inputs, shape = imagenet_utils.model_inputs(
        weights, include_top, classes, pooling, classifier_activation, input_shape,
        input_tensor, default_size)
    stages, x = _V2_STAGES[variant], inputs
    if include_preprocessing:  # B variants of 3 channels: ImageNet statistics; else [-1, 1]
        if variant == "b" and shape[channel_axis() - 1] == 3:
            x = Rescaling(scale=1.0 / 255)(x)
            x = Normalization(mean=[0.485, 0.456, 0.406],
                              variance=[0.229 ** 2, 0.224 ** 2, 0.225 ** 2],
                              axis=channel_axis())(x)
        else:
            x = Rescaling(scale=1.0 / 128.0, offset=-1)(x)
    rounding = dict(width=width, v1=False)
    x = _conv(_round_filters(stages[0][2], **rounding), 3, "stem_conv", strides=2)(x)
    x = Activation("swish", name="stem_activation")(_bn("stem_bn", momentum=0.9)(x))
    repeats = [int(math.ceil(depth * stage[1])) for stage in stages]
    done, total = 0, float(sum(stage[1] for stage in stages))  # Keras's: unscaled repeats
    for i, ((fused, _, f_in, f_out, expansion, se, stride), count) in enumerate(
            zip(stages, repeats)):
        f_in, f_out = _round_filters(f_in, **rounding), _round_filters(f_out, **rounding)
        for j in range(count):
            x = _v2_block(x, fused, f_in if j == 0 else f_out, f_out, expansion, se,
                          stride if j == 0 else 1, 0.2 * done / total,
                          f"block{i + 1}{chr(j + 97)}_")
            done += 1
    x = _conv(_round_filters(1280, **rounding), 1, "top_conv")(x)
    x = Activation("swish", name="top_activation")(_bn("top_bn", momentum=0.9)(x))
    x = _top(x, include_top, pooling, classes, classifier_activation, 0.2,
             bias_initializer="zeros")
    return imagenet_utils.finish(Model(inputs, x, name=name), weights)


def _builder(title, build, *args):
    default_name = title.lower().replace("v2", "v2-")  # Keras's: efficientnetv2-b0

    def builder(include_top=True, weights=None, input_tensor=None, input_shape=None,
                pooling=None, classes=1000, classifier_activation="softmax",
                name=default_name, **kwargs):
        return build(*args, name, include_top, weights, input_tensor, input_shape, pooling,
                     classes, classifier_activation, **kwargs)
    builder.__name__ = builder.__qualname__ = title
    builder.__doc__ = (f"Keras's {title} (``weights``: None or a Keras weights file; nothing "
                       "is downloaded).")
    return builder


EfficientNetB0 = _builder("EfficientNetB0", _efficientnet, 1.0, 1.0, 224, 0.2)
EfficientNetB1 = _builder("EfficientNetB1", _efficientnet, 1.0, 1.1, 240, 0.2)
EfficientNetB2 = _builder("EfficientNetB2", _efficientnet, 1.1, 1.2, 260, 0.3)
EfficientNetB3 = _builder("EfficientNetB3", _efficientnet, 1.2, 1.4, 300, 0.3)
EfficientNetB4 = _builder("EfficientNetB4", _efficientnet, 1.4, 1.8, 380, 0.4)
EfficientNetB5 = _builder("EfficientNetB5", _efficientnet, 1.6, 2.2, 456, 0.4)
EfficientNetB6 = _builder("EfficientNetB6", _efficientnet, 1.8, 2.6, 528, 0.5)
EfficientNetB7 = _builder("EfficientNetB7", _efficientnet, 2.0, 3.1, 600, 0.5)
EfficientNetV2B0 = _builder("EfficientNetV2B0", _efficientnet_v2, 1.0, 1.0, 224, "b")
EfficientNetV2B1 = _builder("EfficientNetV2B1", _efficientnet_v2, 1.0, 1.1, 240, "b")
EfficientNetV2B2 = _builder("EfficientNetV2B2", _efficientnet_v2, 1.1, 1.2, 260, "b")
EfficientNetV2B3 = _builder("EfficientNetV2B3", _efficientnet_v2, 1.2, 1.4, 300, "b")
EfficientNetV2S = _builder("EfficientNetV2S", _efficientnet_v2, 1.0, 1.0, 384, "s")
EfficientNetV2M = _builder("EfficientNetV2M", _efficientnet_v2, 1.0, 1.0, 480, "m")
EfficientNetV2L = _builder("EfficientNetV2L", _efficientnet_v2, 1.0, 1.0, 480, "l")

preprocess_input = imagenet_utils.preprocess_nothing  # they rescale inside the model
