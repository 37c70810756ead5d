"""Exact messages for the validation branches not covered next to their layers."""

import pytest
import torch

from kconv import activations, constraints, initializers, regularizers, validation
from kconv.layers import BatchNormalization, Conv2D, Dense, Dropout, Input


@pytest.mark.parametrize("make,error,message", [
    (lambda: Dropout(0.5, noise_shape=3), ValueError,
     "Invalid value for argument `noise_shape`: expected None or a tuple of ints or None. "
     "Received: noise_shape=3"),
    (lambda: Dropout(0.5, seed=1.5), ValueError,
     "Invalid value for argument `seed`: expected None or an int. Received: seed=1.5"),
    (lambda: Dropout("0.5"), TypeError,
     "Invalid type for argument `rate`: expected a number. Received: rate='0.5' of type str"),
    (lambda: Input((2,), batch_size=0), ValueError,
     "Invalid value for argument `batch_size`: expected None or a positive int. "
     "Received: batch_size=0"),
    (lambda: Conv2D(2, 3, input_shape="abc"), ValueError,
     "Invalid value for argument `input_shape`: expected a tuple of positive ints or None. "
     "Received: input_shape='abc'"),
    (lambda: initializers.RandomNormal(seed="1"), ValueError,
     "Invalid value for argument `seed`: expected None or an int. Received: seed='1'"),
    (lambda: initializers.RandomNormal(stddev=-1), ValueError,
     "Invalid value for argument `stddev`: expected a number >= 0.0. Received: stddev=-1.0"),
    (lambda: initializers.Orthogonal()((3,)), ValueError,
     "Invalid value for argument `shape`: expected a shape of rank >= 2 for Orthogonal. "
     "Received: shape=(3,)"),
    (lambda: initializers.VarianceScaling(distribution="gamma"), ValueError,
     "Invalid value for argument `distribution`: expected one of ('truncated_normal', "
     "'untruncated_normal', 'uniform'). Received: distribution='gamma'"),
    (lambda: initializers.get(3), TypeError,
     "Invalid type for argument `initializer`: expected None, a name, a config dict or an "
     "instance of Initializer. Received: initializer=3 of type int"),
    (lambda: initializers.get({"config": {}}), ValueError,
     "Invalid value for argument `initializer`: expected a config dict with a 'class_name' "
     "key. Received: initializer={'config': {}}"),
    (lambda: regularizers.OrthogonalRegularizer(mode="diag"), ValueError,
     "Invalid value for argument `mode`: expected one of ('rows', 'columns'). "
     "Received: mode='diag'"),
    (lambda: constraints.MaxNorm(max_value=-1), ValueError,
     "Invalid value for argument `max_value`: expected a number >= 0.0. Received: max_value=-1.0"),
    (lambda: activations.get(3), TypeError,
     "Invalid type for argument `activation`: expected None, an activation name or a "
     "callable. Received: activation=3 of type int"),
    (lambda: BatchNormalization(momentum=1.5), ValueError,
     "Invalid value for argument `momentum`: expected a number in [0.0, 1.0]. "
     "Received: momentum=1.5"),
    (lambda: BatchNormalization(epsilon=0), ValueError,
     "Invalid value for argument `epsilon`: expected a number > 0.0. Received: epsilon=0.0"),
    (lambda: validation.check_float("x", float("inf")), ValueError,
     "Invalid value for argument `x`: expected a finite number. Received: x=inf"),
    (lambda: validation.check_int("units", True), TypeError,
     "Invalid type for argument `units`: expected an int. Received: units=True of type bool"),
])
def test_messages(make, error, message):
    with pytest.raises(error) as info:
        make()
    assert str(info.value) == message


def test_unknown_channel_and_feature_sizes():
    with pytest.raises(ValueError) as info:
        Conv2D(2, 3, name="c").build_for((None, 5, 5, None))
    assert str(info.value) == ("Layer 'c' (Conv2D): axis -1 of the input must be known to build "
                               "the layer; received input shape (None, 5, 5, None)")
    with pytest.raises(ValueError) as info:
        Dense(2, name="d").build_for((None, None))
    assert str(info.value) == ("Layer 'd' (Dense): axis -1 of the input must be known to build "
                               "the layer; received input shape (None, None)")
    with pytest.raises(ValueError) as info:
        BatchNormalization(name="b").build_for((None, 3, None))
    assert str(info.value) == ("Layer 'b' (BatchNormalization): axis -1 of the input must be "
                               "known to build the layer; received input shape (None, 3, None)")
    with pytest.raises(ValueError) as info:
        BatchNormalization(axis=4, name="b").build_for((None, 3, 3))
    assert str(info.value) == ("Layer 'b' (BatchNormalization): axis 4 is out of range for an "
                               "input of shape (None, 3, 3)")


def test_callables_are_accepted_as_identifiers():
    def init(shape, dtype=None):
        return torch.full(shape, 0.5)

    layer = Dense(2, kernel_initializer=init, activation=torch.tanh)
    layer(torch.zeros(1, 3))
    assert torch.all(layer.weight == 0.5)
    assert layer.get_config()["kernel_initializer"]["class_name"] == "init"
