"""kconv.ops against keras.ops: eager values, the graph nodes symbolic tensors record (names,
classes, constants), and misuse. Graphs using them are in tests/keras_oracle.py
('arithmetic'), compared with Keras's outputs, summaries and files there."""

import keras
import numpy as np
import pytest
import torch

import kconv
from kconv import ops

BINARY = ["add", "subtract", "multiply", "divide", "true_divide", "maximum", "minimum",
          "power"]


@pytest.mark.parametrize("name", BINARY)
@pytest.mark.parametrize("operands", ["tensors", "tensor_number", "number_tensor",
                                      "broadcast"])
def test_eager_values_are_kerass(name, operands):
    rng = np.random.default_rng(0)
    a = rng.uniform(0.5, 2.0, (2, 3, 4)).astype("float32")
    b = rng.uniform(0.5, 2.0, (2, 3, 4) if operands != "broadcast" else (4,)).astype("float32")
    x1, x2 = {"tensors": (a, b), "broadcast": (a, b), "tensor_number": (a, 1.5),
              "number_tensor": (1.5, b)}[operands]
    theirs = keras.ops.convert_to_numpy(getattr(keras.ops, name)(x1, x2))
    ours = getattr(ops, name)(*[torch.from_numpy(x) if isinstance(x, np.ndarray) else x
                                for x in (x1, x2)])
    np.testing.assert_allclose(ours.numpy(), theirs, rtol=1e-6)
    assert ours.dtype == torch.float32


def test_negative_and_numpy_operands():
    x = np.array([[1.0, -2.0]], dtype="float32")
    assert torch.equal(ops.negative(torch.from_numpy(x)), torch.tensor([[-1.0, 2.0]]))
    assert torch.equal(ops.add(x, x), torch.tensor([[2.0, -4.0]]))


OPERATORS = {"x + 3.0": ("Add", [None, 3.0]), "3.0 + x": ("Add", [3.0, None]),
             "x - 1": ("Subtract", [None, 1]), "1 - x": ("Subtract", [1, None]),
             "x * 0.5": ("Multiply", [None, 0.5]), "2 * x": ("Multiply", [2, None]),
             "x / 4.0": ("TrueDivide", [None, 4.0]), "1.0 / x": ("TrueDivide", [1.0, None]),
             "x ** 2": ("Power", [None, 2]), "2.0 ** x": ("Power", [2.0, None]),
             "-x": ("Negative", [None]), "x * x": ("Multiply", [None, None])}


@pytest.mark.parametrize("expression", OPERATORS)
def test_symbolic_operators_record_kerass_operation(expression):
    keras.backend.clear_session()
    kconv.clear_session()
    k_out = eval(expression, {"x": keras.Input((3,))})
    out = eval(expression, {"x": kconv.Input((3,))})
    k_op, op = k_out._keras_history.operation, out._keras_history[0]
    cls, constants = OPERATORS[expression]
    assert type(k_op).__name__ == type(op).__name__ == cls
    assert op.name == k_op.name and list(op.constants) == constants
    assert out.shape == tuple(k_out.shape)


def test_operations_are_not_layers_but_are_in_the_graph():
    x = kconv.Input((4,))
    model = kconv.Model(x, kconv.layers.Dense(2)(x * 2.0) + 1.0)
    assert [type(layer).__name__ for layer in model.layers] == ["InputLayer", "Dense"]
    assert [type(op).__name__ for op in model.operations] == [
        "InputLayer", "Multiply", "Dense", "Add"]
    y = model(torch.ones(3, 4))
    torch.testing.assert_close(y, model.get_layer("dense")(torch.full((3, 4), 2.0)) + 1.0)


@pytest.mark.parametrize("shapes", [((5, 1, 3), (4, 3)), ((5, 1, 3), (1, 4, 3)),
                                    ((1,), (2, 1)), ((3,), ())])
def test_symbolic_shapes_broadcast_as_kerass(shapes):
    ours = ops.add(*[kconv.Input(s) for s in shapes]).shape
    assert ours == tuple(keras.ops.add(*[keras.Input(s) for s in shapes]).shape)


def test_shapes_that_do_not_broadcast_are_refused():
    with pytest.raises(ValueError, match=r"Cannot broadcast .* size 3 against 2"):
        ops.add(kconv.Input((5, 1, 3)), kconv.Input((4, 2)))


def test_misuse_is_named():
    x = kconv.Input((3,))
    with pytest.raises(TypeError, match=r"x2.*a KerasTensor or a number"):
        ops.add(x, np.ones(3))
    with pytest.raises(ValueError, match="constants"):
        ops.Add([1.0, 2.0])
    with pytest.raises(ValueError, match="constants"):
        ops.Add([None, "3"])
    with pytest.raises(ValueError, match="takes 1 tensor operand"):
        ops.Add([None, 3.0]).build_for([(None, 3), (None, 3)])


def test_an_unknown_operation_in_a_file_is_refused_by_name(tmp_path):
    x = keras.Input((3,))
    keras.Model(x, keras.ops.sqrt(x)).save(tmp_path / "m.keras")
    with pytest.raises(ValueError) as info:
        kconv.models.load_model(tmp_path / "m.keras")
    assert "\n" not in str(info.value) and "operation 'Sqrt'" in str(info.value)


def test_eager_helpers_are_kerass():
    """The keras.ops helpers keras.io's examples call on images and predictions."""
    x = np.random.default_rng(0).normal(size=(2, 3, 1)).astype("float32")
    for name, args in (("expand_dims", (0,)), ("squeeze", ()), ("sigmoid", ()),
                       ("softmax", ()), ("argmax", (1,)), ("convert_to_numpy", ())):
        ours = ops.convert_to_numpy(getattr(ops, name)(x, *args))
        theirs = keras.ops.convert_to_numpy(getattr(keras.ops, name)(x, *args))
        np.testing.assert_allclose(ours, theirs, rtol=1e-6, err_msg=name)
    assert ops.convert_to_tensor([1, 2], dtype="float32").dtype == torch.float32
    with pytest.raises(TypeError, match="outside graphs"):
        ops.expand_dims(kconv.Input((3,)), 0)
