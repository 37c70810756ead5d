import functools
import keras
import numpy as np
import pytest
import torch

from kconv import activations
from kconv.layers import Activation
from tests.keras_oracle import assert_close, keras_call


@pytest.mark.parametrize("name", activations.names())
def test_every_activation_matches_keras(name):
    if name == "threshold":  # needs explicit arguments in Keras too
        x = torch.linspace(-4, 4, 17)
        expected = keras.activations.threshold(keras.ops.convert_to_tensor(x.numpy()), 0.5, -1.0)
        assert_close(activations.threshold(x, 0.5, -1.0), keras.ops.convert_to_numpy(expected))
        return
    x = np.random.default_rng(2).standard_normal((3, 8)).astype("float32") * 3
    expected = keras_call(keras.layers.Activation(name), x)
    assert_close(Activation(name)(torch.from_numpy(x)), expected)


@pytest.mark.parametrize("kwargs", [dict(negative_slope=0.1), dict(max_value=6.0),
                                    dict(threshold=0.5), dict(negative_slope=0.2, max_value=2.0,
                                                              threshold=-0.5)])
def test_relu_options_match_keras(kwargs):
    x = np.linspace(-8, 8, 33).astype("float32")
    expected = keras.ops.convert_to_numpy(keras.activations.relu(x, **kwargs))
    assert_close(activations.relu(torch.from_numpy(x), **kwargs), expected)


def test_activation_lookup_is_case_sensitive():
    with pytest.raises(ValueError, match="Invalid value for argument `activation`: expected one "
                                         r"of \('celu'"):
        Activation("Relu")
    assert activations.get(None) is activations.linear
    assert activations.get("swish") is activations.silu
    assert activations.serialize(activations.get("hard_swish")) == "hard_silu"


@pytest.mark.parametrize("name", activations.names())
def test_element_wise_means_layout_free(name):
    """What the layout pass relies on: an element-wise activation gives the same values
    on a permuted view (up to float32 rounding: torch's vectorized and strided kernels of
    e.g. gelu differ in the last bit); the others are the ones that act along an axis."""
    fn = activations.get(name)
    if name == "threshold":
        fn = functools.partial(fn, threshold=0.1, default_value=-1.0)
    x = torch.randn(2, 3, 4, 6)
    a, b = fn(x.movedim(-1, 1)), fn(x).movedim(-1, 1)
    same = a.shape == b.shape and torch.allclose(a, b, rtol=1e-6, atol=1e-6)
    assert activations.is_elementwise(activations.get(name)) == same
    assert not activations.is_elementwise(lambda t: t)  # unknown callables are not trusted
