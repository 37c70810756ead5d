"""Helpers to run the same layer in Keras (the oracle) and in kconv."""

import keras
import numpy as np
import torch


def to_numpy(x):
    return keras.ops.convert_to_numpy(x)


def copy_from_keras(keras_layer, kconv_layer):
    """Copy a built Keras layer's weights (Keras order and layout) into a kconv layer."""
    specs = list(kconv_layer._weight_specs.values())
    assert len(specs) == len(keras_layer.weights), (specs, keras_layer.weights)
    with torch.no_grad():
        for spec, variable in zip(specs, keras_layer.weights):
            value = torch.as_tensor(to_numpy(variable))
            getattr(kconv_layer, spec.name).copy_(spec.from_keras(value))


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
