"""The geometric layers (flip, rotation, translation, zoom, shear, perspective, elastic
transform) against Keras: given the same drawn transform the outputs are Keras's (every
fill mode and interpolation, both data formats); the draws follow Keras's distributions;
training-only; seeds; configs."""

import keras
import numpy as np
import pytest
import scipy.stats
import torch

import kconv
from tests.keras_oracle import to_numpy

L = kconv.layers


def images(data_format="channels_last", n=6, h=7, w=9, c=2):
    x = np.random.default_rng(0).random((n, h, w, c)).astype("float32") * 255
    return x if data_format == "channels_last" else x.transpose(0, 3, 1, 2).copy()


def ours_and_keras(layer, k_layer, x, to_keras):
    """kconv's output on a drawn transform, and Keras's on the same transform."""
    images_cf = torch.from_numpy(x if layer.data_format == "channels_first"
                                 else x.transpose(0, 3, 1, 2).copy())
    params = layer.sample(x.shape[0], *images_cf.shape[2:], "cpu")
    ours = layer.apply(images_cf, params).numpy()
    if layer.data_format == "channels_last":
        ours = ours.transpose(0, 2, 3, 1)
    theirs = to_numpy(k_layer.transform_images(keras.ops.convert_to_tensor(x),
                                               to_keras(params, images_cf.shape),
                                               training=True))
    return ours, theirs


def rotation_to_keras(k_layer):
    def convert(params, shape):
        angles = keras.ops.convert_to_tensor(params["angles"].numpy())
        n = shape[0]
        zeros, ones = keras.ops.zeros((n,)), keras.ops.ones((n,))
        return {"rotation_matrix": k_layer._compute_affine_matrix(
            center_x=0.5, center_y=0.5, angle=angles, translate_x=zeros, translate_y=zeros,
            scale=ones, shear_x=zeros, shear_y=zeros, height=shape[2], width=shape[3])}
    return convert


CASES = [(fill, interpolation, data_format)
         for fill in ("reflect", "wrap", "constant", "nearest")
         for interpolation in ("bilinear", "nearest")
         for data_format in ("channels_last", "channels_first")]


@pytest.mark.parametrize("fill_mode, interpolation, data_format", CASES)
def test_rotation_translation_zoom_resample_as_keras(fill_mode, interpolation, data_format):
    kwargs = dict(fill_mode=fill_mode, interpolation=interpolation, fill_value=7.0,
                  data_format=data_format, seed=3)
    x = images(data_format)
    for make, to_keras in (
            (lambda lib: lib.layers.RandomRotation(0.4, **kwargs), None),
            (lambda lib: lib.layers.RandomTranslation(0.6, (-0.3, 0.9), **kwargs),
             lambda p, s: {"translations": keras.ops.convert_to_tensor(
                 p["translations"].numpy())}),
            (lambda lib: lib.layers.RandomShear(0.3, (0.1, 0.5), **kwargs),
             lambda p, s: {"shear_factor": keras.ops.convert_to_tensor(
                 p["shear_factor"].numpy())}),
            (lambda lib: lib.layers.RandomZoom((-0.5, 0.7), (-0.4, 0.3), **kwargs),
             lambda p, s: {"width_zoom": keras.ops.convert_to_tensor(p["zooms"][:, :1].numpy()),
                           "height_zoom": keras.ops.convert_to_tensor(
                               p["zooms"][:, 1:].numpy())})):
        layer, k_layer = make(kconv), make(keras)
        ours, theirs = ours_and_keras(layer, k_layer, x, to_keras or rotation_to_keras(k_layer))
        if interpolation == "bilinear":
            np.testing.assert_allclose(ours, theirs, atol=1e-3, rtol=1e-5)
        else:  # a point on a pixel boundary may round the other way on another CPU
            close = np.isclose(ours, theirs, atol=1e-3, rtol=1e-5)
            assert close.mean() > 0.995, (type(layer).__name__, np.abs(ours - theirs).max())


@pytest.mark.parametrize("mode", ["horizontal", "vertical", "horizontal_and_vertical"])
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_flip_as_keras(mode, data_format):
    layer = L.RandomFlip(mode, seed=1, data_format=data_format)
    k_layer = keras.layers.RandomFlip(mode, data_format=data_format)
    x = images(data_format)
    ours, theirs = ours_and_keras(layer, k_layer, x, lambda p, s: {
        "flips": keras.ops.convert_to_tensor(p["flips"].numpy().reshape(-1, 1, 1, 1))})
    np.testing.assert_array_equal(ours, theirs)


def keras_draws(k_layer, key, x, rounds=40):
    return np.concatenate([to_numpy(k_layer.get_random_transformation(x, training=True)[key])
                           .reshape(x.shape[0], -1) for _ in range(rounds)])


def our_draws(layer, key, x, rounds=40):
    return np.concatenate([layer.sample(x.shape[0], x.shape[1], x.shape[2], "cpu")[key]
                           .numpy().reshape(x.shape[0], -1) for _ in range(rounds)])


@pytest.mark.parametrize("name, args, key, ours_key", [
    ("RandomRotation", (0.2,), "angle", "angles"),
    ("RandomRotation", ((-0.1, 0.3),), "angle", "angles"),
    ("RandomTranslation", (0.3, (-0.2, 0.5)), "translations", "translations"),
    ("RandomZoom", ((-0.3, 0.2),), "height_zoom", "zooms"),
    ("RandomZoom", (0.2, (-0.5, 0.1)), "width_zoom", "zooms"),
    ("RandomShear", (0.4, (0.1, 0.6)), "shear_factor", "shear_factor"),
])
def test_draws_follow_keras_distributions(name, args, key, ours_key):
    x = images(n=50)
    theirs = keras_draws(getattr(keras.layers, name)(*args, seed=5), key, x)
    ours = our_draws(getattr(L, name)(*args, seed=5), ours_key, x)
    if name == "RandomZoom":  # ours holds (width, height) zooms
        ours = ours[:, :1] if key == "width_zoom" else ours[:, 1:]
    for column in range(theirs.shape[1]):
        a, b = ours[:, column], theirs[:, column]
        assert scipy.stats.ks_2samp(a, b).pvalue > 1e-3, (name, column)
        assert a.min() >= b.min() - 0.05 * np.ptp(b) and a.max() <= b.max() + 0.05 * np.ptp(b)


def test_flip_draws_half_and_zoom_without_width_keeps_aspect():
    x = images(n=2000)
    flips = L.RandomFlip(seed=2).sample(2000, 7, 9, "cpu")["flips"].numpy()
    assert abs(flips.mean() - 0.5) < 0.04
    zooms = L.RandomZoom(0.3, seed=2).sample(x.shape[0], 7, 9, "cpu")["zooms"].numpy()
    np.testing.assert_array_equal(zooms[:, 0], zooms[:, 1])


@pytest.mark.parametrize("layer", [
    L.RandomFlip(), L.RandomRotation(0.2), L.RandomTranslation(0.2, 0.2), L.RandomZoom(0.3),
    L.RandomShear(0.3, 0.2)],
    ids=lambda layer: type(layer).__name__)
def test_random_only_in_training_and_seeded(layer):
    x = torch.from_numpy(images())
    layer.eval()
    assert torch.equal(layer(x), x)
    layer.train()
    assert not torch.equal(layer(x), x)
    twins = [type(layer).from_config({**layer.get_config(), "seed": 11}) for _ in range(2)]
    assert torch.equal(twins[0](x), twins[1](x))
    assert twins[0](x[0]).shape == x[0].shape  # one image (rank 3) as well


@pytest.mark.parametrize("layer", [
    L.RandomFlip("vertical", seed=4, data_format="channels_first"),
    L.RandomRotation((-0.2, 0.1), fill_mode="constant", interpolation="nearest", seed=1,
                     fill_value=2.0),
    L.RandomTranslation((-0.1, 0.2), 0.3, fill_mode="wrap"),
    L.RandomZoom(0.2, (-0.3, 0.1), fill_mode="nearest"),
    L.RandomShear((0.1, 0.3), (0.0, 0.2), fill_mode="constant", seed=2),
    L.RandomPerspective(0.5, scale=0.3, interpolation="nearest", fill_value=1.0),
    L.RandomElasticTransform((0.2, 0.7), 0.4, "nearest", "mirror", 2.0, (0, 1), seed=2)],
    ids=lambda layer: type(layer).__name__)
def test_configs_open_both_ways(layer):
    config = layer.get_config()
    k_layer = keras.layers.deserialize({"module": "keras.layers",
                                        "class_name": type(layer).__name__, "config": config})
    theirs = {k: list(v) if isinstance(v, tuple) else v for k, v in k_layer.get_config().items()
              if k != "dtype"}
    assert theirs == {k: list(v) if isinstance(v, tuple) else v for k, v in config.items()}
    from kconv.models.deserialization import layer_from_config
    again = layer_from_config({"class_name": type(layer).__name__,
                               "config": k_layer.get_config()}, 0)
    assert again.get_config() == config


@pytest.mark.parametrize("call, name", [
    (lambda: L.RandomFlip("sideways"), "mode"),
    (lambda: L.RandomRotation(1.5), "factor"),
    (lambda: L.RandomRotation((0.1, 0.2, 0.3)), "factor"),
    (lambda: L.RandomRotation(0.1, fill_mode="mirror"), "fill_mode"),
    (lambda: L.RandomZoom(-1.0), "height_factor"),
    (lambda: L.RandomZoom(0.1, width_factor="x"), "width_factor"),
    (lambda: L.RandomTranslation(0.1, 2), "width_factor"),
    (lambda: L.RandomTranslation(0.1, 0.1, interpolation="bicubic"), "interpolation"),
    (lambda: L.RandomFlip(data_format="nhwc"), "data_format"),
    (lambda: L.RandomShear(x_factor=-0.2), "x_factor"),
    (lambda: L.RandomFlip(seed="x"), "seed"),
    (lambda: L.RandomFlip()(torch.ones(2, 3)), "rank"),
    (lambda: L.RandomElasticTransform(scale=1.5), "scale"),
    (lambda: L.RandomElasticTransform(fill_mode="edge"), "fill_mode"),
    (lambda: L.RandomElasticTransform(value_range=3), "value_range"),
])
def test_bad_arguments_are_one_line(call, name):
    with pytest.raises((ValueError, TypeError)) as error:
        call()
    message = str(error.value)
    assert name in message and "\n" not in message, message


@pytest.mark.parametrize("interpolation", ["bilinear", "nearest"])
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_perspective_warps_as_keras(interpolation, data_format):
    layer = L.RandomPerspective(0.8, scale=0.6, interpolation=interpolation, fill_value=3.0,
                                seed=2, data_format=data_format)
    k_layer = keras.layers.RandomPerspective(0.8, scale=0.6, interpolation=interpolation,
                                             fill_value=3.0, data_format=data_format)
    x = images(data_format)
    ours, theirs = ours_and_keras(layer, k_layer, x, lambda p, s: {
        key: keras.ops.convert_to_tensor(value.numpy()) for key, value in p.items()})
    close = np.isclose(ours, theirs, atol=1e-2, rtol=1e-4)
    assert close.mean() > 0.995, np.abs(ours - theirs).max()
    shifts = [layer.sample(200, 7, 9, "cpu") for _ in range(5)]
    ours = np.concatenate([(p["end_points"] / p["start_points"].clamp(min=1) - 1).numpy()
                           [:, 3].ravel() for p in shifts])
    zeros = np.zeros((200, 7, 9, 1) if data_format == "channels_last" else (200, 1, 7, 9),
                     "float32")
    k_draws = [k_layer.get_random_transformation(zeros) for _ in range(5)]
    theirs = np.concatenate([(to_numpy(p["end_points"]) / np.maximum(to_numpy(
        p["start_points"]), 1) - 1)[:, 3].ravel() for p in k_draws])
    assert scipy.stats.ks_2samp(ours, theirs).pvalue > 1e-3


@pytest.mark.parametrize("fill_mode, interpolation, data_format, distortion", [
    ("reflect", "bilinear", "channels_last", 0.7), ("mirror", "nearest", "channels_first", 1.0),
    ("constant", "bilinear", "channels_last", 0.3), ("wrap", "bilinear", "channels_first", 0.05),
    ("nearest", "nearest", "channels_last", 0.9)])
def test_elastic_transform_on_the_same_field_is_keras(fill_mode, interpolation, data_format,
                                                      distortion):
    """Keras draws its displacement field from torch's global generator: the same normals
    given to kconv's layer give Keras's output (smoothing, scaling, resampling, clipping;
    the images not chosen unchanged but for the clip)."""
    x = images(data_format, n=3, h=12, w=16) * 1.2 - 20
    n, h, w = 3, 12, 16
    kwargs = dict(fill_mode=fill_mode, interpolation=interpolation, data_format=data_format,
                  fill_value=7.0)
    layer, k_layer = L.RandomElasticTransform(**kwargs), keras.layers.RandomElasticTransform(
        **kwargs)
    chosen, factor = torch.tensor([True, False, True]), torch.tensor(distortion)
    torch.manual_seed(5)
    field = torch.stack([torch.normal(0.0, 1.0, size=(n, h, w)) for _ in range(2)])
    images_cf = torch.from_numpy(x if data_format == "channels_first" else
                                 x.transpose(0, 3, 1, 2).copy())
    ours = layer.apply(images_cf, {"apply_transform": chosen, "distortion_factor": factor,
                                   "displacements": field}).numpy()
    if data_format == "channels_last":
        ours = ours.transpose(0, 2, 3, 1)
    torch.manual_seed(5)
    theirs = to_numpy(k_layer.transform_images(torch.from_numpy(x), {
        "apply_transform": chosen, "distortion_factor": factor, "seed": None}))
    np.testing.assert_allclose(ours, theirs, atol=1e-3, rtol=1e-5)
    assert ours.min() >= 0 and ours.max() <= 255


def test_elastic_transform_draws_follow_keras():
    """Per image: applied with probability drawn from factor; per batch: one distortion from
    scale; a unit-normal field; seeded; only in training; no transformation (no clip either)
    when factor or scale is zero, as Keras."""
    layer = L.RandomElasticTransform(factor=(0.2, 0.6), scale=(0.1, 0.5), seed=3)
    draws = [layer.sample(500, 6, 7, "cpu") for _ in range(40)]
    applied = np.mean([d["apply_transform"].float().mean() for d in draws])
    assert abs(applied - 0.4) < 0.02
    distortions = np.array([float(d["distortion_factor"]) for d in draws])
    assert distortions.min() >= 0.1 and distortions.max() < 0.5
    assert scipy.stats.kstest(distortions, "uniform", (0.1, 0.4)).pvalue > 1e-3
    field = draws[0]["displacements"]
    assert field.shape == (2, 500, 6, 7)
    assert scipy.stats.kstest(field.ravel().numpy(), "norm").pvalue > 1e-3
    x = torch.from_numpy(images(n=4)) * 1.5
    again = L.RandomElasticTransform(seed=3)
    assert torch.equal(L.RandomElasticTransform(seed=3).train()(x), again.train()(x))
    assert torch.equal(again.eval()(x), x)
    assert torch.equal(L.RandomElasticTransform(factor=0.0).train()(x), x)
    assert L.RandomElasticTransform(scale=(0.3, 0.3)).train()(x).max() <= 255
