import keras
import pytest
import torch

from kconv.layers import Input, InputLayer
from kconv.symbolic import KerasTensor


def test_input_is_a_symbolic_tensor_like_keras():
    keras.backend.clear_session()
    ours, theirs = Input((28, 28, 1)), keras.Input((28, 28, 1))
    assert isinstance(ours, KerasTensor)
    assert ours.shape == theirs.shape == (None, 28, 28, 1)
    assert ours.dtype == theirs.dtype == "float32" and ours.ndim == 4
    assert Input(10, batch_size=4).shape == (4, 10)
    assert Input(batch_shape=(2, 3), dtype=torch.float64).dtype == "float64"
    layer = ours._keras_history[0]
    assert isinstance(layer, InputLayer) and layer.output is ours
    assert layer.get_config() == keras.Input((28, 28, 1))._keras_history[0].get_config() | {
        "name": layer.name}


def test_input_names_follow_keras():
    keras.backend.clear_session()
    theirs = [keras.Input((3,)) for _ in range(2)] + [keras.Input((3,), name="image")]
    ours = [Input((3,)) for _ in range(2)] + [Input((3,), name="image")]
    for a, b in zip(ours, theirs):
        assert a.name == b.name and a._keras_history[0].name == b._keras_history[0].name
    assert [t._keras_history[0].name for t in ours] == ["input_layer", "input_layer_1", "image"]


def test_input_layer_is_the_identity_on_data():
    layer = Input((3,))._keras_history[0]
    x = torch.rand(2, 3)
    assert layer(x) is x


@pytest.mark.parametrize("kwargs,error,message", [
    (dict(shape=(28, -1)), ValueError, "Invalid value for argument `shape`: expected a tuple "
                                       "of positive ints or None. Received: shape=(28, -1)"),
    (dict(), ValueError, "Invalid value for argument `shape`"),
    (dict(shape=(3,), batch_size=0), ValueError, "Invalid value for argument `batch_size`"),
    (dict(shape=(3,), batch_shape=(None, 3)), ValueError,
     "Invalid value for argument `batch_shape`: expected None when shape or batch_size"),
    (dict(shape=(3,), dtype="float33"), ValueError, "Invalid value for argument `dtype`"),
    (dict(shape=(3,), dtype=3), TypeError, "Invalid type for argument `dtype`"),
    (dict(shape=(3,), sparse=True), ValueError, "Invalid value for argument `sparse`"),
    (dict(shape=(3,), name=3), TypeError, "Invalid type for argument `name`"),
])
def test_input_validation(kwargs, error, message):
    with pytest.raises(error, match=message.replace("(", r"\(").replace(")", r"\)")):
        Input(**kwargs)
