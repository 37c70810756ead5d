"""The lecture notes' MNIST CNN and the small LeNet-style example."""

import kconv
from kconv.layers import Conv2D, Dense, Flatten, MaxPooling2D
from models.common import model_input
from models.registry import register


@register("mnist_cnn")
def mnist_cnn(*, classes=10, input_shape=(28, 28, 1), data_format=None):
    """Three 3x3 ReLU convs with two 2x2 max pools, Dense(64), softmax: 93,322 parameters
    for MNIST (the lecture's ``model.summary()``)."""
    inputs, fmt, _ = model_input(input_shape, data_format)
    return kconv.Sequential([
        inputs,
        Conv2D(32, 3, activation="relu", data_format=fmt), MaxPooling2D(2, data_format=fmt),
        Conv2D(64, 3, activation="relu", data_format=fmt), MaxPooling2D(2, data_format=fmt),
        Conv2D(64, 3, activation="relu", data_format=fmt),
        Flatten(data_format=fmt), Dense(64, activation="relu"),
        Dense(classes, activation="softmax"),
    ], name="mnist_cnn")


@register("lenet")
def lenet(*, classes=10, input_shape=(28, 28, 1), data_format=None, hidden=1000):
    """The LeNet-style example: two 5x5 ReLU convs with 2x2 max pools, Dense(hidden),
    softmax (the functional-API version of the notes uses ``hidden=100``)."""
    inputs, fmt, _ = model_input(input_shape, data_format)
    return kconv.Sequential([
        inputs,
        Conv2D(32, 5, strides=1, activation="relu", data_format=fmt),
        MaxPooling2D(2, strides=2, data_format=fmt),
        Conv2D(64, 5, activation="relu", data_format=fmt), MaxPooling2D(2, data_format=fmt),
        Flatten(data_format=fmt), Dense(hidden, activation="relu"),
        Dense(classes, activation="softmax"),
    ], name="lenet")
