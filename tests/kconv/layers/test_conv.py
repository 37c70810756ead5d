import copy
import random

import keras
import numpy as np
import pytest
import torch

from kconv import initializers
from kconv.layers import Conv1D, Conv2D, Conv3D
from kconv.validation import InputTooSmallError
from tests.keras_oracle import assert_close, copy_from_keras, keras_call


def _configs():
    rng = random.Random(1234)
    out = []
    for _ in range(60):
        k = (rng.randint(1, 7), rng.randint(1, 7))
        strided = rng.random() < 0.5
        s = (rng.randint(1, 3), rng.randint(1, 3)) if strided else (1, 1)
        d = (1, 1) if strided else (rng.randint(1, 3), rng.randint(1, 3))
        groups = rng.choice([1, 1, 2, 3])
        pad = rng.choice(["valid", "same", "SAME", "Valid"])
        fmt = rng.choice(["channels_last", "channels_first"])
        span = [(kk - 1) * dd + 1 for kk, dd in zip(k, d)]
        size = [rng.randint(sp if pad.lower() == "valid" else 1, sp + 9) for sp in span]
        out.append(dict(kernel_size=k, strides=s, dilation_rate=d, groups=groups, padding=pad,
                        data_format=fmt, size=tuple(size), batch=rng.choice([1, 2, 3]),
                        in_ch=groups * rng.randint(1, 3), filters=groups * rng.randint(1, 4)))
    # Edge cases: StridedNet's odd and even strided 'same' sizes, 1x1 input, even kernels.
    for size, k, s in [((45, 45), 3, 2), ((12, 12), 3, 2), ((23, 23), 3, 2), ((96, 96), 7, 2),
                       ((1, 1), 3, 2), ((6, 7), 4, 1), ((8, 5), 2, 3)]:
        for fmt in ("channels_last", "channels_first"):
            out.append(dict(kernel_size=k, strides=s, dilation_rate=1, groups=1, padding="same",
                            data_format=fmt, size=size, batch=1, in_ch=3, filters=4))
    return out


def _input_shape(cfg):
    h, w = cfg["size"]
    if cfg["data_format"] == "channels_last":
        return (cfg["batch"], h, w, cfg["in_ch"])
    return (cfg["batch"], cfg["in_ch"], h, w)


@pytest.mark.parametrize("cfg", _configs(), ids=lambda c: "-".join(
    str(c[k]) for k in ("kernel_size", "strides", "dilation_rate", "groups", "padding",
                        "data_format", "size")))
def test_conv2d_matches_keras(cfg):
    args = {k: cfg[k] for k in ("kernel_size", "strides", "dilation_rate", "groups", "padding",
                                "data_format")}
    shape = _input_shape(cfg)
    k_layer = keras.layers.Conv2D(cfg["filters"], bias_initializer="random_normal", **args)
    k_layer.build(shape)
    layer = Conv2D(cfg["filters"], **args)
    layer.build_for((None,) + shape[1:])
    copy_from_keras(k_layer, layer)
    x = np.random.default_rng(0).standard_normal(shape).astype("float32")
    expected = keras_call(k_layer, x)
    y = layer(torch.from_numpy(x))
    assert tuple(y.shape) == expected.shape
    assert tuple(y.shape[1:]) == layer.compute_output_shape((None,) + shape[1:])[1:]
    assert tuple(k_layer.compute_output_shape(shape)) == tuple(y.shape)
    assert_close(y, expected)
    assert layer.count_params() == k_layer.count_params()


def test_conv2d_weights_use_torch_layout_and_names():
    layer = Conv2D(8, (3, 5), groups=2)
    layer(torch.zeros(1, 10, 10, 4))
    assert dict((k, tuple(v.shape)) for k, v in layer.named_parameters()) == {
        "weight": (8, 2, 3, 5), "bias": (8,)}
    reference = torch.nn.Conv2d(4, 8, (3, 5), groups=2)
    assert layer.state_dict().keys() == reference.state_dict().keys()


def test_activation_applied_after_bias():
    layer = Conv2D(2, 1, activation="relu", kernel_initializer="ones", bias_initializer="ones")
    y = layer(-torch.ones(1, 2, 2, 3))
    assert torch.equal(y, torch.zeros(1, 2, 2, 2))


def test_channels_last_input_needs_no_copy():
    layer = Conv2D(4, 3, padding="same")
    x = torch.randn(2, 9, 9, 3)
    y = layer(x)
    assert y.is_contiguous()  # NHWC output is a view of a channels_last NCHW result
    assert y.permute(0, 3, 1, 2).is_contiguous(memory_format=torch.channels_last)


def test_get_config_has_keras_keys_and_round_trips():
    layer = Conv2D(16, 3, strides=2, padding="same", activation="relu",
                   kernel_regularizer="l2", kernel_constraint="max_norm", name="c")
    config = layer.get_config()
    keras_keys = set(keras.layers.Conv2D(16, 3).get_config()) - {"dtype"}
    assert keras_keys <= set(config)
    clone = Conv2D.from_config(config)
    assert clone.get_config() == config
    assert config["kernel_regularizer"]["class_name"] == "L2"
    assert config["activation"] == "relu"


def test_he_normal_initializer_uses_keras_fans():
    layer = Conv2D(64, 3, kernel_initializer="he_normal")
    layer.build_for((None, 32, 32, 128))
    std = (2.0 / (3 * 3 * 128)) ** 0.5
    assert abs(layer.weight.std().item() - std) < 0.03 * std
    assert layer.weight.abs().max().item() <= 2 * std / 0.87962566103423978 + 1e-6


# ---------------------------------------------------------------- validation messages
@pytest.mark.parametrize("kwargs,error,message", [
    (dict(kernel_size=(3,)), ValueError,
     "Invalid value for argument `kernel_size`: expected an int or a tuple of 2 ints. "
     "Received: kernel_size=(3,)"),
    (dict(kernel_size=3.0), TypeError,
     "Invalid type for argument `kernel_size`: expected an int or a tuple of 2 ints. "
     "Received: kernel_size=3.0 of type float"),
    (dict(kernel_size=(3, 0)), ValueError,
     "Invalid value for argument `kernel_size`: expected ints >= 1. Received: kernel_size=(3, 0)"),
    (dict(strides=0), ValueError,
     "Invalid value for argument `strides`: expected ints >= 1. Received: strides=0"),
    (dict(dilation_rate=(1, 2, 3)), ValueError,
     "Invalid value for argument `dilation_rate`: expected an int or a tuple of 2 ints. "
     "Received: dilation_rate=(1, 2, 3)"),
    (dict(padding="full"), ValueError,
     "Invalid value for argument `padding`: expected one of ('valid', 'same'). "
     "Received: padding='full'"),
    (dict(padding="causal"), ValueError,
     "Invalid value for argument `padding`: expected one of ('valid', 'same'). "
     "Received: padding='causal'"),
    (dict(padding=[(1, 1), (1, 1)]), TypeError,
     "Invalid type for argument `padding`: expected one of ('valid', 'same'). "
     "Received: padding=[(1, 1), (1, 1)] of type list"),
    (dict(data_format="NHWC"), ValueError,
     "Invalid value for argument `data_format`: expected one of ('channels_first', "
     "'channels_last'). Received: data_format='NHWC'"),
    (dict(filters=0), ValueError,
     "Invalid value for argument `filters`: expected an int >= 1. Received: filters=0"),
    (dict(filters=2.5), TypeError,
     "Invalid type for argument `filters`: expected an int. Received: filters=2.5 of type float"),
    (dict(groups=0), ValueError,
     "Invalid value for argument `groups`: expected an int >= 1. Received: groups=0"),
    (dict(filters=4, groups=3), ValueError,
     "Invalid value for argument `filters`: expected a multiple of groups=3. Received: filters=4"),
    (dict(strides=2, dilation_rate=2), ValueError,
     "Invalid value for argument `dilation_rate`: expected (1, 1) when strides > 1. "
     "Received: dilation_rate=2"),
    (dict(strides=(2, 1), dilation_rate=(1, 2)), ValueError,
     "Invalid value for argument `dilation_rate`: expected (1, 1) when strides > 1. "
     "Received: dilation_rate=(1, 2)"),
    (dict(activation="Relu"), ValueError,
     "Invalid value for argument `activation`: expected one of ("),
    (dict(kernel_initializer="glorotuniform"), ValueError,
     "Invalid value for argument `initializer`: expected one of ("),
    (dict(kernel_regularizer="l1_l2"), ValueError,
     "Invalid value for argument `regularizer`: expected one of ("),
    (dict(kernel_constraint="maxnorm"), ValueError,
     "Invalid value for argument `constraint`: expected one of ("),
])
def test_construction_errors(kwargs, error, message):
    args = dict(filters=4, kernel_size=3)
    args.update(kwargs)
    with pytest.raises(error) as info:
        Conv2D(**args)
    assert str(info.value).startswith(message)


def test_unknown_keyword_is_rejected():
    with pytest.raises(TypeError, match="kernel_initialiser"):
        Conv2D(4, 3, kernel_initialiser="he_normal")


def test_call_time_errors_name_the_layer():
    layer = Conv2D(4, 3, name="c1")
    with pytest.raises(ValueError) as info:
        layer(torch.zeros(3, 3, 1))
    assert str(info.value) == ("Input 0 of layer 'c1' (Conv2D) is incompatible with the layer: "
                               "expected ndim=4, found ndim=3. Full shape received: (3, 3, 1)")
    layer(torch.zeros(1, 5, 5, 3))
    with pytest.raises(ValueError) as info:
        layer(torch.zeros(1, 5, 5, 4))
    assert str(info.value) == ("Input 0 of layer 'c1' (Conv2D) is incompatible with the layer: "
                               "expected axis -1 of input shape to have value 3, but received "
                               "input with shape (1, 5, 5, 4)")
    with pytest.raises(InputTooSmallError) as info:
        layer(torch.zeros(1, 2, 5, 3))
    assert str(info.value) == ("Layer 'c1' (Conv2D): computed output size would be zero or "
                               "negative. Received inputs shape=(1, 2, 5, 3), "
                               "kernel_size=(3, 3), strides=(1, 1), padding=valid.")
    with pytest.raises(InputTooSmallError, match=r"shape=\(None, 3, 3, 1\), kernel_size=\(3, "
                                                 r"3\), strides=\(1, 1\), padding=valid, "
                                                 r"dilation_rate=\(2, 2\)\."):
        Conv2D(1, 3, dilation_rate=2).build_for((None, 3, 3, 1))


def test_groups_must_divide_input_channels():
    with pytest.raises(ValueError) as info:
        Conv2D(4, 3, groups=2, name="g")(torch.zeros(1, 5, 5, 3))
    assert str(info.value) == (
        "Layer 'g' (Conv2D): the number of input channels must be evenly divisible by the "
        "number of groups. Received groups=2, but the input has 3 channels (full input shape is "
        "(1, 5, 5, 3)).")


def test_channels_first_follows_global_default(tmp_path, monkeypatch):
    import kconv
    kconv.config.set_image_data_format("channels_first")
    layer = Conv2D(4, 3)
    kconv.config.set_image_data_format("channels_last")
    assert layer.data_format == "channels_first"  # resolved once, at construction
    assert layer(torch.zeros(1, 2, 5, 5)).shape == (1, 4, 3, 3)


def test_reset_parameters_redraws_from_the_initializers():
    layer = Conv2D(4, 3, kernel_initializer=initializers.HeNormal(seed=5),
                   bias_initializer="ones")
    layer.build_for((None, 6, 6, 2))
    first = layer.weight.detach().clone()
    with torch.no_grad():
        layer.weight.zero_()
        layer.bias.zero_()
    layer.reset_parameters()
    assert torch.equal(layer.weight, first) and torch.equal(layer.bias, torch.ones(4))


def _rank_configs(rank, count, seed):
    """Random Conv1D/Conv3D configurations in the style of ``_configs`` (sizes 1 and odd
    included, every padding, strides or dilations, both formats, groups)."""
    rng = random.Random(seed)
    paddings = ["valid", "same", "causal"] if rank == 1 else ["valid", "same"]
    out = []
    for i in range(count):
        k = tuple(rng.randint(1, 5 if rank == 1 else 3) for _ in range(rank))
        strided = rng.random() < 0.5
        s = tuple(rng.randint(1, 3) for _ in range(rank)) if strided else (1,) * rank
        d = (1,) * rank if strided else tuple(rng.randint(1, 3) for _ in range(rank))
        pad = paddings[i % len(paddings)]
        span = [(kk - 1) * dd + 1 for kk, dd in zip(k, d)]
        size = tuple(rng.randint(sp if pad == "valid" else 1, sp + (9 if rank == 1 else 3))
                     for sp in span)
        groups = rng.choice([1, 2])
        out.append(dict(kernel_size=k, strides=s, dilation_rate=d, groups=groups, padding=pad,
                        data_format=rng.choice(["channels_last", "channels_first"]),
                        size=size, batch=rng.choice([1, 2]), in_ch=groups * rng.randint(1, 2),
                        filters=groups * rng.randint(1, 3)))
    return out


RANKED = [(Conv1D, cfg) for cfg in _rank_configs(1, 30, 7)] + \
    [(Conv3D, cfg) for cfg in _rank_configs(3, 14, 8)]


@pytest.mark.parametrize("cls, cfg", RANKED, ids=lambda c: c.__name__ if isinstance(c, type)
                         else "-".join(str(c[k]) for k in ("kernel_size", "strides",
                                                           "dilation_rate", "groups",
                                                           "padding", "data_format", "size")))
def test_conv1d_and_conv3d_match_keras(cls, cfg):
    args = {k: cfg[k] for k in ("kernel_size", "strides", "dilation_rate", "groups", "padding",
                                "data_format")}
    spatial, channels = cfg["size"], cfg["in_ch"]
    shape = (cfg["batch"], *spatial, channels) if cfg["data_format"] == "channels_last" else \
        (cfg["batch"], channels, *spatial)
    k_layer = getattr(keras.layers, cls.__name__)(cfg["filters"],
                                                  bias_initializer="random_normal", **args)
    k_layer.build(shape)
    layer = cls(cfg["filters"], **args)
    layer.build_for((None,) + shape[1:])
    copy_from_keras(k_layer, layer)
    x = np.random.default_rng(0).standard_normal(shape).astype("float32")
    expected = keras_call(k_layer, x)
    y = layer(torch.from_numpy(x))
    assert tuple(y.shape) == expected.shape == tuple(k_layer.compute_output_shape(shape))
    assert tuple(y.shape[1:]) == layer.compute_output_shape((None,) + shape[1:])[1:]
    assert_close(y, expected)
    assert layer.count_params() == k_layer.count_params()
    ours, theirs = layer.get_config(), k_layer.get_config()
    for key in ("kernel_size", "strides", "padding", "data_format", "dilation_rate", "groups",
                "filters"):
        assert ours[key] == theirs[key], key


def test_ranked_convolutions_store_torchs_layout_and_refuse_causal_elsewhere():
    layer = Conv3D(6, (1, 2, 3), groups=2)
    layer(torch.zeros(1, 4, 4, 4, 4))
    reference = torch.nn.Conv3d(4, 6, (1, 2, 3), groups=2)
    assert {k: v.shape for k, v in layer.state_dict().items()} == \
        {k: v.shape for k, v in reference.state_dict().items()}
    assert tuple(Conv1D(3, 2)(torch.zeros(2, 7, 5)).shape) == (2, 6, 3)
    with pytest.raises(ValueError, match="padding.*'valid', 'same'\\). Received: "
                                         "padding='causal'"):
        Conv2D(3, 2, padding="causal")
    with pytest.raises(ValueError, match="expected ndim=3, found ndim=4"):
        Conv1D(3, 2)(torch.zeros(1, 4, 4, 2))


def _separable_configs(seed, count):
    rng = random.Random(seed)
    out = []
    for i in range(count):
        rank = 1 + i % 2
        k = tuple(rng.randint(1, 4) for _ in range(rank))
        strided = rng.random() < 0.5
        s = tuple(rng.randint(1, 3) for _ in range(rank)) if strided else (1,) * rank
        d = (1,) * rank if strided else tuple(rng.randint(1, 2) for _ in range(rank))
        pad = ("valid", "same")[(i // 2) % 2]
        span = [(kk - 1) * dd + 1 for kk, dd in zip(k, d)]
        size = tuple(rng.randint(sp if pad == "valid" else 1, sp + 5) for sp in span)
        out.append(dict(rank=rank, kernel_size=k, strides=s, dilation_rate=d, padding=pad,
                        data_format=("channels_last", "channels_first")[(i // 4) % 2],
                        size=size, channels=rng.randint(1, 3),
                        depth_multiplier=rng.randint(1, 3)))
    return out


@pytest.mark.parametrize("kind", ["Depthwise", "Separable"])
@pytest.mark.parametrize("cfg", _separable_configs(9, 16), ids=lambda c: "-".join(
    str(c[k]) for k in ("rank", "kernel_size", "strides", "dilation_rate", "padding",
                        "data_format", "size", "depth_multiplier")))
def test_depthwise_and_separable_match_keras(kind, cfg):
    import kconv
    name = f"{kind}Conv{cfg['rank']}D"
    args = {k: cfg[k] for k in ("kernel_size", "strides", "dilation_rate", "padding",
                                "data_format", "depth_multiplier")}
    if kind == "Separable":
        args["filters"] = 3
    spatial, channels = cfg["size"], cfg["channels"]
    shape = (2, *spatial, channels) if cfg["data_format"] == "channels_last" else \
        (2, channels, *spatial)
    k_layer = getattr(keras.layers, name)(bias_initializer="random_normal", **args)
    k_layer.build(shape)
    layer = getattr(kconv.layers, name)(**args)
    layer.build_for((None,) + shape[1:])
    copy_from_keras(k_layer, layer)
    x = np.random.default_rng(0).standard_normal(shape).astype("float32")
    expected = keras_call(k_layer, x)
    y = layer(torch.from_numpy(x))
    assert tuple(y.shape) == expected.shape == tuple(k_layer.compute_output_shape(shape))
    assert_close(y, expected)
    assert layer.count_params() == k_layer.count_params()
    for ours, theirs in zip(layer.get_weights(), k_layer.get_weights()):
        np.testing.assert_array_equal(ours, theirs)
    keys = set(layer.get_config()) - {"name"}
    assert keys <= set(k_layer.get_config())


def _tf_transpose_cases():
    import json
    import os
    path = os.path.join(os.path.dirname(__file__), "..", "..", "data", "conv_transpose_tf.npz")
    data = np.load(path)
    return [(case, {key: data[f"{key}{case['index']}"] for key in ("x", "kernel", "bias", "y")})
            for case in json.loads(str(data["cases"]))]


TF_TRANSPOSE = _tf_transpose_cases()


@pytest.mark.parametrize("case, arrays", TF_TRANSPOSE, ids=lambda c: "-".join(
    str(c[k]) for k in ("rank", "kernel_size", "strides", "padding", "dilation_rate",
                        "output_padding", "size", "data_format")) if "rank" in c else "")
def test_conv_transpose_matches_tensorflow(case, arrays):
    """TensorFlow's own outputs (tests/data/make_conv_transpose_reference.py): Keras's torch
    backend cannot always place them, kconv must."""
    import kconv
    layer = getattr(kconv.layers, f"Conv{case['rank']}DTranspose")(
        case["filters"], case["kernel_size"], strides=case["strides"],
        padding=case["padding"], output_padding=case["output_padding"],
        data_format=case["data_format"], dilation_rate=case["dilation_rate"])
    x = torch.from_numpy(arrays["x"])
    layer.build_for((None,) + tuple(x.shape[1:]))
    layer.set_weights([arrays["kernel"], arrays["bias"]])
    y = layer(x)
    assert tuple(y.shape) == arrays["y"].shape
    assert tuple(layer.compute_output_shape((None,) + tuple(x.shape[1:]))[1:]) == \
        arrays["y"].shape[1:]
    assert_close(y, arrays["y"], atol=1e-5)


def test_conv_transpose_configs_and_keras_files_match_keras(tmp_path):
    import kconv
    k_model = keras.Sequential([keras.Input((5, 5, 3)), keras.layers.Conv2DTranspose(
        4, 3, strides=2, padding="valid", activation="relu"), keras.layers.Conv2DTranspose(
        2, 2, strides=2, padding="same")])
    k_model.save(tmp_path / "m.keras")
    model = kconv.models.load_model(tmp_path / "m.keras")
    x = np.random.default_rng(0).standard_normal((2, 5, 5, 3)).astype("float32")
    assert_close(model(torch.from_numpy(x)), keras.ops.convert_to_numpy(k_model(x)))
    ours, theirs = model.layers[0].get_config(), k_model.layers[0].get_config()
    assert set(ours) - {"name"} <= set(theirs)
    assert ours["output_padding"] == theirs["output_padding"] and "groups" not in ours
    assert model.layers[0].weight.shape == torch.nn.ConvTranspose2d(3, 4, 3).weight.shape


def test_a_layer_called_on_new_sizes_pads_for_each():
    conv = Conv2D(3, 3, strides=2, padding="same")
    conv(torch.randn(1, 9, 9, 2))  # its padding for 9x9 is remembered
    for size in (8, 9, 10, 7):
        fresh = copy.deepcopy(conv)
        fresh._paddings.clear()
        x = torch.randn(2, size, size, 2)
        assert torch.equal(conv(x), fresh(x))
