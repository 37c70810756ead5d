"""The protocols of the Layer base: weight specs, Keras's get/set_weights, the error
templates and the sliding-window output size."""

import keras
import numpy as np
import pytest
import torch

import kconv
from kconv.layers import BatchNormalization, Conv2D, Dense, Input, MaxPooling2D, WeightSpec
from kconv.validation import InputTooSmallError
from tests.keras_oracle import build_both, copy_model_from_keras, strided_block


def test_weight_specs_name_the_torch_tensors_and_their_keras_shapes():
    conv = Conv2D(8, (3, 5), groups=2)
    conv.build_for((None, 10, 10, 4))
    assert list(conv.weight_specs) == ["weight", "bias"]
    spec = conv.weight_specs["weight"]
    assert isinstance(spec, WeightSpec) and spec.keras_shape == (3, 5, 2, 8)
    assert conv.weight.shape == (8, 2, 3, 5)
    assert spec.to_keras(conv.weight).shape == spec.keras_shape
    assert torch.equal(spec.from_keras(spec.to_keras(conv.weight)), conv.weight)
    bn = BatchNormalization()
    bn.build_for((None, 3))
    assert list(bn.weight_specs) == ["weight", "bias", "running_mean", "running_var"]


def test_get_weights_equals_keras_in_layout_and_order():
    k_model, model = build_both(strided_block, (32, 24, 3))
    copy_model_from_keras(k_model, model)  # through set_weights
    ours, theirs = model.get_weights(), k_model.get_weights()
    assert [w.shape for w in ours] == [w.shape for w in theirs]
    for a, b in zip(ours, theirs):
        np.testing.assert_array_equal(a, b)
    assert all(w.flags["C_CONTIGUOUS"] for w in ours)


def test_get_weights_returns_copies():
    dense = Dense(2)
    dense.build_for((None, 3))
    kernel = dense.get_weights()[0]
    kernel[:] = 7.0
    assert not torch.any(dense.weight == 7.0)


def test_set_weights_checks_count_and_shapes():
    dense = Dense(2, name="d")
    dense.build_for((None, 3))
    with pytest.raises(ValueError) as info:
        dense.set_weights([np.zeros((3, 2))])
    assert str(info.value) == ("Layer 'd' (Dense): set_weights received 1 arrays, but the layer "
                               "has 2 weights")
    with pytest.raises(ValueError) as info:
        dense.set_weights([np.zeros((2, 3)), np.zeros(2)])
    assert str(info.value) == ("Layer 'd' (Dense): weight 'd.weight' has Keras shape (3, 2); "
                               "set_weights received shape (2, 3)")
    dense.set_weights([np.arange(6.0).reshape(3, 2), np.ones(2)])
    assert torch.equal(dense.weight, torch.arange(6.0).reshape(3, 2).t())
    assert dense.weight.dtype == torch.float32


def test_keras_reads_what_set_weights_wrote():
    keras.backend.clear_session()
    k_conv = keras.layers.Conv2D(4, 3)
    k_conv.build((None, 6, 6, 2))
    conv = Conv2D(4, 3)
    conv.build_for((None, 6, 6, 2))
    conv.set_weights([np.random.default_rng(0).standard_normal(w.shape) for w in
                      k_conv.get_weights()])
    k_conv.set_weights(conv.get_weights())
    x = np.random.default_rng(1).standard_normal((1, 6, 6, 2)).astype("float32")
    np.testing.assert_allclose(conv(torch.from_numpy(x)).detach().numpy(),
                               keras.ops.convert_to_numpy(k_conv(x)), atol=1e-5)


def test_too_small_inputs_raise_one_typed_error_for_every_window_layer():
    for layer in (Conv2D(1, 5), MaxPooling2D(4), Conv2D(1, 3, strides=2, dilation_rate=1)):
        with pytest.raises(InputTooSmallError):
            layer.build_for((None, 2, 2, 1))
    assert issubclass(InputTooSmallError, ValueError)
    model = kconv.Sequential([Input((3, 3, 1)), Conv2D(1, 2)])
    with pytest.raises(InputTooSmallError):
        model.add(Conv2D(1, 3))
    assert len(model) == 1 and model.output_shape == (None, 2, 2, 1)  # unchanged


MISUSES = [
    (lambda L: L.Dense(2, use_bias="False"), TypeError,
     "Invalid type for argument `use_bias`: expected a bool (True or False). Received: "
     "use_bias='False' of type str"),
    (lambda L: L.Conv2D(2, 3, use_bias=1), TypeError,
     "Invalid type for argument `use_bias`: expected a bool (True or False). Received: "
     "use_bias=1 of type int"),
    (lambda L: L.BatchNormalization(center="yes"), TypeError,
     "Invalid type for argument `center`: expected a bool (True or False). Received: "
     "center='yes' of type str"),
    (lambda L: L.GlobalMaxPooling2D(keepdims=None), TypeError,
     "Invalid type for argument `keepdims`: expected a bool (True or False). Received: "
     "keepdims=None of type NoneType"),
    (lambda L: L.Dense(2, trainable="no"), TypeError,
     "Invalid type for argument `trainable`: expected a bool (True or False). Received: "
     "trainable='no' of type str"),
    (lambda L: L.Conv2D(2, 3, name="c")(torch.zeros(1, 5, 5, 3, dtype=torch.uint8)), TypeError,
     "Layer 'c' (Conv2D): expects floating-point inputs; received torch.uint8 (scale integer "
     "images to floats first, e.g. x.float() / 255)"),
    (lambda L: L.Conv2D(2, 3, name="c")(torch.zeros(1, 2, 2, 3)), ValueError,
     "Layer 'c' (Conv2D): computed output size would be zero or negative. Received inputs "
     "shape=(1, 2, 2, 3), kernel_size=(3, 3), strides=(1, 1), padding=valid."),
    (lambda L: L.BatchNormalization(axis=5, name="bn")(torch.zeros(2, 3, 3, 4)), ValueError,
     "Layer 'bn' (BatchNormalization): axis 5 is out of range for an input of shape "
     "(2, 3, 3, 4)"),
]


@pytest.mark.parametrize("make, error, message", MISUSES)
def test_misuse_is_one_exact_message(make, error, message):
    with pytest.raises(error) as info:
        make(kconv.layers)
    assert str(info.value) == message


def test_float64_inputs_take_the_layers_dtype_as_in_keras():
    conv, dense = kconv.layers.Conv2D(2, 3), kconv.layers.Dense(3)
    x = torch.rand(2, 5, 5, 1, dtype=torch.float64)
    assert conv(x).dtype == torch.float32 and dense(x.reshape(2, -1)).dtype == torch.float32
    expected = conv(x.float())
    assert torch.equal(conv(x), expected)
    with torch.autocast("cpu", dtype=torch.bfloat16):  # autocast decides there
        assert conv(x.float()).dtype == torch.bfloat16


def test_the_training_argument(tmp_path):
    """Keras's ``training=``: on tensors, for that call only; in a graph, the mode of that
    layer whatever the model's (kept by kconv's files of nested models)."""
    dropout = kconv.layers.Dropout(0.5)
    dropout.eval()
    x = torch.ones(4, 100)
    assert not torch.equal(dropout(x, training=True), x) and not dropout.training
    dropout.train()
    assert torch.equal(dropout(x, training=False), x) and dropout.training
    inner = kconv.Sequential([kconv.Input((3,)), kconv.layers.BatchNormalization(),
                              kconv.layers.Dropout(0.9)])
    inputs = kconv.Input((3,))
    model = kconv.Model(inputs, kconv.layers.Dense(2)(inner(inputs, training=False)))
    model.train()
    assert model.training and not any(m.training for m in inner.modules())
    model.compile("sgd", "mse")
    model.fit(np.ones((8, 3), "float32") * 5, np.zeros((8, 2), "float32"), verbose=0)
    np.testing.assert_array_equal(inner.layers[0].get_weights()[2], np.zeros(3))  # moving mean
    model.save(tmp_path / "m.keras")
    again = kconv.models.load_model(tmp_path / "m.keras").train()
    assert not any(m.training for m in again.layers[1].modules())
    with pytest.raises(TypeError, match="training"):
        dropout(x, training="no")
