import numpy as np
import pytest
import torch

import kconv
import models
from tests.keras_oracle import assert_close, copy_model_from_keras, keras_model_like, to_numpy

SMALL = {"stridednet": (64, 48, 3), "lenet": (28, 28, 1), "mnist_cnn": (28, 28, 1)}


def _shape(name):
    return SMALL.get(name, (32, 32, 3))


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("name", models.list_models())
def test_every_network_matches_keras(name, data_format):
    model = models.get_model(name, classes=7, input_shape=_shape(name), data_format=data_format)
    k_model = keras_model_like(model)
    assert model.count_params() == k_model.count_params()
    assert sum(w.numel() for w in model.trainable_weights) == sum(
        int(np.prod(w.shape)) for w in k_model.trainable_weights)
    assert sum(w.numel() for w in model.non_trainable_weights) == sum(
        int(np.prod(w.shape)) for w in k_model.non_trainable_weights)
    copy_model_from_keras(k_model, model)
    model.eval()
    h, w, c = _shape(name)
    shape = (2, h, w, c) if data_format == "channels_last" else (2, c, h, w)
    x = np.random.default_rng(13).random(shape).astype("float32")
    assert_close(model(torch.from_numpy(x)), to_numpy(k_model(x, training=False)), atol=2e-5)


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("name", models.list_models())
def test_every_network_trains_a_step(name, data_format):
    model = models.get_model(name, classes=5, input_shape=_shape(name), data_format=data_format)
    h, w, c = _shape(name)
    x = torch.rand((3, h, w, c) if data_format == "channels_last" else (3, c, h, w))
    probs = model(x)
    assert probs.shape == (3, 5)
    assert torch.allclose(probs.sum(dim=1), torch.ones(3), atol=1e-5)
    loss = torch.nn.functional.cross_entropy(model.logits(x), torch.tensor([0, 1, 4]))
    (loss + sum(model.losses, torch.zeros(()))).backward()
    assert all(p.grad is not None for p in model.parameters())


def test_logits_are_the_pre_softmax_output():
    for name in ("mnist_cnn", "cifar_ex1"):
        model = models.get_model(name).eval()
        x = torch.rand((2,) + model.build_shape[1:])
        assert torch.allclose(torch.softmax(model.logits(x), -1), model(x), atol=1e-6)


def test_describe_names_what_a_network_is():
    assert models.describe("cifar_ex10") == "5x5 kernels"
    assert models.describe("mnist_cnn").startswith("Three 3x3 ReLU convs")


def test_published_parameter_counts():
    assert models.get_model("mnist_cnn").count_params() == 93322
    strided = models.get_model("stridednet")
    flatten = next(layer for layer in strided.layers if isinstance(layer, kconv.layers.Flatten))
    assert flatten.output_shape == (None, 4608)  # 6 * 6 * 128
    assert [layer.output_shape[1] for layer in strided.layers if
            isinstance(layer, kconv.layers.Conv2D)] == [45, 45, 23, 23, 12, 12, 6]
    cifar = {n: models.get_model(n).count_params() for n in models.list_models()
             if n.startswith("cifar")}
    assert cifar["cifar_ex1"] == cifar["cifar_ex3"] == cifar["cifar_ex7"] == 1250858
    assert cifar["cifar_ex4"] == 1250858 - (32 + 32 + 64 + 64)


def test_stridednet_tutorial_arguments():
    model = models.get_model("stridednet", width=64, height=48, depth=3, classes=3,
                             reg=kconv.regularizers.L2(0.001), init="glorot_uniform")
    assert model.build_shape == (None, 48, 64, 3)
    convs = [layer for layer in model.layers if isinstance(layer, kconv.layers.Conv2D)]
    assert all(layer.kernel_regularizer == kconv.regularizers.L2(0.001) for layer in convs)
    assert len(model.losses) == 7
    assert len(models.get_model("stridednet", reg=None).losses) == 0


def test_unknown_model_lists_the_names():
    with pytest.raises(ValueError) as info:
        models.get_model("resnet")
    assert str(info.value).startswith("Invalid value for argument `model`: expected one of "
                                      "('cifar_ex1', 'cifar_ex10',")
    assert str(info.value).endswith("Received: model='resnet'")
    with pytest.raises(TypeError, match="unexpected keyword argument 'clases'"):
        models.get_model("mnist_cnn", clases=3)


def test_registering_a_name_twice_fails():
    with pytest.raises(ValueError, match="already registered"):
        models.register("mnist_cnn")(lambda: None)


@pytest.mark.parametrize("kwargs, error, message", [
    ({"classes": 0}, ValueError,
     "Invalid value for argument `classes`: expected an int >= 2. Received: classes=0"),
    ({"classes": 2.5}, TypeError,
     "Invalid type for argument `classes`: expected an int. Received: classes=2.5 of type "
     "float"),
    ({"input_shape": (28, 28)}, ValueError,
     "Invalid value for argument `input_shape`: expected (height, width, channels): three "
     "positive ints. Received: input_shape=(28, 28)"),
    ({"input_shape": (28, 0, 1)}, ValueError,
     "Invalid value for argument `input_shape`: expected (height, width, channels): three "
     "positive ints. Received: input_shape=(28, 0, 1)"),
])
def test_builders_check_classes_and_input_shape_by_name(kwargs, error, message):
    with pytest.raises(error) as info:
        models.get_model("mnist_cnn", **kwargs)
    assert str(info.value) == message
