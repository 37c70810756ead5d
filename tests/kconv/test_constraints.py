import keras
import numpy as np
import pytest
import torch

import kconv
from kconv import constraints
from kconv.layers import Conv2D, Dense

PAIRS = [
    (constraints.MaxNorm(0.5), keras.constraints.MaxNorm(0.5)),
    (constraints.MaxNorm(0.5, axis=[0, 1, 2]), keras.constraints.MaxNorm(0.5, axis=[0, 1, 2])),
    (constraints.NonNeg(), keras.constraints.NonNeg()),
    (constraints.UnitNorm(axis=3), keras.constraints.UnitNorm(axis=3)),
    (constraints.MinMaxNorm(0.2, 0.6, rate=0.7), keras.constraints.MinMaxNorm(0.2, 0.6, 0.7)),
    (constraints.get("max_norm"), keras.constraints.get("max_norm")),
    (constraints.get("unit_norm"), keras.constraints.get("unit_norm")),
    (constraints.get("min_max_norm"), keras.constraints.get("min_max_norm")),
]


@pytest.mark.parametrize("ours,theirs", PAIRS)
def test_projection_matches_keras_on_hwio_kernels(ours, theirs):
    w = np.random.default_rng(9).standard_normal((3, 3, 4, 5)).astype("float32")
    expected = keras.ops.convert_to_numpy(theirs(keras.ops.convert_to_tensor(w)))
    np.testing.assert_allclose(ours(torch.from_numpy(w)).numpy(), expected, rtol=1e-5, atol=1e-6)
    assert ours.get_config() == theirs.get_config()


@pytest.mark.parametrize("name", constraints.names())
def test_every_name_round_trips(name):
    c = constraints.get(name)
    assert constraints.get({"class_name": type(c).__name__, "config": c.get_config()}) == c


def test_layer_applies_constraint_in_keras_layout():
    layer = Conv2D(5, 3, kernel_constraint=constraints.MaxNorm(0.5, axis=[0, 1, 2]))
    layer.build_for((None, 8, 8, 4))
    with torch.no_grad():
        layer.weight.mul_(10)
    hwio = layer.weight.detach().permute(2, 3, 1, 0).clone()
    kconv.apply_constraints(layer)
    expected = keras.constraints.MaxNorm(0.5, axis=[0, 1, 2])(keras.ops.convert_to_tensor(
        hwio.numpy()))
    np.testing.assert_allclose(layer.weight.detach().permute(2, 3, 1, 0).numpy(),
                               keras.ops.convert_to_numpy(expected), rtol=1e-5, atol=1e-6)
    per_filter = layer.weight.detach().flatten(1).norm(dim=1)
    assert torch.all(per_filter <= 0.5 + 1e-5)


def test_constraints_run_after_each_step_not_at_init():
    layer = Dense(3, kernel_initializer=kconv.initializers.Constant(5.0),
                  kernel_constraint="max_norm")
    layer.build_for((None, 4))
    assert torch.all(layer.weight == 5.0)  # not applied at initialization
    opt = torch.optim.SGD(layer.parameters(), lr=0.0)
    handle = kconv.attach_constraints(opt, layer)
    layer(torch.ones(2, 4)).sum().backward()
    opt.step()
    # Keras axis 0 of the (in, units) kernel: one norm per unit, clipped to 2.
    assert torch.allclose(layer.weight.norm(dim=1), torch.full((3,), 2.0), atol=1e-5)
    handle.remove()


def test_only_parameters_in_the_optimizer_are_constrained():
    a = Dense(2, kernel_constraint="non_neg", kernel_initializer=kconv.initializers.Constant(-1.0))
    b = Dense(2, kernel_constraint="non_neg", kernel_initializer=kconv.initializers.Constant(-1.0))
    model = kconv.Sequential([kconv.Input((3,)), a, b])
    opt = torch.optim.SGD(a.parameters(), lr=0.0)
    kconv.attach_constraints(opt, model)
    opt.step()
    assert torch.all(a.weight == 0) and torch.all(b.weight == -1)


def test_validation_messages():
    with pytest.raises(ValueError) as info:
        constraints.MaxNorm(axis="0")
    assert str(info.value) == ("Invalid value for argument `axis`: expected an int or a list of "
                               "ints. Received: axis='0'")
    with pytest.raises(ValueError) as info:
        constraints.MinMaxNorm(rate=2)
    assert str(info.value) == ("Invalid value for argument `rate`: expected a number in "
                               "[0.0, 1.0]. Received: rate=2.0")
