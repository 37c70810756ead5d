"""Keras's callbacks on kconv's fit, against the same callbacks on Keras's fit: the same
model, data and weights give the same epochs, learning rates, files and restored weights."""

import csv
import math
import os
import sys

import keras
import numpy as np
import pytest

import kconv
from tests.keras_oracle import to_numpy

RNG = np.random.default_rng(3)
X = RNG.normal(size=(60, 5)).astype("float32")
Y = (X[:, :1] * 2 - X[:, 1:2] + 0.1 * RNG.normal(size=(60, 1))).astype("float32")
XV, YV = X[:20] + 0.5, Y[:20]


def pair(lr=0.05):
    """The same regression model compiled in Keras and kconv (SGD)."""
    keras.backend.clear_session()
    keras.utils.set_random_seed(0)  # the same weights whatever ran before
    models = []
    for lib in (keras, kconv):
        model = lib.Sequential([lib.Input((5,)), lib.layers.Dense(4, activation="tanh"),
                                lib.layers.Dense(1)])
        model.compile(lib.optimizers.SGD(learning_rate=lr), "mse", metrics=["mae"])
        models.append(model)
    for k_layer, layer in zip(models[0].layers, models[1].layers):
        layer.set_weights([to_numpy(w) for w in k_layer.weights])
    return models


def fit_both(make_callbacks, epochs=8, lr=0.05, **kwargs):
    k_model, model = pair(lr)
    fit = dict(epochs=epochs, batch_size=10, shuffle=False, verbose=0,
               validation_data=(XV, YV), **kwargs)
    theirs = k_model.fit(X, Y, callbacks=make_callbacks(keras), **fit)
    ours = model.fit(X, Y, callbacks=make_callbacks(kconv), **fit)
    return (k_model, theirs), (model, ours)


def assert_same_history(theirs, ours):
    assert ours.epoch == theirs.epoch
    assert set(ours.history) == set(theirs.history)
    for key, values in theirs.history.items():
        np.testing.assert_allclose(ours.history[key], values, rtol=1e-4, atol=1e-6,
                                   err_msg=key)


@pytest.mark.parametrize("restore", [False, True])
def test_early_stopping_stops_and_restores_as_keras(restore):
    (k_model, theirs), (model, ours) = fit_both(
        lambda lib: [lib.callbacks.EarlyStopping(monitor="val_mae", patience=1, min_delta=0.01,
                                                 restore_best_weights=restore)],
        epochs=30, lr=0.2)
    assert len(theirs.epoch) < 30
    assert_same_history(theirs, ours)
    for k_layer, layer in zip(k_model.layers, model.layers):
        for a, b in zip(k_layer.get_weights(), layer.get_weights()):
            np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-6)


def test_reduce_lr_on_plateau_as_keras():
    (_, theirs), (_, ours) = fit_both(
        lambda lib: [lib.callbacks.ReduceLROnPlateau(monitor="loss", factor=0.5, patience=1,
                                                     min_delta=0.05, cooldown=1,
                                                     min_lr=0.004)],
        epochs=10, lr=0.05)
    assert len(set(theirs.history["learning_rate"])) > 2
    assert_same_history(theirs, ours)


def test_learning_rate_scheduler_as_keras():
    def make(lib):
        return [lib.callbacks.LearningRateScheduler(
            lambda epoch, lr: lr if epoch < 2 else lr * math.exp(-0.5))]

    (_, theirs), (_, ours) = fit_both(make, epochs=5)
    assert_same_history(theirs, ours)


def test_terminate_on_nan_as_keras(capsys):
    (_, theirs), (_, ours) = fit_both(lambda lib: [lib.callbacks.TerminateOnNaN()],
                                      epochs=5, lr=1e6)
    assert len(ours.epoch) == len(theirs.epoch) == 1
    assert "Invalid loss, terminating training" in capsys.readouterr().out


def test_csv_logger_writes_keras_columns(tmp_path):
    paths = {keras: tmp_path / "keras.csv", kconv: tmp_path / "kconv.csv"}
    fit_both(lambda lib: [lib.callbacks.CSVLogger(str(paths[lib]))], epochs=3)
    rows = {lib: list(csv.reader(open(path))) for lib, path in paths.items()}
    assert rows[kconv][0] == rows[keras][0] == ["epoch", "loss", "mae", "val_loss", "val_mae"]
    np.testing.assert_allclose(np.array(rows[kconv][1:], float), np.array(rows[keras][1:], float),
                               rtol=1e-4)
    kconv_model = pair()[1]
    kconv_model.fit(X, Y, epochs=2, verbose=0, callbacks=[
        kconv.callbacks.CSVLogger(str(paths[kconv]), append=True)])
    assert len(list(csv.reader(open(paths[kconv])))) == 1 + 3 + 2


@pytest.mark.parametrize("pattern, weights_only", [
    ("best-{epoch:02d}-{val_loss:.3f}.keras", False), ("best.weights.h5", True),
    ("legacy-{epoch}.h5", False)])
def test_model_checkpoint_saves_what_keras_opens(tmp_path, pattern, weights_only):
    _, model = pair()
    saved = []

    class Remember(kconv.callbacks.Callback):  # runs after the checkpoint, each epoch
        def on_epoch_end(self, epoch, logs=None):
            files = sorted((p.stat().st_mtime_ns, p.name) for p in tmp_path.iterdir())
            if not saved or files != saved[-1][0]:
                saved.append((files, self.model.predict(XV, verbose=0)))

    model.fit(X, Y, epochs=4, batch_size=10, shuffle=False, verbose=0,
              validation_data=(XV, YV), callbacks=[
                  kconv.callbacks.ModelCheckpoint(str(tmp_path / pattern), save_best_only=True,
                                                  save_weights_only=weights_only),
                  Remember()])
    files = sorted(tmp_path.iterdir())
    assert files and len(saved) >= 2  # saved more than once: the best improved
    latest = max(files, key=lambda p: p.stat().st_mtime_ns)
    if weights_only:
        twin = keras.Sequential([keras.Input((5,)), keras.layers.Dense(4, activation="tanh"),
                                 keras.layers.Dense(1)])
        twin.load_weights(str(latest))
    else:
        twin = keras.models.load_model(str(latest), compile=False)
    np.testing.assert_allclose(to_numpy(twin(XV)), saved[-1][1], rtol=1e-5, atol=1e-6)


def test_model_checkpoint_refuses_a_path_keras_refuses(tmp_path):
    with pytest.raises(ValueError, match=r"must end in `\.weights\.h5`"):
        kconv.callbacks.ModelCheckpoint(str(tmp_path / "w.keras"), save_weights_only=True)
    with pytest.raises(ValueError, match=r"writes whole models.*save_weights"):
        kconv.callbacks.ModelCheckpoint(str(tmp_path / "model.weights.h5"))


def test_monitoring_needs_a_direction_it_can_tell():
    _, model = pair()
    stopper = kconv.callbacks.EarlyStopping(monitor="val_something")
    stopper.set_model(model)
    with pytest.raises(ValueError, match="mode='max' or mode='min'"):
        stopper.on_epoch_end(0, {"val_something": 1.0})


def test_tensorboard_writes_epoch_scalars(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    _, model = pair()
    model.fit(X, Y, epochs=2, verbose=0, validation_data=(XV, YV),
              callbacks=[kconv.callbacks.TensorBoard(str(tmp_path))])
    for folder, tags in (("train", {"epoch_loss", "epoch_mae"}),
                         ("validation", {"epoch_loss", "epoch_mae"})):
        events = EventAccumulator(str(tmp_path / folder))
        events.Reload()
        assert set(events.Tags()["scalars"]) >= tags
        assert len(events.Scalars("epoch_loss")) == 2


def test_tensorboard_names_its_missing_package(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)
    with pytest.raises(ImportError, match="pip install tensorboard"):
        kconv.callbacks.TensorBoard()


@pytest.mark.parametrize("verbose", [0, 1, 2, "auto"])
def test_progress_as_keras_prints_it(capsys, verbose):
    _, model = pair()
    model.fit(X, Y, epochs=2, batch_size=20, verbose=verbose, validation_data=(XV, YV))
    out = capsys.readouterr().out
    if verbose == 0:
        assert out == ""
        return
    lines = out.strip().splitlines()
    assert lines[0] == "Epoch 1/2" and lines[2] == "Epoch 2/2"
    assert lines[1].lstrip().startswith("3/3") and "ms/step - loss: " in lines[1]
    assert " - val_loss: " in lines[1] and " - val_mae: " in lines[1]
    if verbose == 1 or verbose == "auto":
        assert "\u2501" * 20 in lines[1]  # the full bar
    model.evaluate(X, Y, batch_size=20, verbose=verbose)
    assert capsys.readouterr().out.lstrip().startswith("3/3")


def test_subclassed_callbacks_get_model_and_params():
    seen = {}

    class Probe(kconv.callbacks.Callback):
        def on_train_begin(self, logs=None):
            seen["params"] = dict(self.params)
            seen["model"] = self.model

        def on_batch_end(self, batch, logs=None):  # Keras 2's name still called
            seen.setdefault("batches", []).append(batch)

    _, model = pair()
    model.fit(X, Y, epochs=1, batch_size=30, verbose=0, callbacks=[Probe()])
    assert seen["model"] is model and seen["batches"] == [0, 1]
    assert seen["params"]["epochs"] == 1 and seen["params"]["steps"] == 2


class _Killed(Exception):
    pass


class _KillAfter(kconv.callbacks.Callback):
    """Interrupts fit at the end of an epoch, as a killed process would."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.epoch:
            raise _Killed()


@pytest.mark.parametrize("save_freq", ["epoch", 2])
def test_backup_and_restore_resumes_a_killed_fit_exactly(tmp_path, save_freq):
    """A fit killed after its third epoch, run again with the same callback, restores the
    weights, moving statistics, optimizer state and random generators and goes on from
    there: the same weights and last epochs as an uninterrupted run."""
    rng = np.random.default_rng(0)
    x = rng.random((40, 6, 6, 1)).astype("float32")
    y = rng.integers(0, 3, 40)

    def model():
        kconv.utils.set_random_seed(3)
        m = kconv.Sequential([kconv.Input((6, 6, 1)), kconv.layers.Conv2D(4, 3),
                              kconv.layers.BatchNormalization(), kconv.layers.Flatten(),
                              kconv.layers.Dropout(0.3), kconv.layers.Dense(3, "softmax")])
        m.compile(kconv.optimizers.Adam(learning_rate=0.01), "sparse_categorical_crossentropy")
        return m

    fit = dict(epochs=5, batch_size=8, verbose=0)
    reference = model()
    expected = reference.fit(x, y, **fit).history["loss"]
    backup = str(tmp_path / "backup")
    first = model()
    with pytest.raises(_Killed):
        first.fit(x, y, **fit, callbacks=[kconv.callbacks.BackupAndRestore(
            backup, save_freq=save_freq), _KillAfter(2)])
    assert os.path.isfile(os.path.join(backup, "latest.pt"))
    resumed = model()
    history = resumed.fit(x, y, **fit, callbacks=[kconv.callbacks.BackupAndRestore(
        backup, save_freq=save_freq)])
    if save_freq == "epoch":
        assert history.epoch == [3, 4]
        np.testing.assert_allclose(history.history["loss"], expected[3:], rtol=1e-6)
        for a, b in zip(resumed.get_weights(), reference.get_weights()):
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    else:  # saved mid-epoch: that epoch starts again, as in Keras
        assert history.epoch == [2, 3, 4]
    assert not os.path.exists(backup)  # deleted once fit ended normally


def test_backup_and_restore_arguments(tmp_path):
    with pytest.raises(ValueError, match="backup_dir"):
        kconv.callbacks.BackupAndRestore("")
    with pytest.raises(ValueError, match="save_freq"):
        kconv.callbacks.BackupAndRestore(str(tmp_path), save_freq=0)


def test_verbose_2_lines_and_the_order_of_logs_are_kerass(capsys):
    """Keras 3 sorts the logs it hands to callbacks and returns as dicts (the History's
    keys: accuracy, loss, val_accuracy, val_loss), and prints verbose 2's lines as
    ``count - time - per-step - key: value``."""
    import re

    x = np.random.default_rng(0).random((12, 3)).astype("float32")
    y = np.arange(12) % 2
    seen = {}
    for lib in (keras, kconv):
        model = lib.Sequential([lib.Input((3,)), lib.layers.Dense(2, activation="softmax")])
        model.compile("sgd", "sparse_categorical_crossentropy", metrics=["accuracy"])
        history = model.fit(x, y, batch_size=4, epochs=2, verbose=2, validation_data=(x, y))
        model.evaluate(x, y, verbose=2)
        out = re.sub(r"\d+(ms|us|s)/step", "T/step", capsys.readouterr().out)
        seen[lib] = (re.sub(r"-?\d+(\.\d+)?(e[-+]\d+)?", "N", out), list(history.history),
                     list(model.evaluate(x, y, verbose=0, return_dict=True)))
    assert seen[kconv] == seen[keras]
    assert seen[kconv][1] == ["accuracy", "loss", "val_accuracy", "val_loss"]
