import keras
import numpy as np
import pytest
import torch

import kconv
from kconv.layers import (Activation, AveragePooling2D, Conv2D, Dense, Dropout, Flatten,
                          GlobalAveragePooling2D, Input, MaxPooling2D)
from tests.keras_oracle import (assert_close, build_both, copy_model_from_keras, mnist_cnn,
                                strided_block, to_numpy)


@pytest.mark.parametrize("factory,shape", [(mnist_cnn, (28, 28, 1)),
                                           (strided_block, (64, 48, 3))])
def test_forward_matches_keras_with_copied_weights(factory, shape):
    k_model, model = build_both(factory, shape)
    copy_model_from_keras(k_model, model)
    model.eval()
    x = np.random.default_rng(10).random((2,) + shape).astype("float32")
    assert_close(model(torch.from_numpy(x)), to_numpy(k_model(x, training=False)), atol=1e-5)


def test_losses_match_keras():
    def factory(lib):
        L, R = lib.layers, lib.regularizers
        return [L.Conv2D(4, 3, kernel_regularizer=R.l2(0.0005), bias_regularizer=R.L1(0.01),
                         bias_initializer="random_normal", activity_regularizer="l2"),
                L.Flatten(), L.Dense(3, kernel_regularizer="l1l2", activity_regularizer=R.L1(0.1))]

    k_model, model = build_both(factory, (6, 6, 2))
    copy_model_from_keras(k_model, model)
    x = np.random.default_rng(11).standard_normal((4, 6, 6, 2)).astype("float32")
    k_model(x)
    model(torch.from_numpy(x))
    ours = sorted(v.item() for v in model.losses)
    theirs = sorted(float(to_numpy(v)) for v in k_model.losses)
    np.testing.assert_allclose(ours, theirs, rtol=1e-5)
    assert len(ours) == 5


def test_frozen_weights_have_no_penalty():
    layer = Dense(2, kernel_regularizer="l2")
    model = kconv.Sequential([Input((3,)), layer])
    assert len(model.losses) == 1
    layer.trainable = False
    assert model.losses == [] and model.trainable_weights == []
    assert len(model.non_trainable_weights) == 2


def test_input_shape_argument_builds_at_once():
    model = kconv.Sequential([Conv2D(8, 3, input_shape=(10, 10, 3)), Flatten(), Dense(2)])
    assert model.built and model.output_shape == (None, 2)
    assert model.count_params() == 8 * 27 + 8 + 512 * 2 + 2


def test_lazy_build_on_first_call_and_add():
    model = kconv.Sequential()
    model.add(Conv2D(4, 3, padding="same"))
    model.add(GlobalAveragePooling2D())
    assert not model.built
    with pytest.raises(ValueError, match="isn't built"):
        model.count_params()
    assert "0 (unbuilt)" in model.summary(return_string=True)
    y = model(torch.zeros(2, 5, 5, 3))
    assert y.shape == (2, 4) and model.built
    assert model.layers[0].output_shape == (None, 5, 5, 4)
    model.add(Dense(3))
    assert model(torch.zeros(2, 5, 5, 3)).shape == (2, 3)
    assert model.layers[-1].built  # built at add() since the model was built


def test_layers_are_indexed_like_nn_sequential():
    model = kconv.Sequential([Input((3,)), Dense(2), Activation("relu"), Dropout(0.1)])
    assert len(model) == 3 and isinstance(model[0], Dense)
    assert list(model.state_dict()) == ["0.weight", "0.bias"]
    assert [type(layer) for layer in model] == [Dense, Activation, Dropout]


def test_input_must_come_first_and_layers_must_be_kconv():
    with pytest.raises(ValueError, match="an Input can only come first"):
        kconv.Sequential([Dense(2), Input((3,))])
    with pytest.raises(TypeError) as info:
        kconv.Sequential([torch.nn.ReLU()])
    assert str(info.value) == ("Invalid type for argument `layer`: expected a kconv Layer or "
                               "Input. Received: layer=ReLU() of type ReLU")


def test_automatic_names_follow_keras():
    names = [Conv2D(1, 1).name, Conv2D(1, 1).name, MaxPooling2D().name, Dense(1, name="x").name,
             AveragePooling2D(2).name]
    assert names == ["conv2d", "conv2d_1", "max_pooling2d", "x", "average_pooling2d"]


def test_logits_skip_the_final_softmax():
    model = kconv.Sequential([Input((28, 28, 1))] + mnist_cnn(kconv)).eval()
    x = torch.rand(2, 28, 28, 1)
    assert torch.allclose(torch.softmax(model.logits(x), -1), model(x), atol=1e-6)
    with pytest.raises(ValueError) as info:
        kconv.Sequential([Input((3,)), Dense(2, name="out")], name="m").logits(torch.zeros(1, 3))
    assert str(info.value) == ("Layer 'm' (Sequential): logits needs a last layer that applies "
                               "softmax or sigmoid; the model has last layer 'out' (Dense)")
    with pytest.raises(ValueError, match="the model has no layers"):
        kconv.Sequential(name="m").logits(torch.zeros(1, 3))


def test_config_starts_with_the_input_layer_as_in_keras():
    model = kconv.Sequential([Input((3,), name="features"), Dense(2)], name="m")
    keras.backend.clear_session()
    theirs = keras.Sequential([keras.Input((3,), name="features"), keras.layers.Dense(2)])
    ours = model.get_config()
    keras_input = theirs.get_config()["layers"][0]
    assert ours["layers"][0]["class_name"] == keras_input["class_name"] == "InputLayer"
    for key in ("batch_shape", "name"):
        assert ours["layers"][0]["config"][key] == keras_input["config"][key]
    assert [entry["class_name"] for entry in ours["layers"]] == ["InputLayer", "Dense"]
    assert kconv.Sequential([Dense(2)]).get_config()["layers"][0]["class_name"] == "Dense"


def test_a_sequential_with_an_input_records_its_graph_like_keras():
    model = kconv.Sequential([Input((28, 28, 1)), Conv2D(4, 3), Flatten(), Dense(10)])
    assert model.input.shape == (None, 28, 28, 1) and model.output.shape == (None, 10)
    assert model.inputs == [model.input] and model.outputs == [model.output]
    features = kconv.Model(model.input, model.layers[-2].output)  # a feature extractor
    x = torch.rand(2, 28, 28, 1)
    assert torch.equal(features(x), model.layers[1](model.layers[0](x)))
    assert features.layers[1] is model.layers[0]  # the same weights
    with pytest.raises(ValueError, match="has no output tensor: it was not given an Input"):
        kconv.Sequential([Dense(2)]).output
    with pytest.raises(ValueError, match="Layer 'd' has 0 inbound nodes, so its output is not "
                                         "defined"):
        Dense(2, name="d").output
