import keras
import numpy as np
import pytest
import torch

from kconv.layers import BatchNormalization
from tests.keras_oracle import assert_close, copy_from_keras, keras_call, to_numpy


def _pair(shape, **kwargs):
    k_layer = keras.layers.BatchNormalization(
        gamma_initializer="random_normal", beta_initializer="random_normal", **kwargs)
    k_layer.build(shape)
    layer = BatchNormalization(**kwargs)
    layer.build_for((None,) + shape[1:])
    copy_from_keras(k_layer, layer)
    return k_layer, layer


@pytest.mark.parametrize("shape,axis", [((8, 5, 5, 4), -1), ((8, 4, 5, 5), 1), ((16, 6), -1),
                                        ((3, 2, 2, 4), 3), ((8, 5, 5, 4), 2)])
@pytest.mark.parametrize("momentum", [0.99, 0.5])
def test_training_steps_match_keras(shape, axis, momentum):
    k_layer, layer = _pair(shape, axis=axis, momentum=momentum)
    rng = np.random.default_rng(7)
    for _ in range(4):
        x = (rng.standard_normal(shape) * 3 + 1).astype("float32")
        expected = keras_call(k_layer, x, training=True)
        assert_close(layer(torch.from_numpy(x)), expected, atol=1e-4)
    assert_close(layer.running_mean, to_numpy(k_layer.moving_mean), atol=1e-5)
    assert_close(layer.running_var, to_numpy(k_layer.moving_variance), atol=1e-5)
    layer.eval()
    x = rng.standard_normal(shape).astype("float32")
    assert_close(layer(torch.from_numpy(x)), keras_call(k_layer, x, training=False), atol=1e-4)


def test_moving_variance_is_biased_like_keras():
    layer = BatchNormalization(momentum=0.0)
    x = torch.randn(6, 3)
    layer(x)
    assert torch.allclose(layer.running_var, x.var(dim=0, unbiased=False), atol=1e-6)


def test_a_layer_called_twice_before_backward_matches_keras():
    """The moving statistics are updated in place by each call; a layer used twice in one
    graph still back-propagates (autograd's version checks) and moves them as Keras does."""
    shape = (4, 5, 5, 3)
    k_layer, layer = _pair(shape)
    rng = np.random.default_rng(3)
    a, b = ((rng.standard_normal(shape) * s).astype("float32") for s in (1, 3))
    xa, xb = (torch.from_numpy(v).requires_grad_() for v in (a, b))
    (layer(xa) * layer(xb)).sum().backward()
    assert xa.grad is not None and torch.isfinite(xb.grad).all()
    keras_call(k_layer, a, training=True)
    keras_call(k_layer, b, training=True)
    assert_close(layer.running_mean, to_numpy(k_layer.moving_mean), atol=1e-5)
    assert_close(layer.running_var, to_numpy(k_layer.moving_variance), atol=1e-5)


def test_no_center_no_scale_and_parameter_counts():
    k_layer, layer = _pair((4, 3, 3, 5), center=False, scale=False)
    assert [n for n, _ in layer.named_parameters()] == []
    assert layer.count_params() == k_layer.count_params() == 10
    full = BatchNormalization()
    full.build_for((None, 3, 3, 5))
    assert full.count_params() == 20
    assert len(full.trainable_weights) == 2 and len(full.non_trainable_weights) == 2


def test_frozen_layer_runs_in_inference_mode():
    layer = BatchNormalization(trainable=False)
    x = torch.randn(8, 4) * 5
    y = layer(x)
    assert torch.allclose(y, x / (1 + 1e-3) ** 0.5, atol=1e-5)
    assert torch.equal(layer.running_mean, torch.zeros(4))


def test_batch_of_one_gives_beta():
    layer = BatchNormalization(beta_initializer="ones")
    assert torch.equal(layer(torch.randn(1, 3)), torch.ones(1, 3))


def test_bf16_input_is_normalized_in_float32():
    """Under autocast, bf16 activations are normalized in float32 and stay bf16; outside
    it, a bf16 input takes the layer's float32, as Keras casts inputs."""
    layer = BatchNormalization()
    x = torch.randn(16, 4, 4, 8)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = layer(x.bfloat16())
    assert y.dtype == torch.bfloat16
    assert torch.allclose(y.float(), BatchNormalization()(x), atol=5e-2)
    assert BatchNormalization()(x.bfloat16()).dtype == torch.float32


def test_state_dict_uses_torch_names():
    layer = BatchNormalization()
    layer(torch.randn(4, 2, 2, 3))
    assert set(layer.state_dict()) == {"weight", "bias", "running_mean", "running_var"}


def test_axis_validation():
    with pytest.raises(TypeError) as info:
        BatchNormalization(axis=[1, 2])
    assert str(info.value) == ("Invalid type for argument `axis`: expected an int. "
                               "Received: axis=[1, 2] of type list")
    with pytest.raises(ValueError, match="axis 4 is out of range"):
        BatchNormalization(axis=4, name="bn").build_for((None, 3, 3, 2))
