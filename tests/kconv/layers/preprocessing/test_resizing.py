"""Resizing, CenterCrop and RandomCrop against Keras: every interpolation, aspect-ratio
crop and pad, both data formats, integer images; random crops at Keras's offsets; configs
both ways; bad arguments."""

import keras
import numpy as np
import pytest
import torch

import kconv
from tests.keras_oracle import to_numpy

L = kconv.layers


def images(shape=(3, 7, 10, 2), dtype="float32", channels_first=False):
    x = (np.random.default_rng(2).random(shape) * 255).astype(dtype)
    return x.transpose(0, 3, 1, 2).copy() if channels_first else x


def run(layer, x, training=False):
    layer.train(training)
    return layer(torch.from_numpy(x)).numpy()


@pytest.mark.parametrize("interpolation", ["bilinear", "nearest", "bicubic"])
@pytest.mark.parametrize("aspect", [{}, {"crop_to_aspect_ratio": True},
                                    {"pad_to_aspect_ratio": True, "fill_value": 3.0}])
@pytest.mark.parametrize("size", [(5, 4), (12, 9), (7, 10)])
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_resizing_equals_keras(interpolation, aspect, size, data_format):
    kwargs = dict(interpolation=interpolation, data_format=data_format, **aspect)
    x = images(channels_first=data_format == "channels_first")
    expected = to_numpy(keras.layers.Resizing(*size, **kwargs)(x))
    np.testing.assert_allclose(run(L.Resizing(*size, **kwargs), x), expected, atol=1e-3)
    np.testing.assert_allclose(run(L.Resizing(*size, **kwargs), x, training=True), expected,
                               atol=1e-3)


def test_resizing_antialias_and_integer_images_as_keras():
    x = images(dtype="uint8")
    for kwargs in ({}, {"antialias": True}, {"interpolation": "bicubic"}):
        ours = run(L.Resizing(4, 5, **kwargs), x)
        theirs = to_numpy(keras.layers.Resizing(4, 5, **kwargs)(x))
        assert ours.dtype == theirs.dtype == np.uint8
        assert np.abs(ours.astype(int) - theirs.astype(int)).max() <= 1


@pytest.mark.parametrize("size", [(5, 6), (7, 10), (9, 4), (10, 12)])
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_center_crop_equals_keras(size, data_format):
    x = images(channels_first=data_format == "channels_first")
    expected = to_numpy(keras.layers.CenterCrop(*size, data_format=data_format)(x))
    np.testing.assert_allclose(run(L.CenterCrop(*size, data_format=data_format), x),
                               expected, atol=1e-3)


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_random_crop_at_keras_offsets_and_smart_resize_otherwise(data_format):
    x = images(channels_first=data_format == "channels_first")
    layer = L.RandomCrop(4, 6, seed=3, data_format=data_format)
    k_layer = keras.layers.RandomCrop(4, 6, data_format=data_format)
    cf = torch.from_numpy(x if data_format == "channels_first" else x.transpose(0, 3, 1, 2))
    offsets = {layer.sample(len(x), 7, 10, "cpu") for _ in range(300)}
    assert offsets == {(top, left) for top in range(4) for left in range(5)}  # uniform cover
    for top, left in sorted(offsets)[::7]:
        ours = layer.apply(cf, (top, left))
        ours = ours if data_format == "channels_first" else ours.permute(0, 2, 3, 1)
        theirs = to_numpy(k_layer.transform_images(x, (top, left), training=True))
        np.testing.assert_array_equal(ours.numpy(), theirs)
    # Inference: the largest centred window of the target's aspect ratio, resized, as
    # Keras documents it (Keras 3.15 on torch returns its input unchanged instead).
    smart = to_numpy(keras.preprocessing.image.smart_resize(
        x, (4, 6), data_format=data_format))
    np.testing.assert_allclose(run(layer, x), smart, atol=1e-3)
    small = L.RandomCrop(12, 14, data_format=data_format)
    assert run(small, x, training=True).shape == run(small, x).shape
    np.testing.assert_allclose(run(small, x, training=True), to_numpy(
        keras.preprocessing.image.smart_resize(x, (12, 14), data_format=data_format)),
        atol=1e-3)


def test_random_crop_output_shape_in_a_model_and_one_image():
    inputs = kconv.Input((7, 10, 2))
    model = kconv.Model(inputs, L.Flatten()(L.RandomCrop(4, 6)(inputs)))
    assert model.output_shape == (None, 48)
    assert model.predict(images(), verbose=0).shape == (3, 48)
    layer = L.RandomCrop(4, 6, seed=1)
    assert layer(torch.from_numpy(images()[0])).shape == (4, 6, 2)


@pytest.mark.parametrize("layer", [
    L.Resizing(5, 6, interpolation="nearest", pad_to_aspect_ratio=True, fill_value=1.0),
    L.CenterCrop(4, 4, data_format="channels_first"), L.RandomCrop(3, 5, seed=7)],
    ids=lambda layer: type(layer).__name__)
def test_configs_open_both_ways(layer):
    k_layer = keras.layers.deserialize({"module": "keras.layers",
                                        "class_name": type(layer).__name__,
                                        "config": layer.get_config()})
    theirs = {k: v for k, v in k_layer.get_config().items() if k != "dtype"}
    assert theirs == layer.get_config()
    from kconv.models.deserialization import layer_from_config
    assert layer_from_config({"class_name": type(layer).__name__,
                              "config": k_layer.get_config()}, 0).get_config() == theirs


@pytest.mark.parametrize("call, name", [
    (lambda: L.Resizing(0, 4), "height"),
    (lambda: L.Resizing(4, 4, interpolation="lanczos3"), "interpolation"),
    (lambda: L.Resizing(4, 4, crop_to_aspect_ratio=True, pad_to_aspect_ratio=True),
     "pad_to_aspect_ratio"),
    (lambda: L.Resizing(4, 4, fill_mode="reflect"), "fill_mode"),
    (lambda: L.CenterCrop(4, "4"), "width"),
    (lambda: L.RandomCrop(-1, 4), "height"),
])
def test_bad_arguments_are_one_line(call, name):
    with pytest.raises((ValueError, TypeError)) as error:
        call()
    assert name in str(error.value) and "\n" not in str(error.value)
