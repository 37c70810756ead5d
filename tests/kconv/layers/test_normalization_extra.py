"""LayerNormalization and GroupNormalization against Keras; SpatialDropout and
GaussianNoise: Keras's configs and behaviour."""

import keras
import numpy as np
import pytest
import torch

import kconv
from tests.keras_oracle import assert_close, copy_from_keras, keras_call


@pytest.mark.parametrize("name, kwargs", [
    ("LayerNormalization", {}), ("LayerNormalization", {"axis": (1, 2)}),
    ("LayerNormalization", {"axis": 1, "center": False, "epsilon": 1e-5}),
    ("LayerNormalization", {"axis": [-1, -3], "scale": False}),
    ("GroupNormalization", {"groups": 2}), ("GroupNormalization", {"groups": 4, "axis": 1}),
    ("GroupNormalization", {"groups": 1, "epsilon": 1e-5}),
])
def test_matches_keras(name, kwargs):
    x = np.random.default_rng(0).standard_normal((2, 4, 3, 4)).astype("float32") * 3 + 1
    k_layer = getattr(keras.layers, name)(beta_initializer="random_normal",
                                          gamma_initializer="random_normal", **kwargs)
    k_layer.build(x.shape)
    layer = getattr(kconv.layers, name)(**kwargs)
    layer.build_for((None,) + x.shape[1:])
    copy_from_keras(k_layer, layer)
    axes = kwargs.get("axis", -1)
    axes = sorted(a % 4 for a in (axes if isinstance(axes, (list, tuple)) else [axes]))
    if name == "LayerNormalization" and axes != list(range(4 - len(axes), 4)):
        # Keras's torch backend hands non-trailing axes to F.layer_norm, which refuses
        # them; TensorFlow normalizes with the moments over the axes, as here.
        expected = _moments_reference(x, axes, layer.get_weights(), kwargs)
    else:
        expected = keras_call(k_layer, x)
    assert_close(layer(torch.from_numpy(x)), expected, atol=1e-5)
    assert layer.count_params() == k_layer.count_params()
    theirs = k_layer.get_config()
    for key, value in layer.get_config().items():
        if key not in ("name", "beta_initializer", "gamma_initializer"):
            assert (list(value) if isinstance(value, tuple) else value) == \
                (list(theirs[key]) if isinstance(theirs[key], tuple) else theirs[key]), key


def _moments_reference(x, axes, weights, kwargs):
    mean = x.mean(tuple(axes), keepdims=True)
    var = x.var(tuple(axes), keepdims=True)
    y = (x - mean) / np.sqrt(var + kwargs.get("epsilon", 1e-3))
    shape = [x.shape[a] if a in axes else 1 for a in range(x.ndim)]
    weights = list(weights)
    if kwargs.get("scale", True):
        y = y * weights.pop(0).reshape(shape)
    if kwargs.get("center", True):
        y = y + weights.pop(0).reshape(shape)
    return y


@pytest.mark.parametrize("rank, data_format", [(1, None), (2, "channels_last"),
                                               (2, "channels_first"), (3, "channels_last")])
def test_spatial_dropout_drops_whole_maps_in_training_only(rank, data_format):
    name = f"SpatialDropout{rank}D"
    kwargs = {} if data_format is None else {"data_format": data_format}
    layer = getattr(kconv.layers, name)(0.5, seed=3, **kwargs)
    shape = (4,) + (5,) * rank + (6,) if data_format != "channels_first" else \
        (4, 6) + (5,) * rank
    x = torch.ones(shape)
    assert torch.equal(layer.eval()(x), x)
    y = layer.train()(x)
    channel = 1 if data_format == "channels_first" else -1
    per_map = y.movedim(channel, 1).reshape(4, 6, -1)
    assert set(per_map.unique().tolist()) <= {0.0, 2.0}
    assert torch.equal(per_map.amin(-1), per_map.amax(-1))  # a map is dropped whole
    theirs = getattr(keras.layers, name)(0.5, seed=3, **kwargs).get_config()
    ours = layer.get_config()
    assert set(ours) - {"name", "trainable"} <= set(theirs)
    for key in set(ours) - {"name", "trainable"}:
        assert ours[key] == theirs[key], key


def test_gaussian_noise_in_training_only():
    layer = kconv.layers.GaussianNoise(0.5, seed=1)
    x = torch.zeros(20000)
    assert torch.equal(layer.eval()(x), x)
    noise = layer.train()(x)
    assert abs(noise.std().item() - 0.5) < 0.02 and abs(noise.mean().item()) < 0.02
    assert layer.get_config()["stddev"] == keras.layers.GaussianNoise(0.5).get_config()[
        "stddev"]
    with pytest.raises(ValueError, match="stddev"):
        kconv.layers.GaussianNoise(-1.0)


@pytest.mark.parametrize("kwargs", [{}, {"axis": (1, 3)}, {"axis": None}, {"invert": True},
                                    {"mean": [1.0, 2.0, 3.0, 4.0],
                                     "variance": [1.0, 4.0, 0.25, 9.0]},
                                    {"mean": 0.5, "variance": 2.0, "invert": True}])
def test_normalization_adapts_and_normalizes_as_keras(kwargs):
    x = np.random.default_rng(4).standard_normal((16, 5, 3, 4)).astype("float32") * 2 + 1
    ours = kconv.layers.Normalization(**kwargs)
    theirs = keras.layers.Normalization(**kwargs)
    if "mean" not in kwargs:
        ours.adapt(x)
        theirs.adapt(x)
        for a, b in zip(ours.get_weights()[:2], theirs.get_weights()[:2]):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert_close(ours(torch.from_numpy(x[:3])), keras_call(theirs, x[:3]), atol=1e-5)
    config = ours.get_config()
    assert config["invert"] == theirs.get_config()["invert"]


def test_normalization_weights_load_from_a_keras_file(tmp_path):
    layer = keras.layers.Normalization()
    x = np.random.default_rng(5).standard_normal((8, 6)).astype("float32") * 3
    layer.adapt(x)
    k_model = keras.Sequential([keras.Input((6,)), layer, keras.layers.Dense(2)])
    k_model.save(tmp_path / "m.keras")
    model = kconv.models.load_model(tmp_path / "m.keras")
    assert_close(model(torch.from_numpy(x)), keras.ops.convert_to_numpy(k_model(x)), atol=1e-5)


@pytest.mark.parametrize("kwargs", [
    {"rms_scaling": True}, {"rms_scaling": True, "axis": (1, 3), "center": False}])
def test_layer_normalization_rms_scaling_as_keras(kwargs):
    x = np.random.default_rng(1).standard_normal((2, 4, 3, 5)).astype("float32") * 2 + 1
    with pytest.warns(UserWarning, match="rms_scaling"):
        k_layer = keras.layers.LayerNormalization(gamma_initializer="random_normal", **kwargs)
    k_layer.build(x.shape)
    with pytest.warns(UserWarning, match="rms_scaling"):
        layer = kconv.layers.LayerNormalization(**kwargs)
    layer.build_for((None,) + x.shape[1:])
    assert [w.shape for w in layer.get_weights()] == [w.shape for w in k_layer.get_weights()]
    copy_from_keras(k_layer, layer)
    assert_close(layer(torch.from_numpy(x)), keras_call(k_layer, x), atol=1e-5)
    assert layer.get_config()["rms_scaling"] is True


def test_layer_normalization_configs_keras_writes_load(tmp_path):
    """Regression (#31): Keras 3.15 writes ``rms_scaling=False`` into every
    LayerNormalization config, which kconv refused."""
    k_model = keras.Sequential([keras.Input((5, 6)), keras.layers.LayerNormalization(
        beta_initializer="random_normal", gamma_initializer="random_normal"),
        keras.layers.LayerNormalization(axis=(1, 2), center=False)])
    assert k_model.layers[0].get_config()["rms_scaling"] is False
    k_model.save(tmp_path / "m.keras")
    model = kconv.models.load_model(tmp_path / "m.keras")
    x = np.random.default_rng(2).standard_normal((3, 5, 6)).astype("float32")
    assert_close(model(torch.from_numpy(x)), keras.ops.convert_to_numpy(k_model(x)), atol=1e-5)
    model.save(tmp_path / "ours.keras")
    again = keras.models.load_model(tmp_path / "ours.keras")
    assert_close(model(torch.from_numpy(x)), keras.ops.convert_to_numpy(again(x)), atol=1e-5)


def test_spatial_dropout_configs_open_in_keras(tmp_path):
    """Regression (fuzzer seed 8, #31): kconv wrote `trainable` into SpatialDropout
    configs, which Keras's SpatialDropout does not take, so Keras could not open the file."""
    model = kconv.Sequential([kconv.Input((5, 5, 2)), kconv.layers.SpatialDropout2D(0.0),
                              kconv.layers.Conv2D(2, 3)])
    model.save(tmp_path / "m.keras")
    again = keras.models.load_model(tmp_path / "m.keras")
    x = np.random.default_rng(0).standard_normal((2, 5, 5, 2)).astype("float32")
    assert_close(model.eval()(torch.from_numpy(x)), keras.ops.convert_to_numpy(again(x)))


def test_group_normalization_variance_does_not_cancel():
    """Regression (#31, fuzzer seed 35 of the first generator): a group whose mean dwarfs
    its spread lost three digits to E[x²] - E[x]² (torch's CPU group_norm, Keras's torch
    moments); TensorFlow's two-pass moments keep them."""
    x = (np.random.default_rng(5).standard_normal((4, 6, 5, 2)) * 0.01 - 0.5)
    layer = kconv.layers.GroupNormalization(groups=1, epsilon=1e-5, scale=False)
    y = layer(torch.from_numpy(x.astype("float32"))).detach().numpy()
    flat = x.reshape(4, -1)
    expected = ((flat - flat.mean(1, keepdims=True))
                / np.sqrt(flat.var(1, keepdims=True) + 1e-5)).reshape(x.shape)
    np.testing.assert_allclose(y, expected, atol=2e-5)
