"""Keras Applications' NASNetMobile and NASNetLarge (NASNet-A), layer for layer."""

import functools

from kconv.applications import imagenet_utils
from kconv.applications.imagenet_utils import correct_pad
from kconv.layers import (Activation, AveragePooling2D, BatchNormalization, Conv2D, Cropping2D,
                          MaxPooling2D, SeparableConv2D, ZeroPadding2D, add, concatenate)
from kconv.models.model import Model


def _bn(name):
    return BatchNormalization(axis=-1, momentum=0.9997, epsilon=1e-3, name=name)


def _conv(filters, name):
    return Conv2D(filters, 1, padding="same", use_bias=False, kernel_initializer="he_normal",
                  name=name)


def _relu(x, name=None):
    return Activation("relu", name=name)(x)


def _separable(x, filters, kernel, block_id, strides=1):
    """Two ReLU-separable convolution-BatchNormalization steps; the first strided."""
    x = _relu(x)
    padding = "same"
    if strides == 2:
        x = ZeroPadding2D(correct_pad(x, kernel), name=f"separable_conv_1_pad_{block_id}")(x)
        padding = "valid"
    x = SeparableConv2D(filters, kernel, strides=strides, padding=padding, use_bias=False,
                        name=f"separable_conv_1_{block_id}")(x)
    x = _relu(_bn(f"separable_conv_1_bn_{block_id}")(x))
    x = SeparableConv2D(filters, kernel, padding="same", use_bias=False,
                        name=f"separable_conv_2_{block_id}")(x)
    return _bn(f"separable_conv_2_bn_{block_id}")(x)


def _adjust(p, ip, filters, block_id):
    """The previous cell's output made to match this cell's input: halved (two offset 1x1
    average-pooled paths) when its size differs, projected when its channels do."""
    if p is None:
        return ip
    if p.shape[-2] != ip.shape[-2]:
        p = _relu(p, f"adjust_relu_1_{block_id}")
        p1 = AveragePooling2D(1, strides=2, name=f"adjust_avg_pool_1_{block_id}")(p)
        p1 = _conv(filters // 2, f"adjust_conv_1_{block_id}")(p1)
        p2 = Cropping2D(((1, 0), (1, 0)))(ZeroPadding2D(((0, 1), (0, 1)))(p))
        p2 = AveragePooling2D(1, strides=2, name=f"adjust_avg_pool_2_{block_id}")(p2)
        p2 = _conv(filters // 2, f"adjust_conv_2_{block_id}")(p2)
        return _bn(f"adjust_bn_{block_id}")(concatenate([p1, p2], axis=-1))
    if p.shape[-1] != filters:
        p = _conv(filters, f"adjust_conv_projection_{block_id}")(_relu(p))
        return _bn(f"adjust_bn_{block_id}")(p)
    return p


def _normal_cell(ip, p, filters, block_id):
    p = _adjust(p, ip, filters, block_id)
    h = _bn(f"normal_bn_1_{block_id}")(_conv(filters, f"normal_conv_1_{block_id}")(_relu(ip)))
    x1 = add([_separable(h, filters, 5, f"normal_left1_{block_id}"),
              _separable(p, filters, 3, f"normal_right1_{block_id}")],
             name=f"normal_add_1_{block_id}")
    x2 = add([_separable(p, filters, 5, f"normal_left2_{block_id}"),
              _separable(p, filters, 3, f"normal_right2_{block_id}")],
             name=f"normal_add_2_{block_id}")
    pool = functools.partial(AveragePooling2D, 3, strides=1, padding="same")
    x3 = add([pool(name=f"normal_left3_{block_id}")(h), p], name=f"normal_add_3_{block_id}")
    x4 = add([pool(name=f"normal_left4_{block_id}")(p), pool(name=f"normal_right4_{block_id}")(p)],
             name=f"normal_add_4_{block_id}")
    x5 = add([_separable(h, filters, 3, f"normal_left5_{block_id}"), h],
             name=f"normal_add_5_{block_id}")
    return concatenate([p, x1, x2, x3, x4, x5], axis=-1, name=f"normal_concat_{block_id}"), ip


def _reduction_cell(ip, p, filters, block_id):
    p = _adjust(p, ip, filters, block_id)
    h = _relu(ip)
    h = _bn(f"reduction_bn_1_{block_id}")(_conv(filters, f"reduction_conv_1_{block_id}")(h))
    h3 = ZeroPadding2D(correct_pad(h, 3), name=f"reduction_pad_1_{block_id}")(h)
    x1 = add([_separable(h, filters, 5, f"reduction_left1_{block_id}", strides=2),
              _separable(p, filters, 7, f"reduction_right1_{block_id}", strides=2)],
             name=f"reduction_add_1_{block_id}")
    x2 = add([MaxPooling2D(3, strides=2, name=f"reduction_left2_{block_id}")(h3),
              _separable(p, filters, 7, f"reduction_right2_{block_id}", strides=2)],
             name=f"reduction_add_2_{block_id}")
    x3 = add([AveragePooling2D(3, strides=2, name=f"reduction_left3_{block_id}")(h3),
              _separable(p, filters, 5, f"reduction_right3_{block_id}", strides=2)],
             name=f"reduction_add3_{block_id}")
    x4 = AveragePooling2D(3, strides=1, padding="same", name=f"reduction_left4_{block_id}")(x1)
    x4 = add([x2, x4])
    x5 = add([_separable(x1, filters, 3, f"reduction_left4_{block_id}"),
              MaxPooling2D(3, strides=2, name=f"reduction_right5_{block_id}")(h3)],
             name=f"reduction_add4_{block_id}")
    return concatenate([x2, x3, x4, x5], axis=-1, name=f"reduction_concat_{block_id}"), ip


def _nasnet(input_shape, penultimate_filters, num_blocks, stem_filters, skip_reduction,
            default_size, include_top, weights, input_tensor, pooling, classes,
            classifier_activation, name, multiplier=2):
    inputs, _ = imagenet_utils.model_inputs(
        weights, include_top, classes, pooling, classifier_activation, input_shape,
        input_tensor, default_size, channels_last_only="NASNet")
    filters = penultimate_filters // 24
    x = Conv2D(stem_filters, 3, strides=2, padding="valid", use_bias=False,
               kernel_initializer="he_normal", name="stem_conv1")(inputs)
    x = _bn("stem_bn1")(x)
    x, p = _reduction_cell(x, None, filters // multiplier ** 2, "stem_1")
    x, p = _reduction_cell(x, p, filters // multiplier, "stem_2")
    for stage in range(3):
        if stage:
            x, p0 = _reduction_cell(x, p, filters, f"reduce_{stage * num_blocks}")
            p = p if skip_reduction else p0
        for i in range(num_blocks):
            block = i if stage == 0 else stage * num_blocks + i + 1
            x, p = _normal_cell(x, p, filters, f"{block}")
        filters *= multiplier
    x = imagenet_utils.head(_relu(x), include_top, pooling, classes, classifier_activation,
                            pool_names=None)
    return imagenet_utils.finish(Model(inputs, x, name=name), weights)


def NASNetMobile(input_shape=None, include_top=True, weights=None, input_tensor=None,
                 pooling=None, classes=1000, classifier_activation="softmax",
                 name="nasnet_mobile"):
    """Keras's NASNetMobile (``weights``: None or a Keras weights file; nothing is
    downloaded). Keras 3 refuses it on its torch backend; kconv builds it."""
    if not include_top and input_shape is None:
        input_shape = (224, 224, 3)
    return _nasnet(input_shape, 1056, 4, 32, False, 224, include_top, weights, input_tensor,
                   pooling, classes, classifier_activation, name)


def NASNetLarge(input_shape=None, include_top=True, weights=None, input_tensor=None,
                pooling=None, classes=1000, classifier_activation="softmax",
                name="nasnet_large"):
    """Keras's NASNetLarge (``weights``: None or a Keras weights file; nothing is
    downloaded)."""
    return _nasnet(input_shape, 4032, 6, 96, True, 331, include_top, weights, input_tensor,
                   pooling, classes, classifier_activation, name)


preprocess_input = functools.partial(imagenet_utils.preprocess_input, mode="tf")
