"""The wrappers against Keras: TimeDistributed and SpectralNormalization's outputs,
weights (in Keras's order), files both ways (.keras and .h5), training (BatchNormalization
inside TimeDistributed; SpectralNormalization's power iteration), configs, bad arguments."""

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


def critic(lib):
    """Every kind of layer SpectralNormalization takes, in both data formats."""
    lib.utils.set_random_seed(5)
    sn = lib.layers.SpectralNormalization
    inputs = lib.Input((8, 8, 3))
    x = sn(lib.layers.Conv2D(4, 3, activation="relu", kernel_regularizer="l2"))(inputs)
    x = sn(lib.layers.Conv2DTranspose(3, 3, strides=2), power_iterations=3)(x)
    x = sn(lib.layers.DepthwiseConv2D(3, depth_multiplier=2))(x)
    x = lib.layers.Permute((3, 1, 2))(x)
    x = sn(lib.layers.Conv2D(2, 2, data_format="channels_first"))(x)
    x = lib.layers.GlobalAveragePooling2D(data_format="channels_first")(x)
    return lib.Model(inputs, sn(lib.layers.Dense(2, use_bias=False))(x))


XS = np.random.default_rng(2).random((6, 8, 8, 3)).astype("float32")
YS = np.random.default_rng(3).random((6, 2)).astype("float32")


@pytest.mark.parametrize("ext", [".keras", ".h5"])
def test_spectral_normalization_files_both_ways(ext, tmp_path):
    k_model = critic(keras)
    k_model.compile("adam", "mse")
    k_model.fit(XS, YS, epochs=1, batch_size=3, verbose=0)  # vector_u and kernels move
    k_model.save(tmp_path / f"keras{ext}")
    model = kconv.models.load_model(tmp_path / f"keras{ext}")
    assert [w.shape for w in model.get_weights()] == [tuple(w.shape) for w in k_model.weights]
    assert (model.count_params(), len(model.non_trainable_weights)) == \
        (k_model.count_params(), len(k_model.non_trainable_weights))
    for a, b in zip(model.get_weights(), k_model.get_weights()):
        np.testing.assert_array_equal(a, b)
    expected = to_numpy(k_model.predict(XS, verbose=0))
    np.testing.assert_allclose(model.predict(XS, verbose=0), expected, rtol=1e-5, atol=1e-6)
    model.save(tmp_path / f"kconv{ext}")
    again = keras.models.load_model(tmp_path / f"kconv{ext}", compile=False)
    for a, b in zip(again.get_weights(), k_model.get_weights()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("optimizer", ["sgd", "rmsprop"])
def test_spectral_normalization_fit_equals_keras(optimizer):
    k_model, model = critic(keras), critic(kconv)
    model.set_weights(k_model.get_weights())
    k_model.compile(optimizer, "mse")
    model.compile(optimizer, "mse")
    fit = dict(epochs=2, batch_size=3, shuffle=False, verbose=0)
    theirs, ours = k_model.fit(XS, YS, **fit).history, model.fit(XS, YS, **fit).history
    np.testing.assert_allclose(ours["loss"], theirs["loss"], rtol=1e-5)
    for a, b in zip(model.get_weights(), k_model.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    # inference (evaluate, a call in eval mode) leaves the kernels and vector_u as they are
    before = model.get_weights()
    model.evaluate(XS, YS, verbose=0)
    model.eval()(torch.as_tensor(XS))
    for a, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(a, b)


def test_spectral_normalization_training_call_normalizes_the_kernel():
    """A training call leaves a kernel of spectral norm ~1 (converging with iterations),
    and an all-zero kernel as it was."""
    layer = kconv.layers.SpectralNormalization(kconv.layers.Dense(6), power_iterations=20)
    layer.train()
    layer(torch.ones(2, 5))
    kernel = layer.get_weights()[0]
    assert abs(np.linalg.svd(kernel, compute_uv=False)[0] - 1) < 1e-3
    zero = kconv.layers.SpectralNormalization(kconv.layers.Dense(3, kernel_initializer="zeros"))
    zero.eval()(torch.ones(2, 4))
    u = zero.get_weights()[1]
    zero.train()(torch.ones(2, 4))
    np.testing.assert_array_equal(zero.get_weights()[1], u)
    assert not zero.get_weights()[0].any()


def test_spectral_normalization_config_and_bad_arguments():
    layer = kconv.layers.SpectralNormalization(kconv.layers.Conv2D(4, 3), power_iterations=2)
    k_layer = keras.layers.deserialize({"module": "keras.layers", "class_name":
                                        "SpectralNormalization", "config": layer.get_config()})
    assert (k_layer.power_iterations, k_layer.layer.filters) == (2, 4)
    with pytest.raises(ValueError, match="power_iterations.*>= 1.*power_iterations=0"):
        kconv.layers.SpectralNormalization(kconv.layers.Dense(2), power_iterations=0)
    with pytest.raises(ValueError, match="layer.*with a kernel.*SeparableConv2D"):
        kconv.layers.SpectralNormalization(kconv.layers.SeparableConv2D(2, 3))
    with pytest.raises(ValueError, match="expected axis -1 of input shape to have value 5"):
        layer = kconv.layers.SpectralNormalization(kconv.layers.Dense(2))
        layer(torch.ones(1, 5))
        layer(torch.ones(1, 4))
