"""The CIFAR-10 ablation CNNs: the Keras CIFAR-10 example network (Ex1) and nine variants
that each change one Conv2D argument. The variants are one table of data."""

import kconv
from kconv.layers import Activation, Conv2D, Dense, Dropout, Flatten, MaxPooling2D
from models.common import model_input
from models.registry import register

BASE = dict(filters=(32, 32, 64, 64), kernel_size=3, use_bias=True,
            kernel_initializer="glorot_uniform", conv_activation=None)

# name -> (what changed, overrides of BASE). conv_activation None means separate
# Activation('relu') layers; a name means activation=... inside each Conv2D.
VARIANTS = {
    "cifar_ex1": ("default model", {}),
    "cifar_ex2": ("double the filters (64, 64, 128, 128)", dict(filters=(64, 64, 128, 128))),
    "cifar_ex3": ("activation='relu' inside each Conv2D", dict(conv_activation="relu")),
    "cifar_ex4": ("use_bias=False in every Conv2D", dict(use_bias=False)),
    "cifar_ex5": ("half the filters (16, 16, 32, 32) and use_bias=False",
                  dict(filters=(16, 16, 32, 32), use_bias=False)),
    "cifar_ex6": ("triple the filters (96, 96, 192, 192)", dict(filters=(96, 96, 192, 192))),
    "cifar_ex7": ("kernel_initializer='he_normal'", dict(kernel_initializer="he_normal")),
    "cifar_ex8": ("activation='sigmoid' inside each Conv2D", dict(conv_activation="sigmoid")),
    "cifar_ex9": ("activation='tanh' inside each Conv2D", dict(conv_activation="tanh")),
    "cifar_ex10": ("5x5 kernels", dict(kernel_size=5)),
}


def cifar_cnn(*, classes=10, input_shape=(32, 32, 3), data_format=None, filters=(32, 32, 64, 64),
              kernel_size=3, use_bias=True, kernel_initializer="glorot_uniform",
              conv_activation=None, name="cifar_cnn"):
    """The Keras CIFAR-10 example CNN with the ablation study's knobs.

    Args:
        classes: number of classes.
        input_shape: (height, width, channels).
        data_format: 'channels_last', 'channels_first' or None.
        filters: the four conv layers' filter counts.
        kernel_size, use_bias, kernel_initializer: passed to every Conv2D.
        conv_activation: None for separate ``Activation('relu')`` layers, or an activation
            applied inside each Conv2D.
    """
    inputs, fmt, _ = model_input(input_shape, data_format)
    layers = [inputs]
    for i, f in enumerate(filters):
        layers.append(Conv2D(f, kernel_size, padding="same" if i % 2 == 0 else "valid",
                             data_format=fmt, activation=conv_activation, use_bias=use_bias,
                             kernel_initializer=kernel_initializer))
        if conv_activation is None:
            layers.append(Activation("relu"))
        if i % 2 == 1:
            layers += [MaxPooling2D(2, data_format=fmt), Dropout(0.25)]
    layers += [Flatten(data_format=fmt), Dense(512), Activation("relu"), Dropout(0.5),
               Dense(classes), Activation("softmax")]
    return kconv.Sequential(layers, name=name)


def _variant_builder(name, overrides):
    def build(*, classes=10, input_shape=(32, 32, 3), data_format=None):
        return cifar_cnn(classes=classes, input_shape=input_shape, data_format=data_format,
                         name=name, **{**BASE, **overrides})
    build.__name__ = name
    build.__doc__ = f"CIFAR-10 ablation {name[6:].upper()}: {VARIANTS[name][0]}."
    build.description = VARIANTS[name][0]
    return build


for _name, (_, _overrides) in VARIANTS.items():
    register(_name)(_variant_builder(_name, _overrides))
