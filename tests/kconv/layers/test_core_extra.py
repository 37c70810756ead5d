"""Identity, ActivityRegularization, GaussianDropout, AlphaDropout, UnitNormalization and
RMSNormalization against Keras: outputs, the loss they add, their noise's statistics,
configs both ways and bad arguments."""

import keras
import numpy as np
import pytest
import torch

import kconv
from tests.keras_oracle import assert_close, copy_from_keras, keras_call

X = np.random.default_rng(0).standard_normal((4, 5, 3, 6)).astype("float32") * 2 + 0.5

DETERMINISTIC = [("Identity", {}), ("ActivityRegularization", {"l1": 0.1, "l2": 0.3}),
                 ("UnitNormalization", {}), ("UnitNormalization", {"axis": [1, 2]}),
                 ("UnitNormalization", {"axis": 1}),
                 ("RMSNormalization", {}), ("RMSNormalization", {"epsilon": 1e-3}),
                 ("RMSNormalization", {"axis": [-2, -1]}),
                 ("GaussianDropout", {"rate": 0.3, "seed": 1}),
                 ("AlphaDropout", {"rate": 0.2, "noise_shape": (None, 1, 1, None)})]


@pytest.mark.parametrize("name, kwargs", DETERMINISTIC)
def test_outputs_weights_and_configs_equal_keras(name, kwargs):
    k_layer = getattr(keras.layers, name)(**kwargs)
    k_layer.build(X.shape)
    if k_layer.weights:  # a scale that is not all ones
        k_layer.set_weights([np.linspace(0.5, 1.5, w.size).reshape(w.shape).astype("float32")
                             for w in k_layer.get_weights()])
    layer = getattr(kconv.layers, name)(**kwargs)
    layer.build_for((None,) + X.shape[1:])
    copy_from_keras(k_layer, layer)
    layer.eval()  # the noise layers are the identity outside training
    assert_close(layer(torch.from_numpy(X)), keras_call(k_layer, X), atol=1e-5)
    assert layer.count_params() == k_layer.count_params()
    theirs = {k: list(v) if isinstance(v, tuple) else v for k, v in k_layer.get_config().items()
              if k not in ("dtype", "name")}
    ours = {k: list(v) if isinstance(v, tuple) else v for k, v in layer.get_config().items()
            if k != "name"}
    assert ours == theirs
    again = keras.layers.deserialize({"module": "keras.layers", "class_name": name,
                                      "config": layer.get_config()})
    assert type(again).__name__ == name


def test_activity_regularization_adds_keras_penalty_to_the_loss():
    def build(lib):
        lib.utils.set_random_seed(0)
        return lib.Sequential([lib.Input((4,)), lib.layers.Dense(3),
                               lib.layers.ActivityRegularization(l1=0.05, l2=0.2),
                               lib.layers.Dense(2)])
    k_model, model = build(keras), build(kconv)
    model.set_weights(k_model.get_weights())
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((8, 4)).astype("float32"), rng.standard_normal((8, 2))
    for m, lib in ((k_model, keras), (model, kconv)):
        m.compile(lib.optimizers.SGD(0.1), "mse")
    for _ in range(2):
        np.testing.assert_allclose(model.train_on_batch(x, y), k_model.train_on_batch(x, y),
                                   rtol=1e-5)


@pytest.mark.parametrize("rate", [0.1, 0.5])
def test_gaussian_dropout_noise_has_keras_distribution(rate):
    layer = kconv.layers.GaussianDropout(rate, seed=3)
    layer.train()
    noise = layer(torch.ones(200_000)).numpy()
    stddev = np.sqrt(rate / (1 - rate))
    assert abs(noise.mean() - 1) < 5 * stddev / np.sqrt(noise.size)
    assert abs(noise.std() / stddev - 1) < 0.01
    k_noise = keras_call(keras.layers.GaussianDropout(rate, seed=3), np.ones(200_000, "float32"),
                         training=True)
    assert abs(k_noise.std() - noise.std()) < 0.01 * stddev


@pytest.mark.parametrize("rate", [0.1, 0.3])
def test_alpha_dropout_keeps_selu_statistics_and_keras_values(rate):
    x = np.random.default_rng(2).standard_normal((400, 500)).astype("float32")
    layer = kconv.layers.AlphaDropout(rate, seed=4)
    layer.train()
    y = layer(torch.from_numpy(x)).numpy()
    k_y = keras_call(keras.layers.AlphaDropout(rate, seed=4), x, training=True)
    for out in (y, k_y):  # zero mean and unit variance kept, as SELU expects
        assert abs(out.mean()) < 0.01 and abs(out.std() - 1) < 0.01
    # The same affine map: dropped units all take one value, the same in both.
    values, counts = np.unique(y, return_counts=True)
    k_values, k_counts = np.unique(k_y, return_counts=True)
    assert abs(values[counts.argmax()] - k_values[k_counts.argmax()]) < 1e-5
    assert abs(counts.max() / y.size - rate) < 0.01


def test_noise_layers_train_only_and_seed_repeats():
    x = torch.ones(4, 6)
    for cls, kwargs in ((kconv.layers.GaussianDropout, {"rate": 0.4}),
                        (kconv.layers.AlphaDropout, {"rate": 0.4})):
        a, b = cls(seed=7, **kwargs), cls(seed=7, **kwargs)
        a.eval()
        assert torch.equal(a(x), x)
        a.train(), b.train()
        assert torch.equal(a(x), b(x)) and not torch.equal(a(x), x)


@pytest.mark.parametrize("call, message", [
    (lambda: kconv.layers.GaussianDropout(1.5), "rate"),
    (lambda: kconv.layers.AlphaDropout(-0.1), "rate"),
    (lambda: kconv.layers.ActivityRegularization(l1=-1), "l1"),
    (lambda: kconv.layers.UnitNormalization(axis="last"), "axis"),
    (lambda: kconv.layers.RMSNormalization(epsilon=-1.0), "epsilon"),
    (lambda: kconv.layers.UnitNormalization(axis=4)(torch.ones(2, 3)), "axis 4"),
])
def test_bad_arguments_are_one_line(call, message):
    with pytest.raises((ValueError, TypeError)) as error:
        call()
    assert message in str(error.value) and "\n" not in str(error.value)


def test_unit_normalization_of_a_zero_vector_has_a_finite_gradient():
    """Keras's own form differentiates rsqrt at 0 (NaN); kconv computes the same values
    as TensorFlow's l2_normalize does, which keeps the gradient finite."""
    values = np.array([[0.0, 0.0, 0.0], [1.0, -2.0, 0.5]], "float32")
    x = torch.tensor(values, requires_grad=True)
    out = kconv.layers.UnitNormalization()(x)
    (out * torch.tensor([[0.3, 0.1, -0.2], [0.5, 0.4, 1.0]])).sum().backward()
    assert torch.isfinite(x.grad).all()
    assert_close(out, keras_call(keras.layers.UnitNormalization(), values))


def test_convnexts_internal_layers_equal_kerass():
    """LayerScale and StochasticDepth, Keras-internal layers of Keras Applications'
    ConvNeXt: outputs, weights and configs as Keras's, in a Keras-saved model too."""
    from keras.src.applications.convnext import LayerScale, StochasticDepth
    k_scale = LayerScale(0.5, 6)
    k_scale.build(X.shape)
    k_scale.set_weights([np.linspace(0.5, 1.5, 6).astype("float32")])
    scale = kconv.layers.LayerScale(0.5, 6)
    scale.build_for((None,) + X.shape[1:])
    assert_close(scale(torch.zeros(1, 6)), np.full((1, 6), 0.0))
    assert_close(scale.gamma, np.full(6, 0.5))
    copy_from_keras(k_scale, scale)
    assert_close(scale(torch.from_numpy(X)), keras_call(k_scale, X), atol=1e-6)
    assert {k: v for k, v in scale.get_config().items() if k != "name"} == \
        {k: v for k, v in k_scale.get_config().items() if k not in ("name", "dtype")}
    depth = kconv.layers.StochasticDepth(0.25)
    assert {k: v for k, v in depth.get_config().items() if k != "name"} == \
        {k: v for k, v in StochasticDepth(0.25).get_config().items()
         if k not in ("name", "dtype")}
    x = torch.ones(20000, 2, 3)
    assert torch.equal(depth.eval()(x), x)
    y = depth.train()(x)
    per_sample = y.flatten(1)
    assert torch.all(per_sample == per_sample[:, :1])  # one draw per sample, as Keras's
    assert torch.allclose(per_sample[:, 0].unique(), torch.tensor([0.0, 1 / 0.75]))
    assert abs((per_sample[:, 0] == 0).float().mean().item() - 0.25) < 0.015


def test_convnexts_internal_layers_open_from_a_keras_file(tmp_path):
    from keras.src.applications.convnext import LayerScale, StochasticDepth
    inputs = keras.Input((4, 4, 6))
    k_model = keras.Model(inputs, inputs + StochasticDepth(0.1)(LayerScale(0.3, 6)(inputs)))
    k_model.layers[1].set_weights([np.linspace(0.5, 1.5, 6).astype("float32")])
    k_model.save(tmp_path / "m.keras")
    model = kconv.models.load_model(tmp_path / "m.keras").eval()
    x = np.random.default_rng(5).standard_normal((2, 4, 4, 6)).astype("float32")
    assert_close(model(torch.from_numpy(x)), keras.ops.convert_to_numpy(k_model(x)),
                 atol=1e-6)
