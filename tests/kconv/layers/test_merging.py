import keras
import numpy as np
import pytest
import torch

from kconv import layers
from tests.keras_oracle import assert_close, to_numpy

RNG = np.random.default_rng(5)


def _both(name, inputs, **kwargs):
    keras.backend.clear_session()
    xs = [RNG.standard_normal(shape).astype("float32") for shape in inputs]
    theirs = to_numpy(getattr(keras.layers, name)(**kwargs)(
        [keras.ops.convert_to_tensor(x) for x in xs]))
    layer = getattr(layers, name)(**kwargs)
    ours = layer([torch.from_numpy(x) for x in xs])
    return layer, ours, theirs, xs


@pytest.mark.parametrize("name", ["Add", "Multiply", "Average", "Maximum", "Minimum"])
@pytest.mark.parametrize("inputs", [[(2, 3)] * 3, [(2, 4, 4, 3), (2, 4, 4, 1)],
                                    [(2, 4, 3), (2, 3)], [(2, 1, 3), (2, 5, 3)]])
def test_elementwise_layers_match_keras(name, inputs):
    layer, ours, theirs, _ = _both(name, inputs)
    assert_close(ours, theirs)
    shapes = [(None,) + s[1:] for s in inputs]
    assert layer.compute_output_shape(shapes) == (None,) + theirs.shape[1:]


def test_subtract_takes_exactly_two_inputs():
    _, ours, theirs, _ = _both("Subtract", [(2, 3), (2, 3)])
    assert_close(ours, theirs)
    with pytest.raises(ValueError) as info:
        layers.Subtract()([torch.zeros(1, 3)] * 3)
    assert str(info.value) == ("A `Subtract` layer should be called on exactly 2 inputs. "
                               "Received: input_shape=[(1, 3), (1, 3), (1, 3)]")


@pytest.mark.parametrize("axis,inputs", [(-1, [(2, 4, 4, 3), (2, 4, 4, 5)]),
                                         (1, [(2, 3, 4), (2, 2, 4), (2, 1, 4)]),
                                         (-2, [(2, 3, 4), (2, 2, 4)])])
def test_concatenate_matches_keras(axis, inputs):
    layer, ours, theirs, _ = _both("Concatenate", inputs, axis=axis)
    assert_close(ours, theirs, atol=0)
    assert layer.compute_output_shape([(None,) + s[1:] for s in inputs]) == \
        (None,) + theirs.shape[1:]
    assert layer.get_config()["axis"] == axis


def test_concatenate_refuses_mismatched_shapes():
    with pytest.raises(ValueError) as info:
        layers.Concatenate()([torch.zeros(2, 3, 4), torch.zeros(2, 2, 4)])
    assert str(info.value) == (
        "A `Concatenate` layer requires inputs with matching shapes except for the "
        "concatenation axis. Received: input_shape=[(2, 3, 4), (2, 2, 4)]")


@pytest.mark.parametrize("axes,inputs", [(1, [(3, 4), (3, 4)]), (-1, [(3, 4), (3, 4)]),
                                         ((2, 1), [(3, 5, 4), (3, 4, 6)]),
                                         ((1, 2), [(3, 5, 4), (3, 6, 5)]),
                                         (2, [(3, 5, 4), (3, 6, 4)])])
@pytest.mark.parametrize("normalize", [False, True])
def test_dot_matches_keras(axes, inputs, normalize):
    layer, ours, theirs, _ = _both("Dot", inputs, axes=axes, normalize=normalize)
    assert_close(ours, theirs, atol=1e-5)
    assert layer.compute_output_shape([(None,) + s[1:] for s in inputs]) == \
        (None,) + theirs.shape[1:]


def test_dot_errors():
    with pytest.raises(ValueError) as info:
        layers.Dot(axes=1)([torch.zeros(2, 3), torch.zeros(2, 4)])
    assert str(info.value) == ("Incompatible input shapes: axis values 3 (at axis 1) != 4 (at "
                               "axis 1). Full input shapes: (2, 3), (2, 4)")
    with pytest.raises(ValueError, match="Invalid value for argument `axes`"):
        layers.Dot(axes=(1, 2, 3))
    with pytest.raises(TypeError, match="Invalid type for argument `normalize`"):
        layers.Dot(axes=1, normalize="yes")


def test_merge_errors_follow_keras():
    with pytest.raises(ValueError) as theirs:
        keras.layers.Add()([keras.Input((3,)), keras.Input((4,))])
    with pytest.raises(ValueError) as ours:
        layers.Add()([torch.zeros(2, 3), torch.zeros(2, 4)])
    assert str(ours.value) == str(theirs.value) == (
        "Inputs have incompatible shapes. Received shapes (3,) and (4,)")
    with pytest.raises(ValueError, match="Cannot merge tensors with different batch sizes"):
        layers.Add().build_for([(2, 3), (3, 3)])
    with pytest.raises(ValueError, match="A merge layer should be called on a list of inputs"):
        layers.Add().build_for((None, 3))
    with pytest.raises(TypeError, match="Invalid type for argument `inputs`"):
        layers.Add()([torch.zeros(2, 3), "x"])


def test_functional_forms_and_gradients():
    a, b = torch.rand(2, 3, requires_grad=True), torch.rand(2, 3)
    assert torch.equal(layers.add([a, b]), a + b)
    assert torch.equal(layers.subtract([a, b]), a - b)
    assert torch.equal(layers.multiply([a, b]), a * b)
    assert torch.equal(layers.concatenate([a, b], axis=0), torch.cat([a, b]))
    assert torch.allclose(layers.average([a, b]), (a + b) / 2)
    assert torch.equal(layers.maximum([a, b]), torch.maximum(a, b))
    assert torch.equal(layers.minimum([a, b]), torch.minimum(a, b))
    assert layers.dot([a, b], axes=1).shape == (2, 1)
    layers.add([a, b]).sum().backward()
    assert torch.equal(a.grad, torch.ones(2, 3))


def test_dot_normalize_of_a_zero_vector_has_keras_finite_gradients():
    """Regression (#31, fuzzer seed 283): x / max(norm, eps) differentiated sqrt at 0 and
    trained to NaN (Keras's own x * min(rsqrt(sum x²), 1/eps) does too); TensorFlow's
    x * rsqrt(max(sum x², eps²)) gives Keras's values with a finite gradient."""
    values = np.array([[0.0, 0.0, 0.0], [1.0, -2.0, 0.5]], "float32")
    other = np.array([[0.3, 0.1, -0.2], [0.5, 0.4, 1.0]], "float32")
    x = torch.tensor(values, requires_grad=True)
    out = layers.Dot(axes=1, normalize=True)([x, torch.tensor(other)])
    out.sum().backward()
    assert torch.isfinite(x.grad).all()
    k_x = torch.tensor(values, requires_grad=True)
    expected = keras.layers.Dot(axes=1, normalize=True)([k_x, torch.tensor(other)])
    expected.sum().backward()
    assert_close(out, to_numpy(expected))
    assert_close(x.grad[1], k_x.grad[1].numpy())  # where Keras's gradient is finite
