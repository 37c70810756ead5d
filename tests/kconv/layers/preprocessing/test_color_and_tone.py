"""RandomInvert, Solarization, RandomPosterization, RandomSharpness, AutoContrast,
RandomGrayscale, RandomColorDegeneration, RandomSaturation, RandomHue and RandomColorJitter
against Keras: outputs on the same draws, Keras's distributions, training-only, configs both
ways, bad arguments."""

import keras
import numpy as np
import pytest
import scipy.stats
import torch

import kconv
from tests.keras_oracle import assert_config_round_trip, to_numpy

L = kconv.layers
RGB = np.random.default_rng(3).random((6, 5, 7, 3)).astype("float32") * 255


def per_image(shape):
    return lambda value: keras.ops.convert_to_tensor(value.numpy().reshape(shape))


# name, arguments, {key: how Keras's transformation holds it}, the Keras draw's key
LAYERS = [
    ("RandomInvert", {"factor": 0.6}, {"apply_inversion": per_image((-1,))}),
    ("Solarization", {"addition_factor": (0.1, 0.3), "threshold_factor": 0.6},
     {"additions": per_image((-1, 1, 1, 1)), "thresholds": per_image((-1, 1, 1, 1))}),
    ("RandomPosterization", {"factor": (2, 6)}, {"shift_factor": per_image((-1,))}),
    ("RandomSharpness", {"factor": (0.1, 0.9)}, {"factor": per_image((-1,))}),
    ("RandomColorDegeneration", {"factor": 0.7}, {"factor": per_image((-1, 1, 1, 1))}),
    ("RandomSaturation", {"factor": (0.2, 0.8)}, {"factor": per_image((-1,))}),
    ("RandomHue", {"factor": 0.8}, {"factor": per_image((-1,))}),
    ("RandomHue", {"factor": 0.5, "value_range": (0, 1)}, {"factor": per_image((-1,))}),
    ("RandomGrayscale", {"factor": 0.5}, None),
    ("RandomGaussianBlur", {"factor": 0.7, "kernel_size": 5, "sigma": (0.3, 0.9)},
     {"should_apply_blur": per_image((-1,)), "blur_factor": per_image((-1,))}),
]


def _images(kwargs, data_format):
    x = RGB / 255 if kwargs.get("value_range") == (0, 1) else RGB
    return x if data_format == "channels_last" else x.transpose(0, 3, 1, 2).copy()


@pytest.mark.parametrize("name, kwargs, keys", LAYERS)
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_outputs_on_the_same_draws_are_keras(name, kwargs, keys, data_format):
    layer = getattr(L, name)(seed=1, data_format=data_format, **kwargs)
    k_layer = getattr(keras.layers, name)(data_format=data_format, **kwargs)
    x = _images(kwargs, data_format)
    images = torch.from_numpy(x if data_format == "channels_first" else x.transpose(0, 3, 1, 2))
    params = layer.sample(len(x), 5, 7, "cpu")
    ours = layer.apply(images, params)
    ours = (ours if data_format == "channels_first" else ours.permute(0, 2, 3, 1)).numpy()
    transformation = keras.ops.convert_to_tensor(params["should_apply"].numpy().reshape(
        -1, 1, 1, 1)) if keys is None else {key: convert(params[key])
                                            for key, convert in keys.items()}
    theirs = to_numpy(k_layer.transform_images(keras.ops.convert_to_tensor(x), transformation,
                                               training=True))
    scale = 1.0 if kwargs.get("value_range") == (0, 1) else 255.0
    np.testing.assert_allclose(ours, theirs, atol=2e-4 * scale, rtol=1e-5)


@pytest.mark.parametrize("name, kwargs, keys", [c for c in LAYERS if c[2]])
def test_draws_follow_keras_distributions(name, kwargs, keys):
    layer = getattr(L, name)(seed=2, **kwargs)
    k_layer = getattr(keras.layers, name)(seed=3, **kwargs)
    x = np.zeros((200, 5, 7, 3), "float32")
    for key in keys:
        ours = np.concatenate([layer.sample(200, 5, 7, "cpu")[key].numpy().ravel()
                               for _ in range(10)]).astype("float64")
        theirs = np.concatenate([to_numpy(k_layer.get_random_transformation(
            x, training=True)[key]).ravel() for _ in range(10)]).astype("float64")
        if np.ptp(theirs) == 0 or len(np.unique(theirs)) < 10:  # discrete draws
            values = np.union1d(np.unique(ours), np.unique(theirs))
            assert set(np.unique(ours)) == set(np.unique(theirs)), (key, values)
            counts = [[(a == v).sum() for v in values] for a in (ours, theirs)]
            assert scipy.stats.chi2_contingency(counts).pvalue > 1e-3
        else:
            assert scipy.stats.ks_2samp(ours, theirs).pvalue > 1e-3, key


def test_grayscale_applies_with_probability_factor_and_gives_grey_images():
    layer = L.RandomGrayscale(0.3, seed=4)
    applied = layer.sample(20_000, 2, 2, "cpu")["should_apply"].numpy()
    assert abs(applied.mean() - 0.3) < 0.015
    grey = layer.apply(torch.from_numpy(RGB).permute(0, 3, 1, 2), {
        "should_apply": torch.ones(len(RGB), dtype=torch.bool)})
    assert torch.allclose(grey[:, 0], grey[:, 1]) and torch.allclose(grey[:, 1], grey[:, 2])


@pytest.mark.parametrize("value_range", [(0, 255), (0, 1)])
def test_auto_contrast_equals_keras_in_training_and_inference(value_range):
    x = RGB / 255 * 0.5 + 0.1 if value_range == (0, 1) else RGB * 0.5 + 20
    x[0, :, :, 1] = x[0, 0, 0, 1]  # a constant channel stays as it is
    expected = to_numpy(keras.layers.AutoContrast(value_range=value_range)(x))
    layer = L.AutoContrast(value_range=value_range)
    for mode in (True, False):
        layer.train(mode)
        np.testing.assert_allclose(layer(torch.from_numpy(x)).numpy(), expected, atol=1e-3)


def test_auto_contrast_stretches_each_channel_in_channels_first_too():
    """Keras 3.15 takes the extrema over axes (1, 2) whatever the data format: channel and
    height in channels_first. kconv takes them over height and width in both formats."""
    layer = L.AutoContrast(data_format="channels_first")
    x = np.ascontiguousarray(RGB.transpose(0, 3, 1, 2) * 0.5 + 20)
    expected = to_numpy(keras.layers.AutoContrast()(RGB * 0.5 + 20)).transpose(0, 3, 1, 2)
    np.testing.assert_allclose(layer(torch.from_numpy(x)).numpy(), expected, atol=1e-3)


def test_color_jitter_chains_its_parts_and_acts_in_training_only():
    jitter = L.RandomColorJitter(brightness_factor=0.2, contrast_factor=0.3,
                                 saturation_factor=(0.2, 0.6), hue_factor=0.1, seed=5)
    assert [type(part).__name__ for part in jitter.parts] == [
        "RandomBrightness", "RandomContrast", "RandomSaturation", "RandomHue"]
    images = torch.from_numpy(RGB).permute(0, 3, 1, 2)
    params = jitter.sample(len(RGB), 5, 7, "cpu")
    expected = images
    for part, part_params in zip(jitter.parts, params):
        expected = part.apply(expected, part_params)
    assert torch.equal(jitter.apply(images, params), expected)
    x = torch.from_numpy(RGB)
    jitter.eval()
    assert torch.equal(jitter(x), x)
    jitter.train()
    y = jitter(x)
    assert not torch.equal(y, x) and float(y.min()) >= 0 and float(y.max()) <= 255
    only = L.RandomColorJitter(contrast_factor=0.3)
    assert [type(part).__name__ for part in only.parts] == ["RandomContrast"]


@pytest.mark.parametrize("name, kwargs", [(c[0], c[1]) for c in LAYERS] + [
    ("AutoContrast", {"value_range": (0, 1)}), ("RandomContrast", {"factor": 0.3}),
    ("RandomBrightness", {"factor": (-0.2, 0.4), "value_range": (0, 1)}),
    ("RandomColorJitter", {"brightness_factor": 0.2, "hue_factor": (0.1, 0.3), "seed": 4})])
def test_random_in_training_only_and_configs_open_both_ways(name, kwargs):
    layer = getattr(L, name)(**kwargs)
    x = torch.from_numpy(RGB / 255 if kwargs.get("value_range") == (0, 1) else RGB)
    if name != "AutoContrast":
        layer.eval()
        assert torch.equal(layer(x), x)
    assert_config_round_trip(layer)


@pytest.mark.parametrize("call, name", [
    (lambda: L.RandomInvert(1.5), "factor"),
    (lambda: L.Solarization(addition_factor=2.0), "addition_factor"),
    (lambda: L.Solarization(threshold_factor=(0.1, 0.2, 0.3)), "threshold_factor"),
    (lambda: L.RandomPosterization(9), "factor"),
    (lambda: L.RandomPosterization(2.5), "factor"),
    (lambda: L.RandomSharpness(-0.5), "factor"),
    (lambda: L.AutoContrast(value_range=3), "value_range"),
    (lambda: L.RandomGrayscale(2.0), "factor"),
    (lambda: L.RandomHue(-0.2), "factor"),
    (lambda: L.RandomSaturation("much"), "factor"),
    (lambda: L.RandomColorDegeneration(0.3)(torch.ones(1, 4, 4, 2)), "RGB"),
    (lambda: L.RandomGaussianBlur(kernel_size=4), "kernel_size"),
    (lambda: L.RandomGaussianBlur(sigma=2.0), "sigma"),
])
def test_bad_arguments_are_one_line(call, name):
    with pytest.raises((ValueError, TypeError)) as error:
        call()
    assert name in str(error.value) and "\n" not in str(error.value)
