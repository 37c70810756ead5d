"""kconv.mixed_precision: Keras's dtype policies on layers (compute dtype through autocast,
float32 variables, float32 islands), fit under mixed policies, loss scaling as Keras scales,
and mixed-precision models exchanged with Keras in both directions."""

import inspect
import warnings

import keras
import numpy as np
import pytest
import torch

import kconv
from kconv import layers, mixed_precision
from kconv.mixed_precision import policy as policies
from kconv.models.deserialization import LAYER_CLASSES


@pytest.fixture
def keras_policy():
    """Keras's global policy, reset after the test."""
    yield keras.mixed_precision.set_global_policy
    keras.mixed_precision.set_global_policy("float32")


@pytest.mark.parametrize("name,compute", [("float32", "float32"),
                                          ("mixed_float16", "float16"),
                                          ("mixed_bfloat16", "bfloat16")])
def test_policies_have_kerass_dtypes(name, compute):
    ours, theirs = mixed_precision.Policy(name), keras.mixed_precision.Policy(name)
    assert (ours.name, ours.compute_dtype, ours.variable_dtype) == \
        (theirs.name, theirs.compute_dtype, theirs.variable_dtype) == (name, compute, "float32")
    assert mixed_precision.get(keras.saving.serialize_keras_object(theirs)) == ours
    assert mixed_precision.get({"class_name": "Policy", "config": {"name": name}}) == ours
    assert repr(ours) == f'<DTypePolicy "{name}">'


def test_unknown_and_half_variable_policies_are_refused():
    with pytest.raises(ValueError, match=r"`name`: expected one of \('float32', "
                                         r"'mixed_float16', 'mixed_bfloat16'\) \(kconv "
                                         r"keeps variables in float32: use 'mixed_float16'\)"):
        mixed_precision.set_global_policy("float16")
    with pytest.raises(ValueError, match="Received: dtype='mixed_float8'"):
        mixed_precision.set_global_policy("mixed_float8")
    with pytest.raises(TypeError, match="`dtype`: expected a policy name"):
        layers.Dense(2, dtype=3)


def test_global_policy_and_keras_config_names():
    assert mixed_precision.global_policy().name == "float32"
    kconv.config.set_dtype_policy("mixed_bfloat16")
    assert mixed_precision.dtype_policy().name == "mixed_bfloat16"
    assert kconv.config.dtype_policy() is mixed_precision.global_policy()
    mixed_precision.set_global_policy(None)
    assert kconv.config.dtype_policy().name == "float32"
    assert kconv.DTypePolicy is mixed_precision.Policy


def test_every_layer_class_takes_a_dtype_policy():
    for cls in LAYER_CLASSES.values():
        assert "dtype" in inspect.signature(cls.__init__).parameters, cls.__name__
    layer = layers.Conv2D(4, 3, dtype="mixed_float16")
    assert (layer.compute_dtype, layer.variable_dtype) == ("float16", "float32")
    assert layer.get_config()["dtype"]["config"] == {"name": "mixed_float16"}
    assert "dtype" not in layers.Conv2D(4, 3).get_config()  # the default: left implicit
    mixed_precision.set_global_policy("mixed_bfloat16")
    assert layers.Dense(3).dtype_policy.name == "mixed_bfloat16"
    assert layers.Dense(3, dtype="float32").get_config()["dtype"]["config"]["name"] == \
        "float32"


def test_a_mixed_layer_computes_in_half_and_keeps_float32_weights():
    layer = layers.Conv2D(4, 3, dtype="mixed_bfloat16")
    y = layer(torch.rand(2, 8, 8, 3))
    assert y.dtype == torch.bfloat16 and layer.weight.dtype == torch.float32
    island = layers.Activation("softmax", dtype="float32")
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert island(y).dtype == torch.float32  # Keras's float32 softmax, even in autocast
        # a layer under the default policy follows the caller's autocast, as before
        assert layers.Conv2D(4, 3)(torch.rand(2, 8, 8, 3)).dtype == torch.bfloat16


def test_symbolic_outputs_carry_the_compute_dtype_as_keras(keras_policy):
    mixed_precision.set_global_policy("mixed_float16")
    keras_policy("mixed_float16")
    for lib in (kconv, keras):
        x = lib.layers.Dense(4)(lib.Input((3,)))
        y = lib.layers.Activation("softmax", dtype="float32")(x)
        assert (x.dtype, y.dtype) == ("float16", "float32"), lib.__name__


def _mixed_model(final_dtype="float32"):
    kconv.utils.set_random_seed(0)
    return kconv.Sequential([
        layers.Input((12, 12, 3)), layers.Conv2D(8, 3, activation="relu"),
        layers.BatchNormalization(), layers.MaxPooling2D(2), layers.Flatten(),
        layers.Dense(5), layers.Activation("softmax", dtype=final_dtype)])


def _fit(policy, **compile_kwargs):
    mixed_precision.set_global_policy(policy)
    model = _mixed_model()
    mixed_precision.set_global_policy(None)
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"],
                  **compile_kwargs)
    rng = np.random.default_rng(0)
    x, y = rng.random((64, 12, 12, 3), dtype=np.float32), rng.integers(0, 5, 64)
    computed = set()  # the dtypes the first convolution computed in during fit
    hook = model.layers[0].register_forward_hook(lambda m, i, o: computed.add(o.dtype))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # emulated half on this CPU
        history = model.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    hook.remove()
    expected = {"float32": torch.float32, "mixed_bfloat16": torch.bfloat16,
                "mixed_float16": torch.float16}[policy]
    assert computed == {expected}
    return model, history.history, model.predict(x, verbose=0)


@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"])
def test_fit_under_a_mixed_policy_keeps_float32_weights_near_the_float32_run(policy):
    reference, ref_history, ref_predictions = _fit("float32")
    model, history, predictions = _fit(policy)
    assert all(p.dtype == torch.float32 for p in model.parameters())
    assert predictions.dtype == np.float32
    np.testing.assert_allclose(history["loss"], ref_history["loss"], rtol=2e-2)
    np.testing.assert_allclose(predictions, ref_predictions, atol=3e-2)
    scaled = isinstance(model.optimizer, kconv.optimizers.LossScaleOptimizer)
    assert scaled == (policy == "mixed_float16")  # Keras adds loss scaling for float16 only
    assert not isinstance(reference.optimizer, kconv.optimizers.LossScaleOptimizer)


def test_auto_scale_loss_false_keeps_the_optimizer(keras_policy):
    mixed_precision.set_global_policy("mixed_float16")
    model = _mixed_model()
    model.compile("sgd", "sparse_categorical_crossentropy", auto_scale_loss=False)
    assert isinstance(model.optimizer, kconv.optimizers.SGD)
    keras_policy("mixed_float16")
    k_model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    k_model.compile("sgd", "mse")
    assert isinstance(k_model.optimizer, keras.optimizers.LossScaleOptimizer)


def test_loss_scaling_skips_non_finite_steps_and_grows_as_keras():
    factors = [float("inf"), 1.0, 1.0, 1.0, float("nan"), 1.0]
    k_var = keras.Variable(np.array([1.0], np.float32))
    k_opt = keras.optimizers.LossScaleOptimizer(keras.optimizers.SGD(0.1),
                                                dynamic_growth_steps=2)
    k_opt.build([k_var])
    weight = torch.nn.Parameter(torch.tensor([1.0]))
    ours = kconv.optimizers.LossScaleOptimizer(kconv.optimizers.SGD([weight], 0.1),
                                               dynamic_growth_steps=2)
    scaler = ours.scaler("cpu")
    for factor in factors:
        k_scale = float(k_opt.dynamic_scale)
        k_opt.apply([keras.ops.convert_to_tensor(np.array([factor * k_scale], np.float32))],
                    [k_var])
        ours.inner_optimizer.zero_grad()
        scaler.scale((weight * factor).sum()).backward()
        scaler.step(ours.inner_optimizer)
        scaler.update()
        assert ours.dynamic_scale == float(k_opt.dynamic_scale)
        assert ours.step_counter == int(k_opt.step_counter)
        np.testing.assert_allclose(weight.detach().numpy(), keras.ops.convert_to_numpy(k_var))
    assert ours.dynamic_scale == 2.0 ** 14  # 2**15 halved, doubled, halved


def test_loss_scale_optimizer_arguments():
    ours = kconv.optimizers.LossScaleOptimizer("adam", initial_scale=8.0)
    assert ours.dynamic_scale == 8.0 and ours.learning_rate == pytest.approx(1e-3)
    ours.learning_rate = 0.5
    assert ours.inner_optimizer.learning_rate == 0.5
    assert float(ours.scale_loss(torch.tensor(2.0))) == 16.0
    with pytest.raises(ValueError, match="`initial_scale`"):
        kconv.optimizers.LossScaleOptimizer("adam", initial_scale=0)
    with pytest.raises(ValueError, match="dynamic=False"):
        kconv.optimizers.LossScaleOptimizer("adam", dynamic=False)
    with pytest.raises(TypeError, match=r"unexpected argument\(s\) \['clipnorm'\]"):
        kconv.optimizers.LossScaleOptimizer("adam", clipnorm=1.0)


def test_train_on_batch_scales_the_loss_under_float16():
    mixed_precision.set_global_policy("mixed_float16")
    model = _mixed_model()
    model.compile("sgd", "sparse_categorical_crossentropy")
    before = [p.detach().clone() for p in model.parameters()]
    model.train_on_batch(np.random.rand(4, 12, 12, 3), np.array([0, 1, 2, 3]))
    assert model.optimizer.step_counter == 1  # a finite, scaled step was applied
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_a_keras_mixed_model_opens_with_its_policies(tmp_path, keras_policy):
    keras_policy("mixed_float16")
    keras.utils.set_random_seed(0)
    k_model = keras.Sequential([
        keras.Input((12, 12, 3)), keras.layers.Conv2D(8, 3, activation="relu"),
        keras.layers.Flatten(), keras.layers.Dense(5),
        keras.layers.Activation("softmax", dtype="float32")])
    k_model.save(tmp_path / "mixed.keras")
    x = np.random.default_rng(0).random((4, 12, 12, 3), dtype=np.float32)
    expected = keras.ops.convert_to_numpy(k_model(x))
    keras_policy("float32")
    model = kconv.saving.load_model(tmp_path / "mixed.keras")
    assert [layer.dtype_policy.name for layer in model.layers] == \
        ["mixed_float16"] * 3 + ["float32"]
    assert [layer._precision for layer in model.layers][-1] == torch.float32  # explicit
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, atol=2e-3)


def test_a_kconv_mixed_model_opens_in_keras_with_its_policies(tmp_path):
    mixed_precision.set_global_policy("mixed_bfloat16")
    model = _mixed_model()
    model.save(tmp_path / "mixed.keras")
    x = np.random.default_rng(0).random((4, 12, 12, 3), dtype=np.float32)
    expected = model.predict(x, verbose=0)
    k_model = keras.saving.load_model(tmp_path / "mixed.keras")
    assert [layer.dtype_policy.name for layer in k_model.layers] == \
        ["mixed_bfloat16"] * 5 + ["float32"]
    np.testing.assert_allclose(keras.ops.convert_to_numpy(k_model(x)), expected, atol=2e-2)


def test_a_float32_file_leaves_policies_implicit_and_unsupported_ones_are_named(tmp_path):
    from kconv.models.deserialization import model_from_config
    model = _mixed_model()
    config = {"class_name": "Sequential", "config": model.get_config()}
    again = model_from_config(config)
    assert all(layer._dtype_policy is None for layer in again.layers[:-1])
    config["config"]["layers"][1]["config"]["dtype"] = {
        "module": "keras", "class_name": "DTypePolicy", "config": {"name": "float16"}}
    with pytest.raises(ValueError, match=r"layer 1 \(Conv2D 'conv2d'\): dtype policy "
                                         r"'float16' is not supported"):
        model_from_config(config)


@pytest.mark.parametrize("flags,warned", [(set(), True), ({"avx512_bf16"}, False)])
def test_bfloat16_on_a_cpu_without_it_is_said_once(monkeypatch, flags, warned):
    monkeypatch.setattr(policies, "_cpu_flags", lambda: flags)
    monkeypatch.setattr(policies, "_WARNED", set())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        policies.warn_if_slow("cpu", torch.bfloat16)
        policies.warn_if_slow("cpu", torch.bfloat16)
        policies.warn_if_slow("cuda", torch.bfloat16)
    assert len([w for w in caught if "emulated" in str(w.message)]) == (1 if warned else 0)


def test_keras2_experimental_spellings_warn_and_work():
    from kconv.mixed_precision import experimental
    with pytest.warns(DeprecationWarning, match=r"mixed_precision.experimental.Policy\(\.\.\.\)"
                                                r" is Keras 2's spelling"):
        policy = experimental.Policy("mixed_float16")
    with pytest.warns(DeprecationWarning, match="Keras 3 writes mixed_precision.set_global"):
        experimental.set_policy(policy)
    assert experimental.global_policy().name == "mixed_float16"
    with pytest.warns(DeprecationWarning, match="LossScaleOptimizer"):
        optimizer = experimental.LossScaleOptimizer(kconv.optimizers.SGD(), "dynamic")
    with pytest.warns(DeprecationWarning, match="Keras 3 writes LossScaleOptimizer.dynamic"):
        assert optimizer.loss_scale == 2.0 ** 15
    with pytest.raises(ValueError, match=r"loss_scale=128\): a fixed loss scale is not"):
        experimental.LossScaleOptimizer(kconv.optimizers.SGD(), loss_scale=128)
    # TensorFlow 2.4+'s defaults spelled None
    tf24 = kconv.optimizers.LossScaleOptimizer("sgd", dynamic=True, initial_scale=None,
                                               dynamic_growth_steps=None)
    assert (tf24.initial_scale, tf24.dynamic_growth_steps) == (2.0 ** 15, 2000)
