import pickle

import keras
import numpy as np
import pytest
import torch

from kconv.layers import Dropout, Flatten
from tests.keras_oracle import assert_close, keras_call


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_flatten_uses_hwc_order_like_keras(data_format):
    x = np.arange(2 * 3 * 4 * 5, dtype="float32").reshape(2, 3, 4, 5)
    expected = keras_call(keras.layers.Flatten(data_format=data_format), x)
    assert_close(Flatten(data_format=data_format)(torch.from_numpy(x)), expected, atol=0)


def test_flatten_shapes():
    assert Flatten().compute_output_shape((None, 6, 6, 128)) == (None, 4608)
    assert Flatten().compute_output_shape((None, None, 6, 128)) == (None, None)
    assert Flatten()(torch.zeros(3, 2)).shape == (3, 2)


def test_dropout_scales_kept_units_and_is_off_in_eval():
    layer = Dropout(0.5)
    x = torch.ones(1000, 100)
    y = layer(x)
    assert set(torch.unique(y).tolist()) <= {0.0, 2.0}
    assert abs((y == 0).float().mean().item() - 0.5) < 0.02
    layer.eval()
    assert torch.equal(layer(x), x)


@pytest.mark.parametrize("rate", [0.1, 0.25, 0.7])
@pytest.mark.parametrize("dtype", [torch.float64, torch.bfloat16])
def test_dropout_drops_each_unit_with_probability_rate(rate, dtype):
    x = torch.ones(400_001, dtype=dtype, requires_grad=True)  # odd: half a random word left
    y = Dropout(rate)(x)
    assert y.dtype == dtype
    dropped = (y == 0).double().mean().item()
    assert abs(dropped - rate) < 5 * (rate * (1 - rate) / len(x)) ** 0.5  # 5 sigma
    assert set(torch.unique(y).tolist()) == {0.0, torch.tensor(1 / (1 - rate), dtype=dtype).item()}
    y.sum().backward()
    assert torch.equal(x.grad, y.detach())  # d(x * keep)/dx = keep


def test_dropout_masks_are_independent_across_units_and_calls():
    layer = Dropout(0.5)
    a, b = layer(torch.ones(100_000)) > 0, layer(torch.ones(100_000)) > 0
    both = (a & b).double().mean().item()
    neighbours = (a[1:] & a[:-1]).double().mean().item()
    assert abs(both - 0.25) < 0.01 and abs(neighbours - 0.25) < 0.01


def test_dropout_noise_shape_and_seed():
    layer = Dropout(0.5, noise_shape=(None, 1, 1, None), seed=3)
    y = layer(torch.ones(4, 5, 5, 8))
    assert torch.equal(y, y[:, :1, :1, :].expand_as(y))  # one decision per (sample, channel)
    again = Dropout(0.5, noise_shape=(None, 1, 1, None), seed=3)(torch.ones(4, 5, 5, 8))
    assert torch.equal(y, again)
    copy = pickle.loads(pickle.dumps(layer))  # a used generator does not block pickling
    assert torch.equal(copy(torch.ones(4, 5, 5, 8)), y)


@pytest.mark.parametrize("rate", [-0.1, 1.5])
def test_dropout_rate_validation(rate):
    with pytest.raises(ValueError) as info:
        Dropout(rate)
    assert str(info.value) == ("Invalid value for argument `rate`: expected a number in "
                               f"[0.0, 1.0]. Received: rate={rate}")
