"""RandomContrast, RandomBrightness and ContrastLimitedAdaptiveHistogramEqualization
against Keras: outputs on the same draws, Keras's distributions and factor semantics,
training-only and clipping, bad arguments (the configs of the first two are checked with
the other colour layers', in test_color_and_tone.py)."""

import keras
import numpy as np
import pytest
import scipy.stats
import torch

import kconv
from tests.keras_oracle import to_numpy

L = kconv.layers
X = np.random.default_rng(1).random((8, 5, 6, 3)).astype("float32") * 255


@pytest.mark.parametrize("name, kwargs, key", [
    ("RandomContrast", {"factor": 0.5}, "contrast_factor"),
    ("RandomContrast", {"factor": (0.3, 0.9), "value_range": (0, 1)}, "contrast_factor"),
    ("RandomBrightness", {"factor": 0.4}, "rgb_delta"),
    ("RandomBrightness", {"factor": (-0.6, 0.1), "value_range": (-1, 1)}, "rgb_delta"),
])
def test_outputs_on_the_same_draws_and_distributions_are_keras(name, kwargs, key):
    layer = getattr(L, name)(seed=2, **kwargs)
    k_layer = getattr(keras.layers, name)(seed=3, **kwargs)
    x = X / 255 if kwargs.get("value_range") == (0, 1) else X
    params = layer.sample(len(x), 5, 6, "cpu")
    ours = layer.apply(torch.from_numpy(x).movedim(-1, 1), params).movedim(1, -1).numpy()
    theirs = to_numpy(k_layer.transform_images(keras.ops.convert_to_tensor(x), {
        key: keras.ops.convert_to_tensor(params[key].numpy().reshape(-1, 1, 1, 1))}))
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-4)
    draws = np.concatenate([layer.sample(100, 5, 6, "cpu")[key].numpy() for _ in range(20)])
    k_draws = np.concatenate([to_numpy(k_layer.get_random_transformation(
        np.zeros((100, 5, 6, 3), "float32"), training=True)[key]).ravel() for _ in range(20)])
    assert scipy.stats.ks_2samp(draws, k_draws).pvalue > 1e-3
    assert k_draws.min() - 0.02 * np.ptp(k_draws) <= draws.min() and \
        draws.max() <= k_draws.max() + 0.02 * np.ptp(k_draws)


def test_contrast_reads_a_number_as_keras_3_does():
    """Keras 3 turns ``factor=f`` into the range [1, 1 + f]: contrast is only raised."""
    assert L.RandomContrast(0.5).factor == keras.layers.RandomContrast(0.5).factor == (0, 0.5)
    draws = L.RandomContrast(0.5, seed=0).sample(10_000, 2, 2, "cpu")["contrast_factor"]
    assert 1.0 <= float(draws.min()) and float(draws.max()) <= 1.5


@pytest.mark.parametrize("layer", [L.RandomContrast(0.4), L.RandomBrightness(0.3)],
                         ids=lambda layer: type(layer).__name__)
def test_training_only_and_clipped(layer):
    x = torch.from_numpy(X)
    layer.eval()
    assert torch.equal(layer(x), x)
    layer.train()
    y = layer(x)
    assert not torch.equal(y, x) and float(y.min()) >= 0 and float(y.max()) <= 255


@pytest.mark.parametrize("call, name", [
    (lambda: L.RandomContrast(1.5), "factor"),
    (lambda: L.RandomContrast(-0.1), "factor"),
    (lambda: L.RandomBrightness((0.1,)), "factor"),
    (lambda: L.RandomBrightness(0.1, value_range=5), "value_range"),
    (lambda: L.ContrastLimitedAdaptiveHistogramEqualization(tile_grid_size=(0, 2)),
     "tile_grid_size"),
    (lambda: L.ContrastLimitedAdaptiveHistogramEqualization(clip_limit="high"), "clip_limit"),
])
def test_bad_arguments_are_one_line(call, name):
    with pytest.raises((ValueError, TypeError)) as error:
        call()
    assert name in str(error.value) and "\n" not in str(error.value)


@pytest.fixture
def keras_one_hot_as_tensorflow(monkeypatch):
    """Keras's CLAHE on TensorFlow: its ``one_hot`` histograms are float32 there, integers
    on torch (where a fractional clip limit is truncated)."""
    import keras.src.backend.torch.nn as torch_nn
    one_hot = torch_nn.one_hot
    monkeypatch.setattr(torch_nn, "one_hot", lambda x, n, axis=-1, dtype=None, sparse=False:
                        one_hot(x, n, axis, dtype or "float32", sparse))


@pytest.mark.parametrize("size, grid, clip_limit, value_range, data_format", [
    ((16, 24), (4, 6), 4.0, (0, 255), "channels_last"),
    ((16, 16), (8, 8), 0.0, (0, 255), "channels_first"),
    ((12, 10), (3, 5), 2.0, (0, 1), "channels_last"),
    ((13, 11), (4, 3), 3.0, (-1, 1), "channels_first"),
    ((3, 5), (8, 8), 4.0, (0, 255), "channels_last")])
def test_clahe_is_keras_on_tensorflow(keras_one_hot_as_tensorflow, size, grid, clip_limit,
                                      value_range, data_format):
    """Equal to Keras's computation, as TensorFlow runs it: the histograms in float32, and
    images the grid does not divide extended symmetrically (Keras on torch repeats the
    edge): Keras is given the image kconv extends, and its output cropped."""
    (h, w), (grid_h, grid_w) = size, grid
    low, high = value_range
    x = np.random.default_rng(3).random((2, h, w, 3)).astype("float32") * (high - low) + low
    kwargs = dict(value_range=value_range, clip_limit=clip_limit, tile_grid_size=grid)
    padded = np.pad(x, [(0, 0), (0, -h % grid_h), (0, -w % grid_w), (0, 0)], "symmetric")
    theirs = to_numpy(keras.layers.ContrastLimitedAdaptiveHistogramEqualization(**kwargs)(
        padded))[:, :h, :w]
    layer = L.ContrastLimitedAdaptiveHistogramEqualization(**kwargs, data_format=data_format)
    layer.eval()  # deterministic: it acts in inference too, as Keras's
    inputs = torch.from_numpy(x if data_format == "channels_last" else x.transpose(0, 3, 1, 2))
    ours = layer(inputs).numpy()
    ours = ours if data_format == "channels_last" else ours.transpose(0, 2, 3, 1)
    np.testing.assert_allclose(ours, theirs, atol=1e-4 * (high - low))
    np.testing.assert_allclose(layer(inputs[0]).numpy(), layer(inputs)[0].numpy())


def test_clahe_on_torch_keras_where_the_backends_agree():
    """Where the clip limit is a whole number of pixels and the grid divides the image,
    Keras on torch computes the same as on TensorFlow: kconv equals it as it is."""
    x = np.random.default_rng(4).random((2, 16, 32, 1)).astype("float32") * 255
    for clip_limit in (4.0, 8.0, 0.0):
        kwargs = dict(clip_limit=clip_limit, tile_grid_size=(2, 4))  # 8x8 tiles: 64 pixels
        theirs = to_numpy(keras.layers.ContrastLimitedAdaptiveHistogramEqualization(
            **kwargs)(x))
        ours = L.ContrastLimitedAdaptiveHistogramEqualization(**kwargs)(torch.from_numpy(x))
        np.testing.assert_allclose(ours.numpy(), theirs, atol=1e-3)


def test_clahe_config_opens_both_ways():
    from kconv.models.deserialization import layer_from_config
    layer = L.ContrastLimitedAdaptiveHistogramEqualization((0, 1), 2.5, (4, 2),
                                                           "channels_first")
    k_layer = keras.layers.deserialize({
        "module": "keras.layers", "class_name": type(layer).__name__,
        "config": layer.get_config()})
    assert (k_layer.clip_limit, tuple(k_layer.tile_grid_size), k_layer.data_format) == \
        (2.5, (4, 2), "channels_first")
    again = layer_from_config({"class_name": type(layer).__name__,
                               "config": k_layer.get_config()}, 0)
    assert again.get_config() == layer.get_config()
