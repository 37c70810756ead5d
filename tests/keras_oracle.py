"""Helpers to run the same layer in Keras (the oracle) and in kconv."""

import keras
import numpy as np
import torch

import kconv


def to_numpy(x):
    return keras.ops.convert_to_numpy(x)


def copy_from_keras(keras_layer, kconv_layer):
    """Copy a built Keras layer's weights (Keras order and layout) into a kconv layer."""
    kconv_layer.set_weights([to_numpy(variable) for variable in keras_layer.weights])


def copy_model_from_keras(keras_model, kconv_model):
    for k_layer, layer in zip(keras_model.layers, kconv_model.layers):
        copy_from_keras(k_layer, layer)


def keras_call(keras_layer, x, training=False):
    return to_numpy(keras_layer(keras.ops.convert_to_tensor(np.asarray(x)), training=training))


def assert_close(actual, expected, atol=1e-5, rtol=1e-5):
    actual = actual.detach().cpu().numpy() if isinstance(actual, torch.Tensor) else actual
    np.testing.assert_allclose(actual, expected, atol=atol, rtol=rtol)


def keras_model_like(model):
    """The same Sequential built in Keras from each kconv layer's Keras config."""
    layers = [keras.layers.deserialize({"module": "keras.layers",
                                        "class_name": type(layer).__name__,
                                        "config": layer.get_config()})
              for layer in model.layers]
    return keras.Sequential([keras.Input(model.build_shape[1:])] + layers)


def mnist_cnn(lib):
    """The MNIST CNN's layers from ``lib`` (keras or kconv)."""
    L = lib.layers
    return [L.Conv2D(32, 3, activation="relu"), L.MaxPooling2D(2),
            L.Conv2D(64, 3, activation="relu"), L.MaxPooling2D(2),
            L.Conv2D(64, 3, activation="relu"), L.Flatten(),
            L.Dense(64, activation="relu"), L.Dense(10, activation="softmax")]


def strided_block(lib):
    """A StridedNet-like stack using every layer type, from ``lib``."""
    L = lib.layers
    return [L.Conv2D(16, 7, strides=2), L.Conv2D(32, 3, padding="same"), L.Activation("relu"),
            L.BatchNormalization(), L.Conv2D(32, 3, strides=2, padding="same"),
            L.Dropout(0.25), L.AveragePooling2D(2), L.GlobalAveragePooling2D(),
            L.Dense(5, activation="softmax")]


def build_both(factory, shape):
    """The same Sequential built in Keras and in kconv from ``factory(library)``."""
    keras.backend.clear_session()
    kconv.clear_session()
    k_model = keras.Sequential([keras.Input(shape)] + factory(keras))
    model = kconv.Sequential([kconv.Input(shape)] + factory(kconv))
    return k_model, model
