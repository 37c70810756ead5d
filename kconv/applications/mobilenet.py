"""Keras Applications' MobileNet (V1), MobileNetV2, MobileNetV3Small and MobileNetV3Large,
layer for layer: width ``alpha``, V1's ``depth_multiplier`` and ``dropout``, V3's
``minimalistic``, ``dropout_rate`` and ``include_preprocessing``."""

import functools

from kconv.applications import imagenet_utils
from kconv.applications.imagenet_utils import channel_axis, correct_pad
from kconv.layers import (Activation, Add, BatchNormalization, Conv2D, DepthwiseConv2D,
                          Dropout, Flatten, GlobalAveragePooling2D, GlobalMaxPooling2D,
                          Multiply, ReLU, Rescaling, Reshape, ZeroPadding2D)
from kconv.models.model import Model
from kconv.validation import check_float, check_int


def _divisible(value, divisor=8):
    """Keras's ``_make_divisible``/``_depth``: the nearest multiple of ``divisor``, never
    more than 10% below ``value``."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


def _bn(name, v1=False):
    if v1:
        return BatchNormalization(axis=channel_axis(), name=name)
    return BatchNormalization(axis=channel_axis(), epsilon=1e-3, momentum=0.999, name=name)


def _rows(shape):
    return shape[1] if channel_axis() == 1 else shape[0]


def _square_size(input_shape, input_tensor, sizes):
    """The size Keras names the model after: a square input of a size it has weights for,
    else 224."""
    if input_shape is None and input_tensor is not None:
        input_shape = tuple(input_tensor.shape[1:])
    if input_shape is None or len(input_shape) != 3:
        return 224
    spatial = input_shape[1:] if channel_axis() == 1 else input_shape[:2]
    return spatial[0] if spatial[0] == spatial[1] and spatial[0] in sizes else 224


def _alpha(alpha):
    return check_float("alpha", alpha, minimum=0, strict_minimum=True)


# MobileNet (V1): (pointwise filters, stride) of each depthwise block.
_V1_BLOCKS = ((64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), (512, 1), (512, 1),
              (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1))


def MobileNet(input_shape=None, alpha=1.0, depth_multiplier=1, dropout=1e-3, include_top=True,
              weights=None, input_tensor=None, pooling=None, classes=1000,
              classifier_activation="softmax", name=None):
    """Keras's MobileNet (``weights``: None or a Keras weights file; nothing is
    downloaded)."""
    inputs, shape = imagenet_utils.model_inputs(
        weights, include_top, classes, pooling, classifier_activation, input_shape,
        input_tensor, _square_size(input_shape, None, (128, 160, 192, 224)))
    alpha = _alpha(alpha)
    depth_multiplier = check_int("depth_multiplier", depth_multiplier)
    dropout = check_float("dropout", dropout, minimum=0, maximum=1)
    x = Conv2D(int(32 * alpha), 3, padding="same", use_bias=False, strides=2,
               name="conv1")(inputs)
    x = ReLU(6.0, name="conv1_relu")(_bn("conv1_bn", v1=True)(x))
    for block, (filters, stride) in enumerate(_V1_BLOCKS, 1):
        if stride == 2:
            x = ZeroPadding2D(((0, 1), (0, 1)), name=f"conv_pad_{block}")(x)
        x = DepthwiseConv2D(3, padding="same" if stride == 1 else "valid",
                            depth_multiplier=depth_multiplier, strides=stride,
                            use_bias=False, name=f"conv_dw_{block}")(x)
        x = ReLU(6.0, name=f"conv_dw_{block}_relu")(_bn(f"conv_dw_{block}_bn", v1=True)(x))
        x = Conv2D(int(filters * alpha), 1, padding="same", use_bias=False,
                   name=f"conv_pw_{block}")(x)
        x = ReLU(6.0, name=f"conv_pw_{block}_relu")(_bn(f"conv_pw_{block}_bn", v1=True)(x))
    if include_top:
        x = GlobalAveragePooling2D(keepdims=True)(x)
        x = Dropout(dropout, name="dropout")(x)
        x = Conv2D(classes, 1, padding="same", name="conv_preds")(x)
        x = Reshape((classes,), name="reshape_2")(x)
        x = Activation(classifier_activation, name="predictions")(x)
    else:
        x = imagenet_utils.head(x, False, pooling, classes, None, pool_names=None)
    name = name or f"mobilenet_{alpha:0.2f}_{_rows(shape)}"
    return imagenet_utils.finish(Model(inputs, x, name=name), weights)


# MobileNetV2: (filters, stride, expansion) of each inverted residual block.
_V2_BLOCKS = ((16, 1, 1), (24, 2, 6), (24, 1, 6), (32, 2, 6), (32, 1, 6), (32, 1, 6),
              (64, 2, 6), (64, 1, 6), (64, 1, 6), (64, 1, 6), (96, 1, 6), (96, 1, 6),
              (96, 1, 6), (160, 2, 6), (160, 1, 6), (160, 1, 6), (320, 1, 6))


def _v2_block(inputs, filters, stride, expansion, block):
    in_channels = inputs.shape[channel_axis()]
    x, prefix = inputs, f"block_{block}_" if block else "expanded_conv_"
    if block:
        x = Conv2D(expansion * in_channels, 1, padding="same", use_bias=False,
                   name=f"{prefix}expand")(x)
        x = ReLU(6.0, name=f"{prefix}expand_relu")(_bn(f"{prefix}expand_BN")(x))
    if stride == 2:
        x = ZeroPadding2D(correct_pad(x, 3), name=f"{prefix}pad")(x)
    x = DepthwiseConv2D(3, strides=stride, use_bias=False,
                        padding="same" if stride == 1 else "valid",
                        name=f"{prefix}depthwise")(x)
    x = ReLU(6.0, name=f"{prefix}depthwise_relu")(_bn(f"{prefix}depthwise_BN")(x))
    x = Conv2D(filters, 1, padding="same", use_bias=False, name=f"{prefix}project")(x)
    x = _bn(f"{prefix}project_BN")(x)
    if in_channels == filters and stride == 1:
        return Add(name=f"{prefix}add")([inputs, x])
    return x


def MobileNetV2(input_shape=None, alpha=1.0, include_top=True, weights=None,
                input_tensor=None, pooling=None, classes=1000,
                classifier_activation="softmax", name=None):
    """Keras's MobileNetV2 (``weights``: None or a Keras weights file; nothing is
    downloaded)."""
    inputs, shape = imagenet_utils.model_inputs(
        weights, include_top, classes, pooling, classifier_activation, input_shape,
        input_tensor, _square_size(input_shape, input_tensor, (96, 128, 160, 192, 224)))
    alpha = _alpha(alpha)
    x = Conv2D(_divisible(32 * alpha), 3, strides=2, padding="same", use_bias=False,
               name="Conv1")(inputs)
    x = ReLU(6.0, name="Conv1_relu")(_bn("bn_Conv1")(x))
    for block, (filters, stride, expansion) in enumerate(_V2_BLOCKS):
        x = _v2_block(x, _divisible(int(filters * alpha)), stride, expansion, block)
    x = Conv2D(_divisible(1280 * alpha) if alpha > 1.0 else 1280, 1, use_bias=False,
               name="Conv_1")(x)
    x = ReLU(6.0, name="out_relu")(_bn("Conv_1_bn")(x))
    x = imagenet_utils.head(x, include_top, pooling, classes, classifier_activation,
                            pool_names=None)
    name = name or f"mobilenetv2_{alpha:0.2f}_{_rows(shape)}"
    return imagenet_utils.finish(Model(inputs, x, name=name), weights)


def _relu(x):
    return ReLU()(x)


def _hard_swish(x):
    return Activation("hard_swish")(x)


def _hard_sigmoid(x):
    return ReLU(6.0)(x + 3.0) * (1.0 / 6.0)


def _squeeze_excite(inputs, filters, se_ratio, prefix):
    x = GlobalAveragePooling2D(keepdims=True, name=f"{prefix}squeeze_excite_avg_pool")(inputs)
    x = Conv2D(_divisible(filters * se_ratio), 1, padding="same",
               name=f"{prefix}squeeze_excite_conv")(x)
    x = ReLU(name=f"{prefix}squeeze_excite_relu")(x)
    x = Conv2D(filters, 1, padding="same", name=f"{prefix}squeeze_excite_conv_1")(x)
    return Multiply(name=f"{prefix}squeeze_excite_mul")([inputs, _hard_sigmoid(x)])


def _v3_block(x, expansion, filters, kernel_size, stride, se_ratio, activation, block):
    shortcut, in_filters = x, x.shape[channel_axis()]
    prefix = f"expanded_conv_{block}_" if block else "expanded_conv_"
    if block:
        x = Conv2D(_divisible(in_filters * expansion), 1, padding="same", use_bias=False,
                   name=f"{prefix}expand")(x)
        x = activation(_bn(f"{prefix}expand_bn")(x))
    if stride == 2:
        x = ZeroPadding2D(correct_pad(x, kernel_size), name=f"{prefix}depthwise_pad")(x)
    x = DepthwiseConv2D(kernel_size, strides=stride, use_bias=False,
                        padding="same" if stride == 1 else "valid",
                        name=f"{prefix}depthwise")(x)
    x = activation(_bn(f"{prefix}depthwise_bn")(x))
    if se_ratio:
        x = _squeeze_excite(x, _divisible(in_filters * expansion), se_ratio, prefix)
    x = Conv2D(filters, 1, padding="same", use_bias=False, name=f"{prefix}project")(x)
    x = _bn(f"{prefix}project_bn")(x)
    if stride == 1 and in_filters == filters:
        x = Add(name=f"{prefix}add")([shortcut, x])
    return x


# MobileNetV3: (expansion, filters, kernel ('k': 5, 3 when minimalistic), stride,
# squeeze-and-excitation, activation ('a': hard swish, ReLU when minimalistic)) per block.
_V3_SMALL = ((1, 16, 3, 2, True, "relu"), (72 / 16, 24, 3, 2, False, "relu"),
             (88 / 24, 24, 3, 1, False, "relu"), (4, 40, "k", 2, True, "a"),
             (6, 40, "k", 1, True, "a"), (6, 40, "k", 1, True, "a"), (3, 48, "k", 1, True, "a"),
             (3, 48, "k", 1, True, "a"), (6, 96, "k", 2, True, "a"), (6, 96, "k", 1, True, "a"),
             (6, 96, "k", 1, True, "a"))
_V3_LARGE = ((1, 16, 3, 1, False, "relu"), (4, 24, 3, 2, False, "relu"),
             (3, 24, 3, 1, False, "relu"), (3, 40, "k", 2, True, "relu"),
             (3, 40, "k", 1, True, "relu"), (3, 40, "k", 1, True, "relu"),
             (6, 80, 3, 2, False, "a"), (2.5, 80, 3, 1, False, "a"), (2.3, 80, 3, 1, False, "a"),
             (2.3, 80, 3, 1, False, "a"), (6, 112, 3, 1, True, "a"), (6, 112, 3, 1, True, "a"),
             (6, 160, "k", 2, True, "a"), (6, 160, "k", 1, True, "a"),
             (6, 160, "k", 1, True, "a"))


def _v3_input_shape(input_shape, input_tensor):
    """MobileNetV3's own rule: no default size (spatial None unless given), at least 32."""
    if input_shape is None and input_tensor is not None:
        rows, cols = input_tensor.shape[1:3] if channel_axis() == 3 else \
            input_tensor.shape[2:4]
        input_shape = (cols, rows, 3) if channel_axis() == 3 else (3, cols, rows)
    if input_shape is None:
        return (None, None, 3) if channel_axis() == 3 else (3, None, None)
    input_shape = tuple(input_shape)
    if len(input_shape) != 3:
        raise ValueError(f"`input_shape` must be a tuple of three integers. Received: "
                         f"input_shape={input_shape}")
    spatial = input_shape[:2] if channel_axis() == 3 else input_shape[1:]
    if spatial[0] and spatial[1] and min(spatial) < 32:
        raise ValueError(f"Input size must be at least 32x32; Received "
                         f"`input_shape={input_shape}`")
    return input_shape


def _mobilenet_v3(blocks, last_point, name, input_shape, alpha, minimalistic, include_top,
                  weights, input_tensor, classes, pooling, dropout_rate,
                  classifier_activation, include_preprocessing):
    imagenet_utils.check_arguments(weights, include_top, classes, pooling,
                                   classifier_activation)
    alpha = _alpha(alpha)
    dropout_rate = check_float("dropout_rate", dropout_rate, minimum=0, maximum=1)
    inputs = imagenet_utils.inputs_for(input_tensor, _v3_input_shape(input_shape,
                                                                     input_tensor))
    kernel, se_ratio = (3, None) if minimalistic else (5, 0.25)
    activation = _relu if minimalistic else _hard_swish
    x = Rescaling(scale=1.0 / 127.5, offset=-1.0)(inputs) if include_preprocessing else inputs
    x = Conv2D(16, 3, strides=2, padding="same", use_bias=False, name="conv")(x)
    x = activation(_bn("conv_bn")(x))
    for block, (expansion, filters, size, stride, se, act) in enumerate(blocks):
        x = _v3_block(x, expansion, _divisible(filters * alpha), kernel if size == "k" else size,
                      stride, se_ratio if se else None,
                      activation if act == "a" else _relu, block)
    last_conv = _divisible(x.shape[channel_axis()] * 6)
    last_point = _divisible(last_point * alpha) if alpha > 1.0 else last_point
    x = Conv2D(last_conv, 1, padding="same", use_bias=False, name="conv_1")(x)
    x = activation(_bn("conv_1_bn")(x))
    if include_top:
        x = GlobalAveragePooling2D(keepdims=True)(x)
        x = activation(Conv2D(last_point, 1, padding="same", use_bias=True, name="conv_2")(x))
        if dropout_rate > 0:
            x = Dropout(dropout_rate)(x)
        x = Flatten()(Conv2D(classes, 1, padding="same", name="logits")(x))
        x = Activation(classifier_activation, name="predictions")(x)
    elif pooling == "avg":
        x = GlobalAveragePooling2D(name="avg_pool")(x)
    elif pooling == "max":
        x = GlobalMaxPooling2D(name="max_pool")(x)
    return imagenet_utils.finish(Model(inputs, x, name=name), weights)


def _v3_builder(blocks, last_point, default_name):
    def build(input_shape=None, alpha=1.0, minimalistic=False, include_top=True,
              weights=None, input_tensor=None, classes=1000, pooling=None, dropout_rate=0.2,
              classifier_activation="softmax", include_preprocessing=True,
              name=default_name):
        return _mobilenet_v3(blocks, last_point, name, input_shape, alpha, minimalistic,
                             include_top, weights, input_tensor, classes, pooling,
                             dropout_rate, classifier_activation, include_preprocessing)
    build.__name__ = build.__qualname__ = default_name
    build.__doc__ = (f"Keras's {default_name} (``weights``: None or a Keras weights file; "
                     "nothing is downloaded); it rescales its input to [-1, 1] itself unless "
                     "``include_preprocessing=False``.")
    return build


MobileNetV3Small = _v3_builder(_V3_SMALL, 1024, "MobileNetV3Small")
MobileNetV3Large = _v3_builder(_V3_LARGE, 1280, "MobileNetV3Large")

preprocess_input = functools.partial(imagenet_utils.preprocess_input, mode="tf")
preprocess_input_v3 = imagenet_utils.preprocess_nothing  # V3 rescales inside the model
