"""The reshaping layers against Keras: values, output shapes, configs, both data formats."""

import keras
import numpy as np
import pytest
import torch

import kconv
from tests.keras_oracle import assert_close, keras_call

CASES = [
    ("ZeroPadding1D", {}, (2, 5, 3)), ("ZeroPadding1D", {"padding": (2, 0)}, (1, 4, 2)),
    # Keras 3's ZeroPadding1D takes data_format (found by the differential fuzzer, #31).
    ("ZeroPadding1D", {"padding": (1, 2), "data_format": "channels_first"}, (2, 3, 4)),
    ("ZeroPadding2D", {}, (2, 4, 5, 3)),
    ("ZeroPadding2D", {"padding": ((1, 0), (2, 3))}, (1, 3, 3, 2)),
    ("ZeroPadding2D", {"padding": (1, 2), "data_format": "channels_first"}, (1, 2, 3, 4)),
    ("ZeroPadding3D", {"padding": ((0, 1), (1, 0), (2, 2))}, (1, 2, 3, 4, 2)),
    ("Cropping1D", {"cropping": (1, 2)}, (2, 6, 3)),
    ("Cropping2D", {"cropping": ((1, 0), (2, 1))}, (2, 5, 6, 3)),
    ("Cropping2D", {"cropping": 1, "data_format": "channels_first"}, (1, 2, 4, 5)),
    ("Cropping3D", {"cropping": ((1, 1), (0, 1), (2, 0))}, (1, 4, 3, 5, 2)),
    ("UpSampling1D", {"size": 3}, (2, 4, 3)),
    ("UpSampling2D", {"size": (2, 3)}, (2, 3, 4, 2)),
    ("UpSampling2D", {"size": 2, "interpolation": "bilinear"}, (2, 3, 5, 2)),
    ("UpSampling2D", {"size": (3, 2), "interpolation": "bilinear",
                      "data_format": "channels_first"}, (1, 2, 4, 3)),
    ("UpSampling3D", {"size": (1, 2, 3)}, (1, 2, 3, 2, 2)),
    ("Reshape", {"target_shape": (6, -1)}, (2, 3, 4, 2)),
    ("Reshape", {"target_shape": (4, 6)}, (2, 3, 4, 2)),
    ("Permute", {"dims": (2, 1)}, (2, 3, 4)),
    ("Permute", {"dims": (3, 1, 2)}, (2, 3, 4, 5)),
    ("RepeatVector", {"n": 3}, (2, 4)),
    ("Rescaling", {"scale": 1 / 255.0, "offset": -0.5}, (2, 3, 3, 1)),
    # Per-channel lists, as EfficientNet's ImageNet stem writes them (#32).
    ("Rescaling", {"scale": [0.5, 2.0, 3.0], "offset": [0.0, -1.0, 1.0]}, (2, 3, 3, 3)),
]


@pytest.mark.parametrize("name, kwargs, shape", CASES,
                         ids=[f"{n}-{i}" for i, (n, _, _) in enumerate(CASES)])
def test_matches_keras(name, kwargs, shape):
    x = np.random.default_rng(0).standard_normal(shape).astype("float32")
    k_layer = getattr(keras.layers, name)(**kwargs)
    layer = getattr(kconv.layers, name)(**kwargs)
    expected = keras_call(k_layer, x)
    y = layer(torch.from_numpy(x))
    assert tuple(y.shape) == expected.shape
    assert tuple(layer.compute_output_shape((None,) + shape[1:])) == \
        tuple(k_layer.compute_output_shape((None,) + shape[1:]))
    assert_close(y, expected, atol=1e-5)
    theirs = k_layer.get_config()
    for key, value in layer.get_config().items():
        if key != "name":
            assert _plain(value) == _plain(theirs[key]), key


def _plain(value):
    """Configs compare as JSON would write them (tuples and lists alike)."""
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def test_rescaling_per_channel_in_channels_first():
    """Keras reshapes a per-channel scale to (C, 1, 1) under channels_first."""
    x = np.random.default_rng(2).standard_normal((2, 3, 4, 5)).astype("float32")
    keras.config.set_image_data_format("channels_first")
    kconv.config.set_image_data_format("channels_first")
    try:
        expected = keras_call(keras.layers.Rescaling([0.5, 2.0, 3.0], 1.0), x)
        assert_close(kconv.layers.Rescaling([0.5, 2.0, 3.0], 1.0)(torch.from_numpy(x)),
                     expected)
    finally:
        keras.config.set_image_data_format("channels_last")
        kconv.config.set_image_data_format("channels_last")


@pytest.mark.parametrize("name, kwargs, shape", [
    ("ZeroPadding2D", {"padding": 1}, (1, 3, 3, 2)), ("UpSampling2D", {}, (1, 3, 3, 2)),
    ("Cropping2D", {"cropping": 1}, (1, 5, 5, 2)),
    ("Rescaling", {"scale": [0.5, 2.0], "offset": 0.1}, (1, 3, 3, 2))])
def test_in_a_saved_keras_model(name, kwargs, shape, tmp_path):
    k_model = keras.Sequential([keras.Input(shape[1:]), getattr(keras.layers, name)(**kwargs),
                                keras.layers.Conv2D(2, 3), keras.layers.Flatten()])
    k_model.save(tmp_path / "m.keras")
    model = kconv.models.load_model(tmp_path / "m.keras")
    x = np.random.default_rng(1).standard_normal((2,) + shape[1:]).astype("float32")
    assert_close(model(torch.from_numpy(x)), keras.ops.convert_to_numpy(k_model(x)))


@pytest.mark.parametrize("make, error, message", [
    (lambda: kconv.layers.ZeroPadding2D(padding=(1, 2, 3)), ValueError,
     "Invalid value for argument `padding`: expected an int, 2 ints or 2 (before, after) "
     "pairs. Received: padding=(1, 2, 3)"),
    (lambda: kconv.layers.Cropping2D(((-1, 0), (0, 0))), ValueError, "cropping"),
    (lambda: kconv.layers.Cropping1D((3, 3), name="c")(torch.zeros(1, 5, 2)), ValueError,
     "Layer 'c' (Cropping1D): cropping (3, 3) leaves nothing of an axis of size 5"),
    (lambda: kconv.layers.UpSampling2D(interpolation="cubic"), ValueError, "interpolation"),
    (lambda: kconv.layers.Reshape((4, -1, -1)), ValueError, "target_shape"),
    (lambda: kconv.layers.Reshape((5,), name="r")(torch.zeros(2, 3, 2)), ValueError,
     "Layer 'r' (Reshape): total size of new array must be unchanged, input_shape = (3, 2), "
     "output_shape = (5,)"),
    (lambda: kconv.layers.Permute((1, 3)), ValueError, "dims"),
    (lambda: kconv.layers.RepeatVector(0), ValueError, "Invalid value for argument `n`"),
])
def test_bad_arguments_are_named(make, error, message):
    with pytest.raises(error, match=message.replace("(", r"\(").replace(")", r"\)")):
        make()
