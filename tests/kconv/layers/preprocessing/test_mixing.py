"""RandomErasing, CutMix, MixUp and Equalization against Keras: outputs on the same draws,
Keras's distributions (box areas, weights, probabilities), training-only, configs both
ways, bad arguments."""

import keras
import numpy as np
import pytest
import scipy.stats
import torch

import kconv
from tests.keras_oracle import assert_config_round_trip, to_numpy

L = kconv.layers
X = np.random.default_rng(5).random((8, 9, 11, 3)).astype("float32") * 255


def keras_layout(masks, data_format, channels=3):
    masks = masks.expand(-1, channels, -1, -1)
    return keras.ops.convert_to_tensor((masks if data_format == "channels_first"
                                        else masks.permute(0, 2, 3, 1)).numpy())


def run_both(layer, k_layer, data_format, convert):
    x = X if data_format == "channels_last" else np.ascontiguousarray(X.transpose(0, 3, 1, 2))
    images = torch.from_numpy(x if data_format == "channels_first" else X.transpose(0, 3, 1, 2))
    params = layer.sample(len(X), 9, 11, "cpu")
    params, transformation = convert(params, images)
    ours = layer.apply(images, params)
    ours = (ours if data_format == "channels_first" else ours.permute(0, 2, 3, 1)).numpy()
    theirs = to_numpy(k_layer.transform_images(keras.ops.convert_to_tensor(x), transformation,
                                               training=True))
    return ours, theirs


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("fill_value", [None, 40.0])
def test_erasing_on_the_same_draws_is_keras(data_format, fill_value):
    layer = L.RandomErasing(0.8, seed=1, fill_value=fill_value, data_format=data_format)
    k_layer = keras.layers.RandomErasing(0.8, fill_value=fill_value, data_format=data_format)

    def convert(params, images):
        noise = torch.randn(images.shape) * 255  # the same noise for both
        params = {**params, "fill_value": noise}
        return params, {"batch_masks": keras_layout(params["batch_masks"], data_format),
                        "apply_erasing": keras.ops.convert_to_tensor(
                            params["apply_erasing"].numpy()),
                        "fill_value": keras.ops.clip(keras.ops.convert_to_tensor(
                            (noise if data_format == "channels_first"
                             else noise.permute(0, 2, 3, 1)).numpy()), 0, 255)}
    ours, theirs = run_both(layer, k_layer, data_format, convert)
    np.testing.assert_allclose(ours, theirs, atol=1e-4)


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_cut_mix_and_mix_up_on_the_same_draws_are_keras(data_format):
    def convert_cut(params, images):
        return params, {"batch_masks": keras_layout(params["batch_masks"], data_format),
                        "permutation_order": keras.ops.convert_to_tensor(
                            params["permutation_order"].numpy())}
    ours, theirs = run_both(L.CutMix(seed=2, data_format=data_format),
                            keras.layers.CutMix(data_format=data_format), data_format,
                            convert_cut)
    np.testing.assert_array_equal(ours, theirs)

    def convert_mix(params, images):
        return params, {key: keras.ops.convert_to_tensor(value.numpy())
                        for key, value in params.items()}
    ours, theirs = run_both(L.MixUp(0.4, seed=3, data_format=data_format),
                            keras.layers.MixUp(0.4, data_format=data_format), data_format,
                            convert_mix)
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-3)


def _areas(masks):
    return masks.reshape(len(masks), -1).mean(axis=1)


@pytest.mark.parametrize("name, kwargs", [
    ("RandomErasing", {"factor": 1.0, "scale": (0.1, 0.6)}), ("CutMix", {"factor": 0.7})])
def test_box_areas_follow_keras(name, kwargs):
    layer = getattr(L, name)(seed=4, **kwargs)
    k_layer = getattr(keras.layers, name)(seed=5, **kwargs)
    x = np.zeros((100, 9, 11, 1), "float32")
    ours = np.concatenate([_areas(layer.sample(100, 9, 11, "cpu")["batch_masks"].numpy())
                           for _ in range(10)])
    theirs = np.concatenate([_areas(to_numpy(k_layer.get_random_transformation(
        x, training=True)["batch_masks"])) for _ in range(10)])
    assert scipy.stats.ks_2samp(ours, theirs).pvalue > 1e-3


def test_mix_weights_and_erasing_probability_follow_keras():
    ours = np.concatenate([L.MixUp(0.3, seed=6).sample(200, 2, 2, "cpu")["mix_weight"].numpy()
                           for _ in range(5)])
    k_layer = keras.layers.MixUp(0.3, seed=7)
    theirs = np.concatenate([to_numpy(k_layer.get_random_transformation(
        np.zeros((200, 2, 2, 1), "float32"))["mix_weight"]) for _ in range(5)])
    assert scipy.stats.ks_2samp(ours, theirs).pvalue > 1e-3
    applied = L.RandomErasing((0.2, 0.6), seed=8).sample(20_000, 4, 4, "cpu")["apply_erasing"]
    assert abs(float(applied.float().mean()) - 0.4) < 0.015  # E[U(0.2, 0.6)]


@pytest.mark.parametrize("value_range, bins", [((0, 255), 256), ((0, 1), 16), ((-1, 1), 64)])
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_equalization_equals_keras_in_training_and_is_identity_otherwise(
        value_range, bins, data_format):
    x = (X / 255) ** 2 * (value_range[1] - value_range[0]) + value_range[0]
    x = x if data_format == "channels_last" else np.ascontiguousarray(x.transpose(0, 3, 1, 2))
    k_layer = keras.layers.Equalization(value_range=value_range, bins=bins,
                                        data_format=data_format)
    layer = L.Equalization(value_range=value_range, bins=bins, data_format=data_format)
    np.testing.assert_allclose(layer(torch.from_numpy(x)).numpy(),
                               to_numpy(k_layer(x, training=True)), atol=1e-5)
    layer.eval()
    assert torch.equal(layer(torch.from_numpy(x)), torch.from_numpy(x))


@pytest.mark.parametrize("layer", [
    L.RandomErasing(0.5, scale=(0.1, 0.2), fill_value=(1.0, 2.0, 3.0), value_range=(0, 1),
                    seed=1), L.CutMix(0.4, seed=2), L.MixUp(0.5),
    L.Equalization((0, 1), bins=32)], ids=lambda layer: type(layer).__name__)
def test_training_only_and_configs_open_both_ways(layer):
    x = torch.from_numpy(X / 255)
    layer.eval()
    assert torch.equal(layer(x), x)
    assert_config_round_trip(layer)


@pytest.mark.parametrize("call, name", [
    (lambda: L.RandomErasing(1.5), "factor"),
    (lambda: L.RandomErasing(scale=(0.1, 2.0)), "scale"),
    (lambda: L.RandomErasing(fill_value=(1, 2)), "fill_value"),
    (lambda: L.CutMix(-0.5), "factor"),
    (lambda: L.MixUp(0.0), "alpha"),
    (lambda: L.Equalization(bins=1), "bins"),
])
def test_bad_arguments_are_one_line(call, name):
    with pytest.raises((ValueError, TypeError)) as error:
        call()
    assert name in str(error.value) and "\n" not in str(error.value)
