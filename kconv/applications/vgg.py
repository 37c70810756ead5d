"""Keras Applications' VGG16 and VGG19, layer for layer (names, order, weights)."""

import functools

from kconv.applications import imagenet_utils
from kconv.layers import (Conv2D, Dense, Flatten, GlobalAveragePooling2D, GlobalMaxPooling2D,
                          MaxPooling2D)
from kconv.models.model import Model


def _vgg(depths, name, include_top=True, weights=None, input_tensor=None, input_shape=None,
         pooling=None, classes=1000, classifier_activation="softmax"):
    inputs, _ = imagenet_utils.model_inputs(
        weights, include_top, classes, pooling, classifier_activation, input_shape,
        input_tensor)
    x = inputs
    for block, (filters, convs) in enumerate(zip((64, 128, 256, 512, 512), depths), 1):
        for i in range(1, convs + 1):
            x = Conv2D(filters, (3, 3), activation="relu", padding="same",
                       name=f"block{block}_conv{i}")(x)
        x = MaxPooling2D((2, 2), strides=(2, 2), name=f"block{block}_pool")(x)
    if include_top:
        x = Flatten(name="flatten")(x)
        x = Dense(4096, activation="relu", name="fc1")(x)
        x = Dense(4096, activation="relu", name="fc2")(x)
        x = Dense(classes, activation=classifier_activation, name="predictions")(x)
    elif pooling == "avg":
        x = GlobalAveragePooling2D()(x)
    elif pooling == "max":
        x = GlobalMaxPooling2D()(x)
    return imagenet_utils.finish(Model(inputs, x, name=name), weights)


def VGG16(include_top=True, weights=None, input_tensor=None, input_shape=None, pooling=None,
          classes=1000, classifier_activation="softmax", name="vgg16"):
    """Keras's VGG16 (``weights``: None or a Keras weights file; nothing is downloaded)."""
    return _vgg((2, 2, 3, 3, 3), name, include_top, weights, input_tensor, input_shape,
                pooling, classes, classifier_activation)


def VGG19(include_top=True, weights=None, input_tensor=None, input_shape=None, pooling=None,
          classes=1000, classifier_activation="softmax", name="vgg19"):
    """Keras's VGG19 (``weights``: None or a Keras weights file; nothing is downloaded)."""
    return _vgg((2, 2, 4, 4, 4), name, include_top, weights, input_tensor, input_shape,
                pooling, classes, classifier_activation)


preprocess_input = functools.partial(imagenet_utils.preprocess_input, mode="caffe")
