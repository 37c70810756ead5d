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
