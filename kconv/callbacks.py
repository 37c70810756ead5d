"""Keras's callbacks for ``fit``/``evaluate``/``predict``: the same classes, arguments, hook
names and ``logs`` dicts, so Keras callbacks (and subclasses of :class:`Callback`) work
unchanged on kconv models.

``logs`` hold Python floats: at the end of a batch the running means of the epoch so far,
at the end of an epoch the epoch's values and the validation ones (``val_`` prefix).
"""

import csv
import math
import os
import sys
import time
import warnings

from kconv import distribution, legacy
from kconv.validation import check_choice, check_float, check_int, invalid_type, invalid_value

__all__ = ["Callback", "CallbackList", "History", "ProgbarLogger", "ModelCheckpoint",
           "EarlyStopping", "ReduceLROnPlateau", "LearningRateScheduler", "CSVLogger",
           "TerminateOnNaN", "LambdaCallback", "TensorBoard", "BackupAndRestore"]

_HOOKS = ("on_train_begin", "on_train_end", "on_test_begin", "on_test_end",
          "on_predict_begin", "on_predict_end")
_EPOCH_HOOKS = ("on_epoch_begin", "on_epoch_end")
_BATCH_HOOKS = tuple(f"on_{mode}_batch_{when}" for mode in ("train", "test", "predict")
                     for when in ("begin", "end"))


class Callback:
    """Base class: override any ``on_*`` hook; ``self.model`` and ``self.params`` (epochs,
    steps, verbose) are set before training starts."""

    def __init__(self):
        self.params = {}
        self._model = None

    def set_params(self, params):
        self.params = params

    def set_model(self, model):
        self._model = model

    @property
    def model(self):
        return self._model

    def on_batch_begin(self, batch, logs=None):
        """Keras 2's name of :meth:`on_train_batch_begin`."""

    def on_batch_end(self, batch, logs=None):
        """Keras 2's name of :meth:`on_train_batch_end`."""

    def on_train_batch_begin(self, batch, logs=None):
        self.on_batch_begin(batch, logs=logs)

    def on_train_batch_end(self, batch, logs=None):
        self.on_batch_end(batch, logs=logs)


Callback.writes_files = False  # only the first process of a data-parallel run calls it
for _name in _HOOKS:
    setattr(Callback, _name, lambda self, logs=None: None)
for _name in _EPOCH_HOOKS:
    setattr(Callback, _name, lambda self, epoch, logs=None: None)
for _name in _BATCH_HOOKS[2:]:
    setattr(Callback, _name, lambda self, batch, logs=None: None)


class CallbackList:
    """The callbacks of one ``fit``/``evaluate``/``predict`` call, called in order; a
    :class:`History` and a :class:`ProgbarLogger` are added unless given."""

    def __init__(self, callbacks=None, *, add_history=False, add_progbar=False, model=None,
                 **params):
        callbacks = list(callbacks or [])
        for callback in callbacks:
            if not isinstance(callback, Callback):
                raise invalid_type("callbacks", "kconv.callbacks.Callback instances", callback)
        if not distribution.is_chief():  # one data-parallel process writes the files
            callbacks = [c for c in callbacks if not c.writes_files]
        if add_progbar and not any(isinstance(c, ProgbarLogger) for c in callbacks):
            callbacks.insert(0, ProgbarLogger())
        if add_history and not any(isinstance(c, History) for c in callbacks):
            callbacks.append(History())
        self.callbacks = callbacks
        for callback in callbacks:
            callback.set_model(model)
            callback.set_params(dict(params))

    def __iter__(self):
        return iter(self.callbacks)

    def __getattr__(self, hook):
        if not hook.startswith("on_"):
            raise AttributeError(hook)
        if hook in _HOOKS:
            def call(logs=None):
                for callback in self.callbacks:
                    getattr(callback, hook)({} if logs is None else logs)
        else:
            def call(index, logs=None):
                for callback in self.callbacks:
                    getattr(callback, hook)(index, {} if logs is None else logs)
        return call


class History(Callback):
    """Records every epoch's logs: ``history.history["loss"]`` is the list of epoch losses;
    ``model.fit`` returns it."""

    def __init__(self):
        super().__init__()
        self.history = {}
        self.epoch = []

    def on_train_begin(self, logs=None):
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)
        if self.model is not None:
            self.model.history = self


class ProgbarLogger(Callback):
    """Keras's progress output: verbose 1 a bar per epoch (redrawn at most every 0.05 s on
    a terminal, printed once per epoch otherwise), verbose 2 one line per epoch."""

    def __init__(self):
        super().__init__()
        self.verbose, self.epochs = 1, 1
        self._target = None
        self._start = self._last = 0.0

    def set_params(self, params):
        super().set_params(params)
        verbose = params.get("verbose", 1)
        self.verbose = 1 if verbose == "auto" else verbose
        self.epochs = params.get("epochs", 1)

    def _reset(self, target):
        self._target, self._seen = target, 0
        self._start = self._last = time.perf_counter()

    def on_train_begin(self, logs=None):
        self._reset(self.params.get("steps"))

    def on_epoch_begin(self, epoch, logs=None):
        self._reset(self.params.get("steps"))
        if self.verbose and self.epochs > 1:
            print(f"Epoch {epoch + 1}/{self.epochs}", flush=True)

    def on_test_begin(self, logs=None):
        if self.params.get("mode") == "evaluate":
            self._reset(self.params.get("steps"))

    def on_predict_begin(self, logs=None):
        self._reset(self.params.get("steps"))

    def on_train_batch_end(self, batch, logs=None):
        self._update(batch + 1, logs)

    def on_test_batch_end(self, batch, logs=None):
        if self.params.get("mode") == "evaluate":
            self._update(batch + 1, logs)

    def on_predict_batch_end(self, batch, logs=None):
        self._update(batch + 1, None)

    def on_epoch_end(self, epoch, logs=None):
        self._finish(logs)

    def on_test_end(self, logs=None):
        if self.params.get("mode") == "evaluate":
            self._finish(logs)

    def on_predict_end(self, logs=None):
        self._finish(None)

    def _update(self, seen, logs):
        self._seen = seen
        now = time.perf_counter()
        if self.verbose != 1 or not sys.stdout.isatty() or now - self._last < 0.05:
            return
        self._last = now
        sys.stdout.write("\r" + self._line(logs, bar=True))
        sys.stdout.flush()

    def _finish(self, logs):
        if not self.verbose:
            return
        line = self._line(logs, bar=self.verbose == 1)
        sys.stdout.write(("\r" if self.verbose == 1 and sys.stdout.isatty() else "") +
                         line + "\n")
        sys.stdout.flush()

    def _line(self, logs, bar):
        """Keras 3's line: verbose 1 ``count bar time per-step - k: v``, verbose 2
        ``count - time - per-step - k: v`` (its number formats too)."""
        seen, target = self._seen, self._target
        elapsed = time.perf_counter() - self._start
        seconds = elapsed / max(seen, 1)
        per_step = _per_step(seconds)
        count = f"{seen}/{target}" if target else f"{seen}"
        if target:
            count = count.rjust(2 * len(str(target)) + 1)
        if self.verbose == 2:
            text = f"{count} - {elapsed:.0f}s - {per_step}"
        else:
            parts = [count]
            if bar and target:
                filled = int(20 * min(seen / target, 1.0))
                parts.append("\u2501" * filled + " " * (20 - filled))
            if target and seen < target:
                parts.append(_duration(seconds * (target - seen)))
            else:
                parts.append(_duration(elapsed))
            parts.append(per_step)
            text = " ".join(parts)
        for key, value in (logs or {}).items():
            text += f" - {key}: {_number(value, self.verbose)}"
        return text


def _per_step(seconds):
    """Keras's time per step: s, ms or us."""
    if seconds >= 1 or seconds == 0:
        return f"{seconds:.0f}s/step"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.0f}ms/step"
    return f"{seconds * 1e6:.0f}us/step"


def _number(value, verbose):
    """Keras's metric format: 4 decimals, or 4 significant digits for small values (by
    their size on the progress bar, by their value on verbose 2's line, as Keras)."""
    if not isinstance(value, (int, float)):
        return str(value)
    big = value > 1e-3 if verbose == 2 else abs(value) > 1e-3
    return f"{value:.4f}" if big else f"{value:.4e}"


def _duration(seconds):
    if seconds >= 3600:
        return f"{int(seconds // 3600)}:{int(seconds % 3600 // 60):02d}:{int(seconds % 60):02d}"
    if seconds >= 60:
        return f"{int(seconds // 60)}:{int(seconds % 60):02d}"
    return f"{seconds:.0f}s"


class _Monitor(Callback):
    """What ModelCheckpoint, EarlyStopping and ReduceLROnPlateau share: a monitored log
    value and its direction ('auto': the metric's own, up for accuracies)."""

    def __init__(self, monitor, mode, min_delta=0.0):
        super().__init__()
        if not isinstance(monitor, str):
            raise invalid_type("monitor", "a log name such as 'val_loss'", monitor)
        self.monitor = monitor
        self.mode = check_choice("mode", mode, ("auto", "min", "max"))
        self.min_delta = abs(check_float("min_delta", min_delta))
        self._greater = None

    def _direction(self):
        if self._greater is not None:
            return self._greater
        if self.mode != "auto":
            self._greater = self.mode == "max"
            return self._greater
        name = self.monitor.removeprefix("val_")
        directions = getattr(self.model, "_metric_directions", lambda: {})()
        if name == "loss" or name.endswith("_loss"):
            self._greater = False
        elif name in directions:
            self._greater = directions[name] == "up"
        else:
            raise ValueError(f"{type(self).__name__} callback received monitor="
                             f"{self.monitor}, but kconv cannot tell whether that metric "
                             f"should be maximized or minimized. Pass mode='max' or "
                             f"mode='min'")
        return self._greater

    def _improved(self, value, reference):
        greater = self._direction()  # decided (or refused) at the first value, as Keras
        if reference is None:
            return True
        if greater:
            return value - self.min_delta > reference
        return value + self.min_delta < reference

    def _value(self, logs):
        logs = logs or {}
        value = logs.get(self.monitor)
        alias = legacy.ACCURACY_ALIASES.get(self.monitor)
        if value is None and alias in logs:  # 'val_acc' for Keras 2.3+'s 'val_accuracy'
            legacy.keras2(f"monitor='{self.monitor}'", f"monitor='{alias}' (the log's name "
                          "for metrics=['accuracy'])", f"; kconv monitors '{alias}'")
            self.monitor, self._greater = alias, None
            value = logs[alias]
        if value is None:
            warnings.warn(f"{type(self).__name__} is conditioned on metric `{self.monitor}` "
                          f"which is not available. Available metrics are: "
                          f"{','.join(logs or {})}", stacklevel=3)
        return value


def _state(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


class _Periodic:
    """What ModelCheckpoint and BackupAndRestore share: saving at each epoch's end, or every
    ``save_freq`` batches (``_batch_save(batch, logs)``)."""

    def _set_frequency(self, save_freq):
        if save_freq != "epoch":
            check_int("save_freq", save_freq, minimum=1)
        self.save_freq = save_freq
        self._batches = 0
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.save_freq != "epoch":
            self._batches += 1
            if self._batches % self.save_freq == 0:
                self._batch_save(batch, logs)


class ModelCheckpoint(_Periodic, _Monitor):
    """Saves the model (``.keras`` or legacy ``.h5``) or its weights (``.weights.h5``) after
    every epoch, or only when ``monitor`` improved (``save_best_only``).

    Args:
        filepath: the path; it may hold Keras's format fields, e.g.
            ``"model-{epoch:02d}-{val_loss:.2f}.keras"`` (epochs count from 1).
        monitor, mode: what decides "best" and in which direction.
        verbose: 1 prints a line per save.
        save_best_only: save only when the monitored value improved.
        save_weights_only: save ``model.save_weights`` (a ``.weights.h5`` path).
        save_freq: 'epoch' or a number of batches.
        initial_value_threshold: a "best" value to beat before the first save.
        period: Keras 2's every-``period``-epochs saving (with a warning; Keras 3 has no
            such argument).

    Keras 2's paths are accepted with a warning: a model path without ``.keras`` or
    ``.h5`` gets a ``.keras`` archive under that name; a weights path without
    ``.weights.h5`` gets Keras 2's weights layout (``.h5``, ``.hdf5``) or Keras 3's.
    """

    writes_files = True

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False,
                 save_weights_only=False, mode="auto", save_freq="epoch",
                 initial_value_threshold=None, period=None):
        super().__init__(monitor, mode)
        self.filepath = os.fspath(filepath)
        self.verbose = verbose
        self.save_best_only = bool(save_best_only)
        self.save_weights_only = bool(save_weights_only)
        self._set_frequency(save_freq)
        self.period = 1
        if period is not None:
            self.period = check_int("period", period, minimum=1)
            if save_freq != "epoch":
                raise ValueError(f"ModelCheckpoint: give Keras 2's `period` (epochs) or "
                                 f"`save_freq` (batches), not both; received period={period}, "
                                 f"save_freq={save_freq}")
            legacy.keras2(f"ModelCheckpoint(period={period})", "save_freq='epoch' (every "
                          "epoch; Keras 3 has no every-N-epochs option)",
                          "; kconv saves every period-th epoch, as Keras 2 did")
        self.best = initial_value_threshold
        if self.save_weights_only:
            if self.filepath.endswith(".keras"):
                raise ValueError(f"When using `save_weights_only=True` in `ModelCheckpoint`, "
                                 f"the filepath provided must end in `.weights.h5` (Keras "
                                 f"weights format). Received: filepath={self.filepath}")
            if not self.filepath.endswith(".weights.h5"):
                base = os.path.basename(self.filepath)
                legacy.keras2(f"ModelCheckpoint('{base}', save_weights_only=True)",
                              "a path ending in .weights.h5")
        else:
            self._format = legacy.model_path(self.filepath, "ModelCheckpoint")[1]

    def _batch_save(self, batch, logs):
        self._save(self._epoch, dict(logs or {}), batch=batch)

    def on_epoch_end(self, epoch, logs=None):
        if self.save_freq == "epoch" and (epoch + 1) % self.period == 0:
            self._save(epoch, dict(logs or {}))

    def _save(self, epoch, logs, batch=None):
        try:
            path = self.filepath.format(epoch=epoch + 1, batch=batch, **logs)
        except KeyError as error:
            raise KeyError(f"Failed to format this callback filepath: \"{self.filepath}\". "
                           f"Reason: {error!r} is not in the logs {sorted(logs)}") from None
        if self.save_best_only:
            current = self._value(logs)
            if current is None:
                return
            if not self._improved(current, self.best):
                if self.verbose:
                    print(f"\nEpoch {epoch + 1}: {self.monitor} did not improve from "
                          f"{self.best:.5f}")
                return
            if self.verbose:
                before = "inf" if self.best is None else f"{self.best:.5f}"
                print(f"\nEpoch {epoch + 1}: {self.monitor} improved from {before} to "
                      f"{current:.5f}, saving model to {path}")
            self.best = current
        elif self.verbose:
            print(f"\nEpoch {epoch + 1}: saving model to {path}")
        folder = os.path.dirname(path)
        if folder:
            os.makedirs(folder, exist_ok=True)
        from kconv import saving
        if self.save_weights_only:
            saving.save_weights(self.model, path, warn=False)
        else:
            saving.save_model(self.model, path, self._format)


class EarlyStopping(_Monitor):
    """Stops training when ``monitor`` has not improved for ``patience`` epochs, optionally
    restoring the weights of the best epoch (Keras's rules, ``baseline`` and
    ``start_from_epoch`` included)."""

    def __init__(self, monitor="val_loss", min_delta=0, patience=0, verbose=0, mode="auto",
                 baseline=None, restore_best_weights=False, start_from_epoch=0):
        super().__init__(monitor, mode, min_delta)
        self.patience = check_int("patience", patience, minimum=0)
        self.verbose = verbose
        self.baseline = baseline
        self.restore_best_weights = bool(restore_best_weights)
        self.start_from_epoch = check_int("start_from_epoch", start_from_epoch, minimum=0)
        self.on_train_begin()

    def on_train_begin(self, logs=None):
        self.wait, self.stopped_epoch, self.best_epoch = 0, 0, 0
        self.best, self.best_weights = None, None

    def on_epoch_end(self, epoch, logs=None):
        current = self._value(logs)
        if current is None or epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights, self.best_epoch = _state(self.model), epoch
        self.wait += 1
        if self._improved(current, self.best):
            self.best, self.best_epoch = current, epoch
            if self.restore_best_weights:
                self.best_weights = _state(self.model)
            if self.baseline is None or self._improved(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose > 0:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                print(f"Restoring model weights from the end of the best epoch: "
                      f"{self.best_epoch + 1}.")
            self.model.load_state_dict(self.best_weights)


def get_learning_rate(optimizer):
    """An optimizer's (first group's) learning rate, for any torch optimizer."""
    return float(optimizer.param_groups[0]["lr"])


def set_learning_rate(optimizer, value):
    """Set every group's learning rate (Keras's ``optimizer.learning_rate = value``)."""
    for group in optimizer.param_groups:
        group["lr"] = float(value)


class ReduceLROnPlateau(_Monitor):
    """Multiplies the learning rate by ``factor`` when ``monitor`` has not improved by
    ``min_delta`` for ``patience`` epochs, then waits ``cooldown`` epochs; never below
    ``min_lr``."""

    def __init__(self, monitor="val_loss", factor=0.1, patience=10, verbose=0, mode="auto",
                 min_delta=1e-4, cooldown=0, min_lr=0.0):
        if mode == "auto":  # Keras decides this one by the name alone
            mode = "max" if "acc" in monitor else "min"
        super().__init__(monitor, mode, min_delta)
        self.factor = check_float("factor", factor, minimum=0.0)
        if self.factor >= 1.0:
            raise ValueError(f"ReduceLROnPlateau does not support a factor >= 1.0. "
                             f"Received factor={factor}")
        self.patience = check_int("patience", patience, minimum=0)
        self.verbose = verbose
        self.cooldown = check_int("cooldown", cooldown, minimum=0)
        self.min_lr = check_float("min_lr", min_lr, minimum=0.0)
        self.on_train_begin()

    def on_train_begin(self, logs=None):
        self.best, self.wait, self.cooldown_counter = None, 0, 0

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        optimizer = self.model.optimizer
        logs["learning_rate"] = get_learning_rate(optimizer)
        current = self._value(logs)
        if current is None:
            return
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if self._improved(current, self.best):
            self.best, self.wait = current, 0
        elif self.cooldown_counter <= 0:
            self.wait += 1
            if self.wait >= self.patience:
                old = get_learning_rate(optimizer)
                if old > self.min_lr:
                    new = max(old * self.factor, self.min_lr)
                    set_learning_rate(optimizer, new)
                    if self.verbose > 0:
                        print(f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning "
                              f"rate to {new}.")
                    self.cooldown_counter, self.wait = self.cooldown, 0


class LearningRateScheduler(Callback):
    """Sets the learning rate at each epoch start to ``schedule(epoch, lr)`` (or
    ``schedule(epoch)``), epochs counted from 0."""

    def __init__(self, schedule, verbose=0):
        super().__init__()
        if not callable(schedule):
            raise invalid_type("schedule", "a function of (epoch, lr)", schedule)
        self.schedule, self.verbose = schedule, verbose

    def on_epoch_begin(self, epoch, logs=None):
        optimizer = self.model.optimizer
        try:
            lr = self.schedule(epoch, get_learning_rate(optimizer))
        except TypeError:  # a schedule of the epoch alone (Keras 2 style)
            lr = self.schedule(epoch)
        lr = float(lr)
        if not math.isfinite(lr):
            raise ValueError(f"The output of the `schedule` function should be a finite "
                             f"float. Got: {lr}")
        set_learning_rate(optimizer, lr)
        if self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to "
                  f"{lr}.")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = get_learning_rate(self.model.optimizer)


class CSVLogger(Callback):
    """Writes one row per epoch (``epoch`` from 0, then the logs' keys, sorted) to
    ``filename``; ``append`` continues an existing file."""

    writes_files = True

    def __init__(self, filename, separator=",", append=False):
        super().__init__()
        self.filename, self.sep, self.append = os.fspath(filename), separator, bool(append)
        self.keys = None

    def on_train_begin(self, logs=None):
        self.keys = None
        exists = self.append and os.path.exists(self.filename) and \
            os.path.getsize(self.filename) > 0
        self._header = not exists
        self._file = open(self.filename, "a" if self.append else "w", newline="")

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.keys is None:
            self.keys = sorted(logs)
            if not any(key.startswith("val_") for key in self.keys) and self.keys:
                self.keys += [f"val_{key}" for key in self.keys]
        writer = csv.writer(self._file, delimiter=self.sep)
        if self._header:
            writer.writerow(["epoch"] + self.keys)
            self._header = False
        writer.writerow([epoch] + [logs.get(key, "NA") for key in self.keys])
        self._file.flush()

    def on_train_end(self, logs=None):
        self._file.close()


class BackupAndRestore(_Periodic, Callback):
    """Keras's fault tolerance: ``fit`` backs its state up in ``backup_dir`` at the end of
    every epoch (or every ``save_freq`` batches), and a ``fit`` with this callback after an
    interruption restores it and goes on from the epoch it had reached. The state is the
    model's weights and moving statistics, the optimizer's state (Keras 3 keeps the weights
    only) and the random generators, in one file written atomically, so a run killed at any
    point resumes from its last whole backup; ``double_checkpoint`` keeps the one before it
    too. The backup is deleted when ``fit`` ends normally (unless ``delete_checkpoint`` is
    False).

    Example:
        >>> model.fit(x, y, epochs=50, callbacks=[BackupAndRestore("/tmp/backup")])
    """

    def __init__(self, backup_dir, save_freq="epoch", double_checkpoint=False,
                 delete_checkpoint=True):
        super().__init__()
        if not backup_dir:
            raise invalid_value("backup_dir", "a folder path", backup_dir)
        self._set_frequency(save_freq)
        self.backup_dir = os.fspath(backup_dir)
        self.double_checkpoint = bool(double_checkpoint)
        self.delete_checkpoint = bool(delete_checkpoint)
        self._path = os.path.join(self.backup_dir, "latest.pt")

    def restore(self, model, initial_epoch):
        """Load the backup, if any, into ``model`` and its optimizer (``fit`` calls this
        once the model is built); returns the epoch to start from."""
        import torch
        for path in (self._path, self._path + ".bkp"):
            if not os.path.isfile(path):
                continue
            try:
                state = torch.load(path, map_location="cpu", weights_only=True)
            except (OSError, RuntimeError, EOFError, ValueError) as error:
                warnings.warn(f"BackupAndRestore: cannot read {path} ({error}); trying the "
                              f"previous backup", stacklevel=2)
                continue
            model.load_state_dict(state["model"])
            model._bound_optimizer().load_state_dict(state["optimizer"])
            _set_rng_state(state["rng"])
            self._epoch = state["epoch"]
            return max(initial_epoch, state["epoch"])
        return initial_epoch

    def _batch_save(self, batch, logs):
        self._save(self._epoch)  # resumed from this epoch's start, as Keras

    def on_epoch_end(self, epoch, logs=None):
        if self.save_freq == "epoch":
            self._save(epoch + 1)

    def _save(self, epoch):
        import shutil
        if not distribution.is_chief():  # every process restores; the first one saves
            return

        import torch
        from kconv.utils.file_utils import atomic_path
        os.makedirs(self.backup_dir, exist_ok=True)
        if self.double_checkpoint and os.path.isfile(self._path):
            with atomic_path(self._path + ".bkp") as tmp:
                shutil.copyfile(self._path, tmp)
        state = {"model": self.model.state_dict(), "epoch": epoch,
                 "optimizer": self.model._bound_optimizer().state_dict(),
                 "rng": _rng_state()}
        with atomic_path(self._path) as tmp:
            torch.save(state, tmp)

    def on_train_end(self, logs=None):
        if self.delete_checkpoint and distribution.is_chief() and \
                os.path.isdir(self.backup_dir):
            import shutil
            shutil.rmtree(self.backup_dir, ignore_errors=True)


def _rng_state():
    import random

    import numpy as np
    import torch
    kind, keys, position, has_gauss, gauss = np.random.get_state()
    return {"torch": torch.get_rng_state(), "python": random.getstate(),
            "numpy": (kind, torch.from_numpy(keys.astype(np.int64)), int(position),
                      int(has_gauss), float(gauss)),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None}


def _set_rng_state(state):
    import random

    import numpy as np
    import torch
    torch.set_rng_state(state["torch"])
    kind, keys, position, has_gauss, gauss = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), position, has_gauss, gauss))
    random.setstate(state["python"])
    if state["cuda"] is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


class TerminateOnNaN(Callback):
    """Stops training after the first batch whose loss is NaN or infinite."""

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(loss):
            print(f"Batch {batch}: Invalid loss, terminating training")
            self.model.stop_training = True


class LambdaCallback(Callback):
    """A callback from functions: ``LambdaCallback(on_epoch_end=lambda epoch, logs: ...)``
    (any hook name)."""

    def __init__(self, on_epoch_begin=None, on_epoch_end=None, on_train_begin=None,
                 on_train_end=None, on_train_batch_begin=None, on_train_batch_end=None,
                 on_batch_begin=None, on_batch_end=None, on_test_begin=None, on_test_end=None,
                 on_predict_begin=None, on_predict_end=None):
        super().__init__()
        given = dict(locals())
        for hook in list(given):
            function = given[hook]
            if hook.startswith("on_") and function is not None:
                if not callable(function):
                    raise invalid_type(hook, "a function", function)
                setattr(self, hook, function)


class TensorBoard(Callback):
    """Epoch scalars (``epoch_loss``, ``epoch_accuracy``...) written as Keras writes them,
    under ``log_dir/train`` and ``log_dir/validation``, through torch's ``SummaryWriter``
    (needs the ``tensorboard`` package)."""

    writes_files = True

    def __init__(self, log_dir="logs", histogram_freq=0, write_graph=True, write_images=False,
                 write_steps_per_second=False, update_freq="epoch", profile_batch=0,
                 embeddings_freq=0, embeddings_metadata=None, **keras2):
        super().__init__()
        removed = ("batch_size", "write_grads", "embeddings_layer_names", "embeddings_data")
        unknown = sorted(set(keras2) - set(removed))
        if unknown:
            raise TypeError(f"TensorBoard got unexpected argument(s) {unknown}")
        for key in sorted(keras2):
            legacy.keras2(f"TensorBoard({key}=...)", "TensorBoard without it",
                          "; ignored, as tf.keras 2 ignored it")
        unwritten = {"write_images": write_images, "profile_batch": profile_batch,
                     "embeddings_freq": embeddings_freq,
                     "embeddings_metadata": embeddings_metadata,
                     "write_steps_per_second": write_steps_per_second}
        for key, value in unwritten.items():
            if value:
                warnings.warn(f"TensorBoard({key}={value!r}): kconv writes epoch scalars and "
                              f"histograms only; {key} is ignored", stacklevel=2)
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as error:
            raise ImportError("kconv.callbacks.TensorBoard needs the `tensorboard` package: "
                              "pip install tensorboard") from error
        self._writer_class = SummaryWriter
        self.log_dir = os.fspath(log_dir)
        self.histogram_freq = check_int("histogram_freq", histogram_freq, minimum=0)
        self.update_freq = update_freq
        self._writers = {}

    def _writer(self, name):
        if name not in self._writers:
            self._writers[name] = self._writer_class(os.path.join(self.log_dir, name))
        return self._writers[name]

    def on_epoch_end(self, epoch, logs=None):
        for key, value in (logs or {}).items():
            validation = key.startswith("val_")
            name = key.removeprefix("val_")
            self._writer("validation" if validation else "train").add_scalar(
                f"epoch_{name}", value, epoch)
        if self.histogram_freq and epoch % self.histogram_freq == 0:
            for name, parameter in self.model.named_parameters():
                self._writer("train").add_histogram(name, parameter.detach().cpu(), epoch)

    def on_train_end(self, logs=None):
        for writer in self._writers.values():
            writer.close()
        self._writers = {}
