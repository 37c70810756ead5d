"""compile/fit/evaluate/predict against Keras itself: the same network, the same initial
weights, no shuffling and no dropout give the same History, evaluation and predictions."""

import keras
import numpy as np
import pytest
import torch

import kconv
from tests.keras_oracle import copy_model_from_keras, to_numpy


def generator(seed):
    """A fresh generator per use: the data do not depend on which tests ran before."""
    return np.random.default_rng(seed)


def small_cnn(lib, l2=None, batch_norm=False):
    """A small CNN. BatchNormalization after a biased layer makes that bias's gradient
    zero plus rounding, which Adam turns into full steps of random sign: used with SGD."""
    L = lib.layers
    regularizer = None if l2 is None else lib.regularizers.l2(l2)
    return [L.Conv2D(4, 3, activation="relu", kernel_regularizer=regularizer),
            L.MaxPooling2D(2)] + ([L.BatchNormalization()] if batch_norm else []) + [
            L.Flatten(), L.Dense(8, activation="relu", kernel_regularizer=regularizer),
            L.Dense(3, activation="softmax")]


def both(factory, shape):
    keras.backend.clear_session()
    keras.utils.set_random_seed(0)  # the same weights whatever ran before
    k_model = keras.Sequential([keras.Input(shape)] + factory(keras))
    model = kconv.Sequential([kconv.Input(shape)] + factory(kconv))
    copy_model_from_keras(k_model, model)
    return k_model, model


def data(n=96, shape=(8, 8, 1), classes=3):
    """Learnable data: the class is the brightest of three bands of rows, so predictions
    soon have margins that float32 rounding cannot flip (accuracy compares argmaxes)."""
    rng = generator(n)
    x = rng.random((n,) + shape).astype("float32")
    y = rng.integers(0, classes, n)
    bands = np.array_split(np.arange(shape[0]), classes)
    for i, label in enumerate(y):
        x[i, bands[label]] += 0.5
    return x, y


OPTIMIZERS = {"sgd": ("SGD", {"learning_rate": 0.1, "momentum": 0.9}),
              "rmsprop": ("RMSprop", {"learning_rate": 0.01}),
              "adam": ("Adam", {"learning_rate": 0.01})}


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
@pytest.mark.parametrize("l2", [None, 0.01])
def test_fit_history_evaluate_and_predict_equal_keras(optimizer, l2):
    k_model, model = both(lambda lib: small_cnn(lib, l2), (8, 8, 1))
    x, y = data()
    xv, yv = data(40)
    name, kwargs = OPTIMIZERS[optimizer]
    k_model.compile(getattr(keras.optimizers, name)(**kwargs),
                    "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.compile(getattr(kconv.optimizers, name)(**kwargs),
                  "sparse_categorical_crossentropy", metrics=["accuracy"])
    fit = dict(epochs=3, batch_size=16, shuffle=False, validation_data=(xv, yv), verbose=0)
    theirs = k_model.fit(x, y, **fit).history
    ours = model.fit(x, y, **fit).history
    assert set(ours) == set(theirs) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    for key in theirs:
        np.testing.assert_allclose(ours[key], theirs[key], rtol=1e-4, atol=1e-4, err_msg=key)
    np.testing.assert_allclose(model.evaluate(xv, yv, verbose=0),
                               k_model.evaluate(xv, yv, verbose=0), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(model.predict(xv, batch_size=7, verbose=0),
                               to_numpy(k_model.predict(xv, batch_size=7, verbose=0)),
                               rtol=1e-4, atol=1e-5)


def test_one_hot_targets_weights_batch_norm_and_validation_split_equal_keras():
    rng = generator(1)
    k_model, model = both(lambda lib: small_cnn(lib, batch_norm=True), (8, 8, 1))
    x, y = data()
    onehot = np.eye(3, dtype="float32")[y]
    weights = rng.uniform(0.5, 2.0, len(y)).astype("float32")
    for m, lib in ((k_model, keras), (model, kconv)):
        m.compile(lib.optimizers.SGD(learning_rate=0.05), "categorical_crossentropy",
                  metrics=["acc", lib.metrics.TopKCategoricalAccuracy(k=2)],
                  weighted_metrics=["categorical_accuracy"])
    fit = dict(epochs=2, batch_size=20, shuffle=False, validation_split=0.25, verbose=0,
               sample_weight=weights)
    theirs = k_model.fit(x, onehot, **fit).history
    ours = model.fit(x, onehot, **fit).history
    assert set(ours) == set(theirs)
    for key in theirs:
        np.testing.assert_allclose(ours[key], theirs[key], rtol=1e-4, atol=1e-4, err_msg=key)


def test_class_weight_and_initial_epoch_equal_keras():
    k_model, model = both(small_cnn, (8, 8, 1))
    x, y = data()
    for m, lib in ((k_model, keras), (model, kconv)):
        m.compile(lib.optimizers.Adam(learning_rate=0.01), "sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    fit = dict(epochs=3, initial_epoch=1, batch_size=32, shuffle=False, verbose=0,
               class_weight={0: 1.0, 1: 2.0, 2: 0.5})
    theirs = k_model.fit(x, y, **fit)
    ours = model.fit(x, y, **fit)
    assert ours.epoch == theirs.epoch == [1, 2]
    for key in theirs.history:
        np.testing.assert_allclose(ours.history[key], theirs.history[key], rtol=1e-4,
                                   atol=1e-4, err_msg=key)


@pytest.mark.parametrize("loss, activation, targets", [
    ("binary_crossentropy", "sigmoid", "binary"), ("mse", None, "real"),
    ("huber", None, "real"), ("categorical_crossentropy", "softmax", "onehot")])
def test_other_losses_train_as_keras(loss, activation, targets):
    rng = generator(1)

    def factory(lib):
        L = lib.layers
        return [L.Flatten(), L.Dense(6, activation="tanh"), L.Dense(3, activation=activation)]

    k_model, model = both(factory, (4, 4, 2))
    x = rng.normal(size=(64, 4, 4, 2)).astype("float32")
    y = {"binary": rng.integers(0, 2, (64, 3)).astype("float32"),
         "real": rng.normal(size=(64, 3)).astype("float32"),
         "onehot": np.eye(3, dtype="float32")[rng.integers(0, 3, 64)]}[targets]
    for m, lib in ((k_model, keras), (model, kconv)):
        m.compile(lib.optimizers.RMSprop(learning_rate=0.01), loss, metrics=["accuracy", "mae"])
    theirs = k_model.fit(x, y, epochs=2, batch_size=16, shuffle=False, verbose=0).history
    ours = model.fit(x, y, epochs=2, batch_size=16, shuffle=False, verbose=0).history
    assert set(ours) == set(theirs)
    for key in theirs:
        np.testing.assert_allclose(ours[key], theirs[key], rtol=1e-4, atol=1e-4, err_msg=key)


def test_functional_two_outputs_equal_keras():
    rng = generator(1)

    def graph(lib):
        L = lib.layers
        inputs = lib.Input((6,), name="features")
        h = L.Dense(8, activation="relu", name="hidden")(inputs)
        a = L.Dense(3, activation="softmax", name="kind")(h)
        b = L.Dense(1, name="size")(h)
        return lib.Model(inputs, [a, b])

    keras.backend.clear_session()
    k_model, model = graph(keras), graph(kconv)
    for k_layer in k_model.layers[1:]:
        model.get_layer(k_layer.name).set_weights([to_numpy(w) for w in k_layer.weights])
    x = rng.normal(size=(48, 6)).astype("float32")
    ys = [rng.integers(0, 3, 48), rng.normal(size=(48, 1)).astype("float32")]
    for m, lib in ((k_model, keras), (model, kconv)):
        m.compile(lib.optimizers.SGD(learning_rate=0.1),
                  loss=["sparse_categorical_crossentropy", "mse"], loss_weights=[1.0, 0.5],
                  metrics=[["accuracy"], ["mae"]])
    theirs = k_model.fit(x, ys, epochs=2, batch_size=12, shuffle=False, verbose=0).history
    ours = model.fit(x, ys, epochs=2, batch_size=12, shuffle=False, verbose=0).history
    assert set(theirs) <= set(ours) | {"kind_loss", "size_loss"}
    for key in set(theirs) & set(ours):
        np.testing.assert_allclose(ours[key], theirs[key], rtol=1e-4, atol=1e-4, err_msg=key)
    predicted = model.predict(x, verbose=0)
    assert [p.shape for p in predicted] == [(48, 3), (48, 1)]


def test_generators_loaders_and_aliases_give_the_array_results():
    _, model = both(small_cnn, (8, 8, 1))
    state = {k: v.clone() for k, v in model.state_dict().items()}
    x, y = data(64)
    model.compile("sgd", "sparse_categorical_crossentropy", metrics=["accuracy"])
    arrays = model.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0).history

    def generator():
        while True:
            for i in range(0, 64, 16):
                yield x[i:i + 16], y[i:i + 16]

    for source, kwargs in ((generator(), {"steps_per_epoch": 4}),
                           (torch.utils.data.DataLoader(torch.utils.data.TensorDataset(
                               torch.from_numpy(x), torch.from_numpy(y)), batch_size=16), {})):
        model.load_state_dict(state)
        model.compile("sgd", "sparse_categorical_crossentropy", metrics=["accuracy"])
        history = model.fit_generator(source, epochs=2, verbose=0, **kwargs).history
        for key in arrays:
            np.testing.assert_allclose(history[key], arrays[key], rtol=1e-6, err_msg=key)


def test_a_model_built_by_fit_and_keras_spellings_of_optimizers():
    rng = generator(1)

    model = kconv.Sequential([kconv.layers.Flatten(), kconv.layers.Dense(2)])
    model.compile(optimizer=kconv.optimizers.SGD(lr=0.1), loss="mse")
    x, y = rng.random((8, 3, 2)).astype("float32"), rng.random((8, 2)).astype("float32")
    first = model.fit(x, y, epochs=2, verbose=0).history["loss"]
    assert model.built and first[1] < first[0] and model.optimizer.bound
    assert model.evaluate(x, y, verbose=0) == pytest.approx(
        model.evaluate(x, y, batch_size=3, verbose=0), rel=1e-5)


def test_callbacks_see_keras_hooks_and_logs(tmp_path):
    _, model = both(small_cnn, (8, 8, 1))
    x, y = data(64)
    seen = []
    cb = kconv.callbacks.LambdaCallback(
        on_train_begin=lambda logs: seen.append("train_begin"),
        on_epoch_begin=lambda epoch, logs: seen.append(("epoch_begin", epoch)),
        on_train_batch_end=lambda batch, logs: seen.append(("batch", batch, sorted(logs))),
        on_epoch_end=lambda epoch, logs: seen.append(("epoch_end", epoch, sorted(logs))),
        on_train_end=lambda logs: seen.append("train_end"))
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, batch_size=32, epochs=2, validation_data=(x, y), callbacks=[cb], verbose=0)
    assert seen[0] == "train_begin" and seen[-1] == "train_end"
    assert ("batch", 1, ["accuracy", "loss"]) in seen
    assert ("epoch_end", 1, ["accuracy", "loss", "val_accuracy", "val_loss"]) in seen


def test_errors_are_keras_clear():
    _, model = both(small_cnn, (8, 8, 1))
    x, y = data(16)
    with pytest.raises(ValueError, match="compile"):
        model.fit(x, y, verbose=0)
    with pytest.raises(ValueError, match="optimizer.*'adam', 'rmsprop', 'sgd'"):
        model.compile("adagradd", "mse")
    with pytest.raises(ValueError, match="loss.*categorical_crossentropy"):
        model.compile("adam", "crossentropy")
    with pytest.raises(ValueError, match="metrics.*accuracy"):
        model.compile("adam", "mse", metrics=["acuracy"])
    model.compile("adam", "categorical_crossentropy")
    with pytest.raises(ValueError, match="sparse_categorical_crossentropy"):
        model.fit(x, y, verbose=0)
    model.compile("adam", "sparse_categorical_crossentropy")

    def generator():
        yield x, y

    with pytest.raises(ValueError, match="validation_split.*only supported"):
        model.fit(generator(), validation_split=0.2, verbose=0, steps_per_epoch=1)
    with pytest.raises(ValueError, match="`y` argument is not supported"):
        model.fit(generator(), y, verbose=0, steps_per_epoch=1)
    with pytest.raises(ValueError, match="cardinality"):
        model.fit(x, y[:-1], verbose=0)


def test_batch_methods_validation_freq_and_seeded_shuffling_as_keras():
    k_model, model = both(small_cnn, (8, 8, 1))
    x, y = data(64)
    for m, lib in ((k_model, keras), (model, kconv)):
        m.compile(lib.optimizers.SGD(learning_rate=0.1), "sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    for _ in range(2):
        np.testing.assert_allclose(model.train_on_batch(x[:16], y[:16]),
                                   k_model.train_on_batch(x[:16], y[:16]), rtol=1e-5)
    np.testing.assert_allclose(model.test_on_batch(x, y), k_model.test_on_batch(x, y),
                               rtol=1e-5)
    np.testing.assert_allclose(model.predict_on_batch(x[:5]),
                               to_numpy(k_model.predict_on_batch(x[:5])), rtol=1e-5, atol=1e-6)
    fit = dict(epochs=4, batch_size=16, shuffle=False, validation_data=(x, y),
               validation_freq=2, verbose=0)
    theirs, ours = k_model.fit(x, y, **fit).history, model.fit(x, y, **fit).history
    assert len(ours["val_loss"]) == len(theirs["val_loss"]) == 2
    np.testing.assert_allclose(ours["val_loss"], theirs["val_loss"], rtol=1e-4)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    runs = []
    for _ in range(2):
        model.load_state_dict(state)
        kconv.utils.set_random_seed(5)
        runs.append(model.fit(x, y, epochs=2, batch_size=16, verbose=0).history["loss"])
    assert runs[0] == runs[1]


def test_fit_restarts_a_one_pass_generator_never_and_stops_when_it_ends():
    _, model = both(small_cnn, (8, 8, 1))
    x, y = data(32)
    model.compile("sgd", "sparse_categorical_crossentropy")

    def three_batches():
        for i in range(0, 24, 8):
            yield x[i:i + 8], y[i:i + 8]

    with pytest.warns(UserWarning, match="ran out of data"):
        history = model.fit(three_batches(), steps_per_epoch=2, epochs=5, verbose=0)
    assert history.epoch == [0, 1]  # 2 + 1 batches, then the generator is done
    with pytest.raises(ValueError, match="steps_per_epoch"):
        model.fit(three_batches(), epochs=1, verbose=0)
    with pytest.raises(ValueError, match="cannot be specified at the same time"):
        model.train_on_batch(x, y, sample_weight=np.ones(32), class_weight={0: 1.0})


def test_torch_optimizers_and_tensors_work_as_keras_objects_do():
    k_model, model = both(small_cnn, (8, 8, 1))
    x, y = data(48)
    k_model.compile(keras.optimizers.SGD(learning_rate=0.1), "sparse_categorical_crossentropy")
    model.compile(torch.optim.SGD(model.parameters(), lr=0.1), "sparse_categorical_crossentropy")
    fit = dict(epochs=2, batch_size=16, shuffle=False, verbose=0)
    theirs = k_model.fit(x, y, **fit).history["loss"]
    ours = model.fit(torch.from_numpy(x), torch.from_numpy(y), **fit).history["loss"]
    np.testing.assert_allclose(ours, theirs, rtol=1e-4)
    with pytest.raises(ValueError, match="optimizer over this model's parameters"):
        model.compile(torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1), "mse")


def test_keras2_positional_metrics_and_a_users_history():
    _, model = both(small_cnn, (8, 8, 1))
    x, y = data(32)
    model.compile("adam", "sparse_categorical_crossentropy", ["accuracy"])  # Keras 2 order

    class Recorder(kconv.callbacks.History):
        pass

    recorder = Recorder()
    history = model.fit(x, y, epochs=1, verbose=0, callbacks=[recorder])
    assert history is recorder and set(history.history) == {"loss", "accuracy"}


def test_fit_applies_constraints_after_every_step_as_keras():
    k_model, model = both(lambda lib: [lib.layers.Flatten(), lib.layers.Dense(
        4, kernel_constraint=lib.constraints.MaxNorm(0.5)), lib.layers.Dense(2)], (3, 3, 1))
    rng = generator(2)
    x, y = rng.random((32, 3, 3, 1)).astype("float32"), rng.random((32, 2)).astype("float32")
    for m, lib in ((k_model, keras), (model, kconv)):
        m.compile(lib.optimizers.SGD(learning_rate=0.5), "mse")
    theirs = k_model.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0).history
    ours = model.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0).history
    np.testing.assert_allclose(ours["loss"], theirs["loss"], rtol=1e-4)
    kernel = model.layers[1].get_weights()[0]
    assert np.linalg.norm(kernel, axis=0).max() <= 0.5 + 1e-6
    np.testing.assert_allclose(kernel, to_numpy(k_model.layers[1].kernel), rtol=1e-4,
                               atol=1e-6)


FIT_MISUSES = [
    (dict(epochs=-1), ValueError,
     "Invalid value for argument `epochs`: expected an int >= 0. Received: epochs=-1"),
    (dict(epochs=2, initial_epoch=3), ValueError,
     "Invalid value for argument `epochs`: expected an int >= initial_epoch (3). Received: "
     "epochs=2"),
    (dict(batch_size=0), ValueError,
     "Invalid value for argument `batch_size`: expected an int >= 1. Received: batch_size=0"),
    (dict(validation_split=1.5), ValueError,
     "Invalid value for argument `validation_split`: expected a number in [0.0, 1.0]. "
     "Received: validation_split=1.5"),
    (dict(shuffle="yes"), ValueError,
     "Invalid value for argument `shuffle`: expected True, False or 'batch'. Received: "
     "shuffle='yes'"),
    (dict(class_weight=[1, 2]), TypeError,
     "Invalid type for argument `class_weight`: expected a dict of class index -> weight. "
     "Received: class_weight=[1, 2] of type list"),
    (dict(validation_freq=0, validation_data="VAL"), ValueError,
     "Invalid value for argument `validation_freq`: expected an integer >= 1. Received: "
     "validation_freq=0"),
    (dict(callbacks=[print]), TypeError,
     "Invalid type for argument `callbacks`: expected kconv.callbacks.Callback instances. "
     "Received: callbacks=<built-in function print> of type builtin_function_or_method"),
    (dict(steps_per_epoch=0), ValueError,
     "Invalid value for argument `steps_per_epoch`: expected an int >= 1. Received: "
     "steps_per_epoch=0"),
    (dict(validation_data=("X",)), ValueError,
     "Invalid value for argument `validation_data`: expected (x, y) or (x, y, "
     "sample_weight). Received: a tuple of 1 item(s)"),
    (dict(y=None), ValueError,
     "`fit` received x but no y: with arrays, targets are passed as y (or x is a generator "
     "of (x, y) batches)"),
]


@pytest.mark.parametrize("kwargs, error, message", FIT_MISUSES)
def test_fit_misuse_is_one_exact_message(kwargs, error, message):
    model = kconv.Sequential([kconv.Input((4,)), kconv.layers.Dense(2, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy")
    x, y = generator(3).random((8, 4)).astype("float32"), np.arange(8) % 2
    kwargs = {key: (x, y) if value == "VAL" else (x,) if value == ("X",) else value
              for key, value in kwargs.items()}
    kwargs = {"y": y, **kwargs}
    with pytest.raises(error) as info:
        model.fit(x, verbose=0, **kwargs)
    assert str(info.value) == message


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(metrics="accuracy"), TypeError,
     "Invalid type for argument `metrics`: expected a list of metrics (or a dict by output "
     "name). Received: metrics='accuracy' of type str"),
    (dict(loss_weights=[1, 2]), ValueError,
     "Invalid value for argument `loss_weights`: expected one entry per output (1). "
     "Received: loss_weights=[1, 2]"),
    (dict(loss=3), TypeError,
     "Invalid type for argument `loss`: expected a loss name, a Loss or a callable. "
     "Received: loss=3 of type int"),
    (dict(jit_compile="yes"), ValueError,
     "Invalid value for argument `jit_compile`: expected True, False or 'auto'. Received: "
     "jit_compile='yes'"),
])
def test_compile_misuse_is_one_exact_message(kwargs, error, message):
    model = kconv.Sequential([kconv.Input((4,)), kconv.layers.Dense(2, activation="softmax")])
    with pytest.raises(error) as info:
        model.compile(**{"optimizer": "adam", "loss": "mse", **kwargs})
    assert str(info.value) == message


def test_fit_after_eval_trains_in_training_mode_and_gives_the_mode_back():
    """Regression (#31): ``model.eval()`` before ``fit`` (the torch habit) trained with
    BatchNormalization on its moving statistics; Keras's fit always trains."""
    k_model, model = both(lambda lib: small_cnn(lib, batch_norm=True), (8, 8, 1))
    x, y = data()
    for m, lib in ((k_model, keras), (model, kconv)):
        m.compile(lib.optimizers.SGD(learning_rate=0.05), "sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.eval()
    fit = dict(epochs=2, batch_size=16, shuffle=False, verbose=0, validation_data=(x, y))
    theirs = k_model.fit(x, y, **fit).history
    ours = model.fit(x, y, **fit).history
    assert not model.training  # the mode it had before fit
    for key in theirs:
        np.testing.assert_allclose(ours[key], theirs[key], rtol=1e-4, atol=1e-4, err_msg=key)
    for a, b in zip(model.get_weights(), k_model.get_weights()):  # moving statistics too
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_evaluate_predict_and_batch_methods_use_their_mode_and_give_it_back():
    k_model, model = both(lambda lib: small_cnn(lib, batch_norm=True), (8, 8, 1))
    x, y = data(32)
    for m, lib in ((k_model, keras), (model, kconv)):
        m.compile(lib.optimizers.SGD(learning_rate=0.05), "sparse_categorical_crossentropy")
    for mode in (True, False):
        model.train(mode)
        np.testing.assert_allclose(model.predict(x, verbose=0),
                                   to_numpy(k_model.predict(x, verbose=0)), rtol=1e-4,
                                   atol=1e-5)
        np.testing.assert_allclose(model.evaluate(x, y, verbose=0),
                                   k_model.evaluate(x, y, verbose=0), rtol=1e-4)
        assert model.training is mode
    model.eval()
    np.testing.assert_allclose(model.train_on_batch(x, y), k_model.train_on_batch(x, y),
                               rtol=1e-4)
    assert not model.training
    for a, b in zip(model.get_weights(), k_model.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("functional", [False, True])
@pytest.mark.parametrize("activation, loss", [
    ("softmax", "sparse_categorical_crossentropy"), ("sigmoid", "binary_crossentropy")])
def test_activity_penalty_of_the_final_softmax_or_sigmoid_counts_in_the_loss(
        functional, activation, loss):
    """Regression (#31, fuzzer seed 71): the loss from the logits skipped the final layer's
    ``activity_regularizer`` (a penalty on its probabilities), and evaluate reused a stale
    one."""
    def factory(lib):
        return [lib.layers.Flatten(), lib.layers.Dense(
            3, activation=activation, activity_regularizer=lib.regularizers.L1L2(0.05, 0.1))]
    k_model, model = both(factory, (4, 4, 1))
    if functional:
        inputs = kconv.Input((4, 4, 1))
        model = kconv.Model(inputs, model.layers[1](model.layers[0](inputs)))
    x, labels = data(16, (4, 4, 1))
    y = labels if activation == "softmax" else (np.eye(3)[labels]).astype("float32")
    for m, lib in ((k_model, keras), (model, kconv)):
        m.compile(lib.optimizers.SGD(learning_rate=0.1), loss)
    for _ in range(2):
        np.testing.assert_allclose(model.train_on_batch(x, y), k_model.train_on_batch(x, y),
                                   rtol=1e-5)
    model.predict(x[:2], verbose=0)  # a forward pass on another batch in between
    np.testing.assert_allclose(model.evaluate(x, y, verbose=0),
                               k_model.evaluate(x, y, verbose=0), rtol=1e-5)


def test_a_model_with_nothing_trainable_fits_as_keras():
    """Regression (#31, fuzzer seed 474): fit and train_on_batch crashed in backward when
    every layer was frozen; Keras warns, computes the loss and updates nothing."""
    k_model, model = both(lambda lib: small_cnn(lib, batch_norm=True), (8, 8, 1))
    x, y = data(32)
    for m, lib in ((k_model, keras), (model, kconv)):
        for layer in m.layers:
            layer.trainable = False
        m.compile(lib.optimizers.SGD(learning_rate=0.1), "sparse_categorical_crossentropy")
    before = model.get_weights()
    with pytest.warns(UserWarning, match="does not have any trainable weights"):
        ours = model.fit(x, y, epochs=2, batch_size=16, shuffle=False, verbose=0).history
    theirs = k_model.fit(x, y, epochs=2, batch_size=16, shuffle=False, verbose=0).history
    np.testing.assert_allclose(ours["loss"], theirs["loss"], rtol=1e-5)
    np.testing.assert_allclose(model.train_on_batch(x, y), k_model.train_on_batch(x, y),
                               rtol=1e-5)
    for a, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("loss, metrics, labels, units", [
    ("binary_crossentropy", ["accuracy", "mse"], (96,), 1),
    ("binary_crossentropy", ["accuracy", "binary_accuracy"], (96, 1), 1),
    ("mse", ["mae", "accuracy"], (96,), 1),
    ("hinge", ["accuracy"], (96,), 1),
    ("sparse_categorical_crossentropy", ["accuracy", "sparse_categorical_accuracy"],
     (96, 1), 3)], ids=str)
def test_targets_of_another_rank_train_as_keras(loss, metrics, labels, units):
    """The commonest binary set-up (Dense(1, 'sigmoid'), labels of shape (N,) as
    flow_from_directory's class_mode='binary' gives them) and its relatives: fit, evaluate
    and train_on_batch give Keras's numbers (Keras's rank rule, not a broadcast)."""
    def factory(lib):
        return [lib.layers.Flatten(), lib.layers.Dense(
            units, activation="sigmoid" if units == 1 else "softmax")]
    k_model, model = both(factory, (8, 8, 1))
    x, y = data()
    y = (y == 0).astype("float32") if units == 1 else y
    y = y.reshape(labels)
    k_model.compile(keras.optimizers.SGD(0.1), loss, metrics=metrics)
    model.compile(kconv.optimizers.SGD(0.1), loss, metrics=metrics)
    fit = dict(epochs=2, batch_size=16, shuffle=False, verbose=0, validation_split=0.25)
    theirs, ours = k_model.fit(x, y, **fit).history, model.fit(x, y, **fit).history
    assert set(ours) == set(theirs)
    for key in theirs:
        np.testing.assert_allclose(ours[key], theirs[key], rtol=1e-4, atol=1e-5, err_msg=key)
    np.testing.assert_allclose(model.evaluate(x, y, verbose=0),
                               k_model.evaluate(x, y, verbose=0), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(model.train_on_batch(x[:16], y[:16]),
                               [float(v) for v in k_model.train_on_batch(x[:16], y[:16])],
                               rtol=1e-4, atol=1e-5)


def test_jit_compile_auto_rule():
    """'auto' compiles only on CUDA and only for long fits (benchmarks/README.md: on CPUs
    torch.compile measured slower for CNN training)."""
    from kconv.models.training import JIT_MIN_CUDA_STEPS, jit_pays
    assert not jit_pays("cpu", 10 ** 6)
    assert not jit_pays("cuda", JIT_MIN_CUDA_STEPS - 1)
    assert jit_pays("cuda", JIT_MIN_CUDA_STEPS) and jit_pays(torch.device("cuda:1"), 10 ** 5)


def _tiny(jit_compile):
    kconv.utils.set_random_seed(0)
    model = kconv.Sequential([kconv.Input((4,)), kconv.layers.Dense(3, activation="relu"),
                              kconv.layers.Dense(2, activation="softmax")])
    model.compile(kconv.optimizers.SGD(0.1), "sparse_categorical_crossentropy",
                  metrics=["accuracy"], jit_compile=jit_compile)
    return model


def test_jit_compile_auto_on_a_cpu_runs_eagerly_and_says_nothing(capsys, monkeypatch):
    compiled = []
    monkeypatch.setattr(torch, "compile", lambda fn, **kwargs: compiled.append(fn) or fn)
    x, y = np.ones((8, 4), "float32"), np.array([0, 1] * 4)
    model = _tiny("auto")
    model.fit(x, y, epochs=1, batch_size=4, verbose=0)
    assert not compiled and not model._jit_active and "jit_compile" not in \
        capsys.readouterr().out


def test_jit_compile_auto_says_when_it_compiles(capsys, monkeypatch):
    """Where the rule says compile, fit prints one line before the stall; the compiled
    function is the whole differentiable step (forward, loss and penalties)."""
    compiled = []
    monkeypatch.setattr(torch, "compile", lambda fn, **kwargs: compiled.append(fn) or fn)
    monkeypatch.setattr(kconv.models.training, "jit_pays", lambda device, steps: True)
    x, y = np.ones((8, 4), "float32"), np.array([0, 1] * 4)
    model = _tiny("auto")
    model.fit(x, y, epochs=3, batch_size=4, verbose=2)
    assert capsys.readouterr().out.splitlines()[0] == \
        "jit_compile='auto': compiling the step with torch.compile (6 training steps on cpu)"
    assert compiled == [model._forward_loss]


@pytest.mark.slow
def test_jit_compile_true_trains_as_eager_does():
    """jit_compile=True compiles the step once (the last partial batch too) and trains to
    the eager weights within float32 rounding."""
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((10, 4)).astype("float32"), rng.integers(0, 2, 10)
    eager, jitted = _tiny(False), _tiny(True)
    torch._dynamo.reset()
    for model in (eager, jitted):
        model.fit(x, y, epochs=2, batch_size=4, verbose=0, shuffle=False)
    assert jitted._compiled_step is not None and eager._compiled_step is None
    for a, b in zip(jitted.get_weights(), eager.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(jitted.history.history["loss"], eager.history.history["loss"],
                               rtol=1e-5)
