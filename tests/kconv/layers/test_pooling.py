import itertools

import keras
import numpy as np
import pytest
import torch

import kconv
from kconv import padding
from kconv.layers import (AveragePooling2D, GlobalAveragePooling2D, GlobalMaxPooling2D,
                          MaxPooling2D)
from kconv.validation import InputTooSmallError
from tests.keras_oracle import assert_close, keras_call

CASES = list(itertools.product([(5, 5), (6, 6), (6, 7), (7, 4), (1, 3)], [2, 3, (2, 3)],
                               [None, 1, 2, 3], ["valid", "same", "SAME"]))


def _fits(size, pool, pad):
    pool = (pool, pool) if isinstance(pool, int) else pool
    return pad.lower() == "same" or all(n >= k for n, k in zip(size, pool))


def tf_pool_reference(x, pool, strides, pad, reduce):
    """TensorFlow semantics in NumPy: windows over the unpadded image, padding excluded."""
    pool = (pool, pool) if isinstance(pool, int) else pool
    strides = pool if strides is None else ((strides, strides) if isinstance(strides, int)
                                            else strides)
    n, h, w, c = x.shape
    if pad.lower() == "same":
        pads = padding.same_padding_2d((h, w), pool, strides)
    else:
        pads = ((0, 0), (0, 0))
    out_h, out_w = padding.conv_output_shape((h, w), pool, strides, pad.lower())
    out = np.zeros((n, out_h, out_w, c), dtype="float64")
    for i in range(out_h):
        for j in range(out_w):
            top, left = i * strides[0] - pads[0][0], j * strides[1] - pads[1][0]
            window = x[:, max(top, 0):top + pool[0], max(left, 0):left + pool[1], :]
            out[:, i, j, :] = reduce(window.reshape(n, -1, c), axis=1)
    return out


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("size,pool,strides,pad", [c for c in CASES if _fits(c[0], c[1], c[3])])
def test_max_pooling_matches_keras(size, pool, strides, pad, data_format):
    x = np.random.default_rng(3).standard_normal((2,) + size + (3,)).astype("float32")
    if data_format == "channels_first":
        x = x.transpose(0, 3, 1, 2)
    args = dict(pool_size=pool, strides=strides, padding=pad, data_format=data_format)
    expected = keras_call(keras.layers.MaxPooling2D(**args), x)
    assert_close(MaxPooling2D(**args)(torch.from_numpy(x)), expected, atol=0)


@pytest.mark.parametrize("size,pool,strides,pad", [c for c in CASES if _fits(c[0], c[1], c[3])])
def test_average_pooling_matches_tensorflow_semantics(size, pool, strides, pad):
    x = np.random.default_rng(4).standard_normal((2,) + size + (3,)).astype("float32")
    expected = tf_pool_reference(x, pool, strides, pad, np.mean)
    layer = AveragePooling2D(pool, strides, pad)
    assert_close(layer(torch.from_numpy(x)), expected)
    cf = AveragePooling2D(pool, strides, pad, data_format="channels_first")
    assert_close(cf(torch.from_numpy(x.transpose(0, 3, 1, 2))), expected.transpose(0, 3, 1, 2))


def test_average_pooling_agrees_with_keras_where_keras_is_right():
    # valid padding, and 'same' with symmetric padding, do not hit Keras's torch-backend bug.
    x = np.random.default_rng(5).standard_normal((2, 5, 5, 3)).astype("float32")
    for args in [dict(pool_size=2), dict(pool_size=3, strides=2, padding="same")]:
        expected = keras_call(keras.layers.AveragePooling2D(**args), x)
        assert_close(AveragePooling2D(**args)(torch.from_numpy(x)), expected)


def test_average_same_excludes_padding_where_keras_torch_backend_does_not():
    x = np.zeros((1, 6, 6, 1), dtype="float32")
    x[0, :, -1, 0] = 6.0  # the last column: an asymmetric pad sits next to it
    y = AveragePooling2D(3, 2, "same")(torch.from_numpy(x))
    # The last window covers columns 4, 5 (and one pad column): mean of {0, 6} per row.
    assert torch.allclose(y[0, :, -1, 0], torch.full((3,), 3.0))


@pytest.mark.parametrize("cls", [MaxPooling2D, AveragePooling2D])
def test_pooling_output_shape_and_errors(cls):
    layer = cls(pool_size=3, strides=2, padding="same", name="p")
    assert layer.compute_output_shape((None, 45, 45, 8)) == (None, 23, 23, 8)
    with pytest.raises(ValueError) as info:
        cls(pool_size=2, padding="foo")
    assert str(info.value) == ("Invalid value for argument `padding`: expected one of "
                               "('valid', 'same'). Received: padding='foo'")
    with pytest.raises(InputTooSmallError) as info:
        cls(pool_size=3, name="p").build_for((None, 2, 2, 1))
    assert str(info.value) == (f"Layer 'p' ({cls.__name__}): computed output size would be zero "
                               "or negative. Received inputs shape=(None, 2, 2, 1), "
                               "pool_size=(3, 3), strides=(3, 3), padding=valid.")
    with pytest.raises(ValueError, match="expected ndim=4, found ndim=3"):
        cls(pool_size=2)(torch.zeros(2, 4, 4))


def test_default_strides_are_pool_size():
    assert MaxPooling2D().strides == (2, 2)
    assert AveragePooling2D((3, 2)).strides == (3, 2)


@pytest.mark.parametrize("cls,k_cls", [
    (GlobalAveragePooling2D, keras.layers.GlobalAveragePooling2D),
    (GlobalMaxPooling2D, keras.layers.GlobalMaxPooling2D)])
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("keepdims", [False, True])
def test_global_pooling_matches_keras(cls, k_cls, data_format, keepdims):
    x = np.random.default_rng(6).standard_normal((2, 4, 5, 3)).astype("float32")
    expected = keras_call(k_cls(data_format=data_format, keepdims=keepdims), x)
    layer = cls(data_format=data_format, keepdims=keepdims)
    y = layer(torch.from_numpy(x))
    assert_close(y, expected)
    assert layer.compute_output_shape((None, 4, 5, 3))[1:] == expected.shape[1:]


def tf_pool_reference_nd(x, pool, strides, pad, reduce):
    """TensorFlow semantics for (N, *spatial, C) of any rank: padding excluded."""
    spatial = x.shape[1:-1]
    pads = padding.same_padding_nd(spatial, pool, strides) if pad == "same" else \
        ((0, 0),) * len(spatial)
    out_size = padding.conv_output_shape(spatial, pool, strides, pad)
    out = np.zeros((x.shape[0],) + out_size + (x.shape[-1],))
    for position in itertools.product(*(range(n) for n in out_size)):
        index = [slice(None)]
        for p, s, k, (before, _) in zip(position, strides, pool, pads):
            start = p * s - before
            index.append(slice(max(start, 0), start + k))
        window = x[tuple(index) + (slice(None),)]
        out[(slice(None),) + position] = reduce(window.reshape(x.shape[0], -1, x.shape[-1]),
                                                axis=1)
    return out


def _nd_cases(rank, seed, count):
    rng = np.random.default_rng(seed)
    cases = []
    for i in range(count):
        pool = tuple(int(v) for v in rng.integers(1, 4, rank))
        strides = tuple(int(v) for v in rng.integers(1, 4, rank))
        pad = ("valid", "same")[i % 2]
        size = tuple(int(k + rng.integers(0, 4)) if pad == "valid" else int(rng.integers(1, 7))
                     for k in pool)
        cases.append((rank, size, pool, strides, pad,
                      ("channels_last", "channels_first")[(i // 2) % 2]))
    return cases


ND = _nd_cases(1, 5, 12) + _nd_cases(3, 6, 8)


@pytest.mark.parametrize("rank, size, pool, strides, pad, data_format", ND)
def test_1d_and_3d_pooling_match_keras_and_tensorflow(rank, size, pool, strides, pad,
                                                      data_format):
    import kconv
    x = np.random.default_rng(7).standard_normal((2,) + size + (3,)).astype("float32")
    args = dict(pool_size=pool, strides=strides, padding=pad, data_format=data_format)
    keras_x = x if data_format == "channels_last" else np.moveaxis(x, -1, 1)
    layer = getattr(kconv.layers, f"MaxPooling{rank}D")(**args)
    expected = keras_call(getattr(keras.layers, f"MaxPooling{rank}D")(**args), keras_x)
    assert_close(layer(torch.from_numpy(keras_x)), expected, atol=0)
    average = getattr(kconv.layers, f"AveragePooling{rank}D")(**args)
    reference = tf_pool_reference_nd(x, pool, strides, pad, np.mean)
    if data_format == "channels_first":
        reference = np.moveaxis(reference, -1, 1)
    assert_close(average(torch.from_numpy(keras_x)), reference)
    for kind, reduce in (("Average", np.mean), ("Max", np.max)):
        for keepdims in (False, True):
            glob = getattr(kconv.layers, f"Global{kind}Pooling{rank}D")(
                data_format=data_format, keepdims=keepdims)
            theirs = getattr(keras.layers, f"Global{kind}Pooling{rank}D")(
                data_format=data_format, keepdims=keepdims)
            assert_close(glob(torch.from_numpy(keras_x)), keras_call(theirs, keras_x))


@pytest.mark.parametrize("kind", ["Average", "Max"])
@pytest.mark.parametrize("rank, output_size", [(1, 3), (1, (4,)), (2, (3, 2)), (2, 4),
                                               (3, (2, 3, 1))])
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_adaptive_pooling_equals_keras(kind, rank, output_size, data_format):
    name = f"Adaptive{kind}Pooling{rank}D"
    spatial = (7, 9, 5)[:rank]
    shape = (2,) + (spatial + (3,) if data_format == "channels_last" else (3,) + spatial)
    x = np.random.default_rng(rank).standard_normal(shape).astype("float32")
    k_layer = getattr(keras.layers, name)(output_size, data_format=data_format)
    layer = getattr(kconv.layers, name)(output_size, data_format=data_format)
    expected = keras_call(k_layer, x)
    np.testing.assert_allclose(layer(torch.from_numpy(x)).numpy(), expected, atol=1e-6)
    assert layer.compute_output_shape((None,) + shape[1:]) == \
        tuple(k_layer.compute_output_shape((None,) + shape[1:]))
    config = {k: list(v) if isinstance(v, tuple) else v for k, v in layer.get_config().items()}
    theirs = {k: list(v) if isinstance(v, tuple) else v
              for k, v in k_layer.get_config().items() if k not in ("dtype", "name")}
    assert {k: v for k, v in config.items() if k != "name"} == theirs
    with pytest.raises(ValueError, match="output_size"):
        getattr(kconv.layers, name)(0)
