import keras
import numpy as np
import pytest
import torch

from kconv.layers import Dense
from tests.keras_oracle import assert_close, copy_from_keras, keras_call


@pytest.mark.parametrize("shape", [(4, 7), (1, 3), (2, 5, 6)])
@pytest.mark.parametrize("activation", [None, "relu", "softmax"])
def test_dense_matches_keras(shape, activation):
    k_layer = keras.layers.Dense(5, activation=activation, bias_initializer="random_normal")
    k_layer.build(shape)
    layer = Dense(5, activation=activation)
    layer.build_for((None,) + shape[1:])
    copy_from_keras(k_layer, layer)
    x = np.random.default_rng(1).standard_normal(shape).astype("float32")
    assert_close(layer(torch.from_numpy(x)), keras_call(k_layer, x))
    assert layer.count_params() == k_layer.count_params()


def test_dense_stores_linear_layout():
    layer = Dense(3)
    layer(torch.zeros(2, 4))
    assert layer.weight.shape == (3, 4)
    assert layer.state_dict().keys() == torch.nn.Linear(4, 3).state_dict().keys()


def test_units_validation():
    with pytest.raises(ValueError) as info:
        Dense(0)
    assert str(info.value) == ("Invalid value for argument `units`: expected an int >= 1. "
                               "Received: units=0")


def test_rank_and_size_errors():
    layer = Dense(2, name="d")
    with pytest.raises(ValueError) as info:
        layer(torch.zeros(3))
    assert str(info.value) == ("Input 0 of layer 'd' (Dense) is incompatible with the layer: "
                               "expected min_ndim=2, found ndim=1. Full shape received: (3,)")
    layer(torch.zeros(1, 4))
    with pytest.raises(ValueError, match="expected axis -1 of input shape to have value 4"):
        layer(torch.zeros(1, 5))
