"""StridedNet: strided convolutions instead of pooling, a 7x7 first layer, He init."""

import kconv
from kconv.layers import Activation, BatchNormalization, Conv2D, Dense, Dropout, Flatten
from models.common import model_input
from models.registry import register


@register("stridednet")
def stridednet(*, classes=4, input_shape=(96, 96, 3), data_format=None,
               reg=kconv.regularizers.L2(0.0005), init="he_normal", width=None, height=None,
               depth=None):
    """The tutorial's StridedNet (``StridedNet.build(width, height, depth, classes, reg,
    init="he_normal")``), returning class probabilities.

    Args:
        classes: number of classes (the tutorial's CALTECH-101 subset has 4).
        input_shape: (height, width, channels); ``width``/``height``/``depth`` override it.
        data_format: 'channels_last', 'channels_first' or None (global default).
        reg: the kernel regularizer of every conv layer; the default is ``l2(0.0005)``.
            Any regularizer identifier, or None.
        init: the kernel initializer of every conv and hidden Dense layer.

    Example:
        >>> model = stridednet(classes=4)
        >>> model(torch.zeros(2, 96, 96, 3)).shape
        torch.Size([2, 4])
    """
    h, w, c = input_shape
    input_shape = (height or h, width or w, depth or c)
    inputs, fmt, axis = model_input(input_shape, data_format)

    def conv(filters, strides=1, padding="same"):
        return Conv2D(filters, 3, strides=strides, padding=padding, data_format=fmt,
                      kernel_initializer=init, kernel_regularizer=reg)

    layers = [inputs, Conv2D(16, 7, strides=2, padding="valid", data_format=fmt,
                             kernel_initializer=init, kernel_regularizer=reg)]
    for filters in (32, 64, 128):
        layers += [conv(filters), Activation("relu"), BatchNormalization(axis=axis),
                   conv(filters, strides=2), Activation("relu"), BatchNormalization(axis=axis),
                   Dropout(0.25)]
    layers += [Flatten(data_format=fmt), Dense(512, kernel_initializer=init),
               Activation("relu"), BatchNormalization(), Dropout(0.5), Dense(classes),
               Activation("softmax")]
    return kconv.Sequential(layers, name="stridednet")
