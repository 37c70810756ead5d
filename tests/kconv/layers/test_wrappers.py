"""TimeDistributed against Keras: outputs, weights, files both ways (.keras and .h5),
training with BatchNormalization inside, configs, bad arguments."""

import keras
import numpy as np
import pytest
import torch

import kconv
from tests.keras_oracle import to_numpy


def video_model(lib):
    lib.utils.set_random_seed(3)
    inputs = lib.Input((4, 9, 8, 2))
    x = lib.layers.TimeDistributed(lib.layers.Conv2D(3, 3, padding="same", strides=2,
                                                     kernel_regularizer="l2"))(inputs)
    x = lib.layers.TimeDistributed(lib.layers.BatchNormalization())(x)
    x = lib.layers.TimeDistributed(lib.layers.GlobalAveragePooling2D())(x)
    x = lib.layers.Flatten()(x)
    return lib.Model(inputs, lib.layers.Dense(3, activation="softmax")(x))


X = np.random.default_rng(0).standard_normal((16, 4, 9, 8, 2)).astype("float32")
Y = np.random.default_rng(1).integers(0, 3, 16)


@pytest.mark.parametrize("ext", [".keras", ".h5"])
def test_keras_files_open_predict_and_save_back(ext, tmp_path):
    k_model = video_model(keras)
    k_model.compile("sgd", "sparse_categorical_crossentropy")
    k_model.fit(X, Y, epochs=1, batch_size=8, verbose=0)  # moving statistics move
    path = str(tmp_path / f"keras{ext}")
    k_model.save(path)
    model = kconv.models.load_model(path)
    assert model.count_params() == k_model.count_params()
    expected = to_numpy(k_model.predict(X, verbose=0))
    np.testing.assert_allclose(model.predict(X, verbose=0), expected, rtol=1e-4, atol=1e-5)
    path = str(tmp_path / f"kconv{ext}")
    model.save(path)
    again = keras.models.load_model(path, compile=False)
    np.testing.assert_allclose(to_numpy(again.predict(X, verbose=0)), expected, rtol=1e-4,
                               atol=1e-5)


def test_fit_equals_keras():
    k_model, model = video_model(keras), video_model(kconv)
    model.set_weights(k_model.get_weights())
    for m, lib in ((k_model, keras), (model, kconv)):
        m.compile(lib.optimizers.SGD(0.05), "sparse_categorical_crossentropy")
    fit = dict(epochs=2, batch_size=8, shuffle=False, verbose=0)
    theirs, ours = k_model.fit(X, Y, **fit).history, model.fit(X, Y, **fit).history
    np.testing.assert_allclose(ours["loss"], theirs["loss"], rtol=1e-4)
    for a, b in zip(model.get_weights(), k_model.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_shapes_config_and_bad_arguments():
    layer = kconv.layers.TimeDistributed(kconv.layers.Dense(5))
    assert layer(torch.ones(2, 3, 4)).shape == (2, 3, 5)
    k_layer = keras.layers.deserialize({"module": "keras.layers", "class_name":
                                        "TimeDistributed", "config": layer.get_config()})
    assert k_layer.layer.units == 5
    with pytest.raises(ValueError, match="layer"):
        kconv.layers.TimeDistributed("dense")
    with pytest.raises(ValueError, match="min_ndim=3"):
        kconv.layers.TimeDistributed(kconv.layers.Dense(2))(torch.ones(2, 3))
