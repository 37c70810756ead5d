"""Keras's training API on every kconv model: ``compile``, ``fit``, ``evaluate``,
``predict`` and the ``*_on_batch`` methods (Keras's ``Trainer``, mixed into ``Model``).

This module owns the step logic (forward, loss, metrics) that ``fit``'s Lightning loop
(:mod:`kconv.trainers.engine`), ``evaluate``, ``predict`` and train.py share; it needs torch
alone. A cross-entropy of a model ending in the matching softmax or sigmoid is computed from
the logits before it (stable; Keras's value except where Keras clips a probability below
1e-7).
"""

import logging

import numpy as np
import torch

from kconv import activations, distribution, legacy, losses, optimizers
from kconv import metrics as metrics_lib
from kconv.callbacks import CallbackList
from kconv.constraints import attach_constraints
from kconv.mixed_precision.policy import as_float32
from kconv.trainers import data_adapters
from kconv.validation import invalid_type, invalid_value

_FROM_LOGITS = {losses.categorical_crossentropy: activations.softmax,
                losses.sparse_categorical_crossentropy: activations.softmax,
                losses.binary_crossentropy: activations.sigmoid}


class _Logs(dict):
    """Batch logs whose values are computed (synchronizing the device) when first read."""

    def __init__(self, trainer):
        super().__init__()
        self._trainer = trainer

    def _fill(self):
        if not dict.__len__(self) and self._trainer is not None:
            dict.update(self, sorted_logs(self._trainer._results()))
            self._trainer = None

    def __getitem__(self, key):
        self._fill()
        return dict.__getitem__(self, key)

    def get(self, key, default=None):
        self._fill()
        return dict.get(self, key, default)

    def __iter__(self):
        self._fill()
        return dict.__iter__(self)

    def __len__(self):
        self._fill()
        return dict.__len__(self)

    def __contains__(self, key):
        self._fill()
        return dict.__contains__(self, key)

    def items(self):
        self._fill()
        return dict.items(self)

    def keys(self):
        self._fill()
        return dict.keys(self)

    def values(self):
        self._fill()
        return dict.values(self)


class _Output:
    """One model output's loss, weight and metrics, as compiled."""

    def __init__(self, name, loss, weight, metrics, weighted):
        self.name, self.loss, self.weight = name, loss, weight
        self.metric_specs, self.weighted_specs = metrics, weighted
        self.metrics = None  # resolved at the first batch ('accuracy' needs shapes)
        self.logits_loss = None
        self.logits_activation = None

    def resolve_metrics(self, y, y_pred, prefix):
        made = []
        for specs, weighted in ((self.metric_specs, False), (self.weighted_specs, True)):
            for spec in specs:
                if isinstance(spec, str) and spec.lower() in ("accuracy", "acc"):
                    metric = metrics_lib.resolve_accuracy(spec, tuple(y.shape),
                                                          tuple(y_pred.shape))
                else:
                    metric = metrics_lib.get(spec)
                    if isinstance(spec, str):
                        metric.name = spec
                if prefix:
                    metric.name = f"{prefix}_{metric.name}"
                if weighted and not prefix and any(m.name == metric.name for m, _ in made):
                    metric.name = f"weighted_{metric.name}"
                made.append((metric, weighted))
        self.metrics = made


# 'auto''s rule. CPUs: never (measured, benchmarks/README.md 2026-12-07: torch.compile's
# generated kernels made training steps of the tutorials' CNNs 0.45-0.9x as fast as eager,
# kconv's and hand-written torch's alike, after 6-20 s of compiling). CUDA: fits long enough
# to repay a compile of tens of seconds (to be measured when a GPU is lent).
JIT_MIN_CUDA_STEPS = 1000


def jit_pays(device, steps):
    """Whether ``jit_compile='auto'`` compiles a run of ``steps`` training steps on
    ``device``: on CUDA for at least ``JIT_MIN_CUDA_STEPS`` steps, never on a CPU."""
    return torch.device(device).type == "cuda" and steps >= JIT_MIN_CUDA_STEPS


class Trainer:
    """``compile``/``fit``/``evaluate``/``predict`` as Keras has them (mixed into
    :class:`kconv.Model`, so every Sequential, functional and subclassed model has them)."""

    compiled = False
    stop_training = False
    history = None
    optimizer = None

    # ----------------------------------------------------------------- compile
    def compile(self, optimizer="rmsprop", loss=None, loss_weights=None, metrics=None,
                weighted_metrics=None, run_eagerly=False, steps_per_execution=1,
                jit_compile="auto", auto_scale_loss=True):
        """Configure training as Keras does.

        Args:
            optimizer: a Keras name ('adam', 'rmsprop', 'sgd'), a kconv optimizer (with or
                without parameters: it is bound to this model's) or any torch optimizer
                over this model's parameters.
            loss: a loss name, ``kconv.losses.Loss`` or function ``(y_true, y_pred)``; for
                several outputs a list or dict (by output layer name) of them.
            loss_weights: a weight per output (list or dict) for the total loss.
            metrics: names ('accuracy' resolved from the targets' shape as Keras does),
                ``kconv.metrics.Metric``s or functions; for several outputs a list of lists
                or a dict by output name.
            weighted_metrics: metrics that take ``sample_weight``/``class_weight`` into
                account (``metrics`` do not, as in Keras).
            jit_compile: True compiles the step (forward, loss and penalties, whose backward
                torch then compiles as well) with ``torch.compile``; False runs eagerly;
                'auto' (Keras's default) decides at ``fit``'s start by :func:`jit_pays`
                (eager on CPUs, where compiled CNN training measured slower; compiled on
                CUDA for fits of at least ``JIT_MIN_CUDA_STEPS`` steps) and says so when it
                compiles.
            auto_scale_loss: wrap the optimizer in a
                :class:`~kconv.optimizers.LossScaleOptimizer` when the model computes in
                float16 (its layers' dtype policy is 'mixed_float16'), as Keras does.
            run_eagerly, steps_per_execution: accepted for Keras's signature; kconv runs
                one step at a time (eagerly unless ``jit_compile`` compiles it).

        Raises:
            ValueError: an unknown optimizer, loss or metric name (listing the valid ones),
                or losses/metrics that do not match the outputs.
        """
        if metrics is None and _metric_list(loss_weights):
            # Keras 2's positional order was (optimizer, loss, metrics, loss_weights).
            metrics, loss_weights = loss_weights, None
        self.optimizer = optimizers.get(optimizer)
        if getattr(self.optimizer, "bound", True):  # a torch optimizer, or a bound one
            self._check_optimizer_params(self.optimizer)
        if auto_scale_loss and self._computes_in(torch.float16) and \
                not isinstance(self.optimizer, optimizers.LossScaleOptimizer):
            self.optimizer = optimizers.LossScaleOptimizer(self.optimizer)
        if jit_compile not in (True, False, "auto"):
            raise invalid_value("jit_compile", "True, False or 'auto'", jit_compile)
        names = self._output_names()
        self.loss = loss
        loss_specs = _per_output("loss", loss, names, single=True)
        weights = _per_output("loss_weights", loss_weights, names, single=False)
        metric_specs = _per_output("metrics", metrics, names, single=False, lists=True)
        weighted_specs = _per_output("weighted_metrics", weighted_metrics, names,
                                     single=False, lists=True)
        for specs in metric_specs + weighted_specs:  # unknown names fail here, not in fit
            for spec in specs or ():
                if not (isinstance(spec, str) and spec.lower() in ("accuracy", "acc")):
                    metrics_lib.get(spec)
        self._outputs_compiled = []
        for i, name in enumerate(names):
            spec = loss_specs[i]
            self._outputs_compiled.append(_Output(
                name, None if spec is None else losses.as_loss(spec),
                1.0 if weights[i] is None else float(weights[i]),
                metric_specs[i] or [], weighted_specs[i] or []))
        if all(o.loss is None for o in self._outputs_compiled) and loss is not None:
            raise invalid_value("loss", "a loss for at least one output", loss)
        self._loss_tracker = metrics_lib.Mean(name="loss")
        self._jit_compile = jit_compile
        self._jit_active = jit_compile is True
        self._compiled_step = None
        self._constraints_attached = None
        self.compiled = True
        self.stop_training = False

    def _output_names(self):
        outputs = getattr(self, "_outputs", None)
        if getattr(self, "_steps", None) is None or outputs is None or len(outputs) == 1:
            return [None]
        return [t._keras_history[0].name for t in outputs]

    def _check_optimizer_params(self, optimizer):
        own = {id(p) for p in self.parameters()}
        given = [p for group in optimizer.param_groups for p in group["params"]]
        if own and given and not any(id(p) in own for p in given):
            raise invalid_value("optimizer", "an optimizer over this model's parameters "
                                "(or a name, or a kconv optimizer created without them)",
                                optimizer)

    def _assert_compiled(self, what):
        if not self.compiled:
            raise ValueError(f"You must call `compile()` before using the model: "
                             f"`{what}` needs a loss and an optimizer")

    def _computes_in(self, dtype):
        """Whether a layer of the model (or the model) computes in ``dtype`` by its
        policy."""
        return any(getattr(m, "_precision", None) == dtype for m in self.modules())

    def _loss_scaler(self, device_type):
        """The ``GradScaler`` of a :class:`~kconv.optimizers.LossScaleOptimizer`, or None."""
        if isinstance(self.optimizer, optimizers.LossScaleOptimizer):
            return self.optimizer.scaler(device_type)
        return None

    def _bound_optimizer(self):
        """The torch optimizer (a loss-scaling one's inner optimizer), bound to the (now
        built) model's parameters, constraints on."""
        optimizer = self.optimizer
        if isinstance(optimizer, optimizers.LossScaleOptimizer):
            optimizer = optimizer.inner_optimizer
        if isinstance(optimizer, optimizers.KerasOptimizer) and not optimizer.bound:
            optimizer.bind(self.parameters())
        if self._constraints_attached is not optimizer:
            attach_constraints(optimizer, self)
            self._constraints_attached = optimizer
        return optimizer

    # ----------------------------------------------------------------- steps
    def _forward(self, x, training):
        """``(outputs as a list, their logits or None)`` for the losses."""
        head = self._outputs_compiled[0]
        if len(self._outputs_compiled) == 1 and head.logits_activation:
            z = as_float32(self.logits(x))  # losses, metrics, predictions: float32
            with torch.no_grad():
                y_pred = head.logits_activation(z.detach())
            return [y_pred], [z]
        y_pred = self(x)
        outputs = list(y_pred) if isinstance(y_pred, (list, tuple)) else \
            list(y_pred.values()) if isinstance(y_pred, dict) else [y_pred]
        if len(outputs) != len(self._outputs_compiled):
            raise ValueError(f"The model has {len(outputs)} outputs but was compiled for "
                             f"{len(self._outputs_compiled)}")
        return [as_float32(o) for o in outputs], [None] * len(outputs)

    def _forward_loss(self, x, y, sample_weight, training):
        """The step's differentiable part: ``(total loss, outputs as a list)``; what
        ``jit_compile`` compiles."""
        outputs, logits = self._forward(x, training)
        return self._total_loss(y, outputs, logits, sample_weight), outputs

    def _decide_jit(self, device, steps):
        """Settle ``jit_compile='auto'`` for a run of ``steps`` training steps on
        ``device`` (:func:`jit_pays`); returns the line saying it compiles, or None."""
        if self._jit_compile != "auto":
            return None
        self._jit_active = jit_pays(device, steps)
        choice = "compiling the step with torch.compile" if self._jit_active else \
            "running eagerly"
        line = (f"jit_compile='auto': {choice} ({steps} training steps on "
                f"{torch.device(device).type})")
        logging.getLogger("kconv").info(line)
        return line if self._jit_active else None

    def _step_function(self, x, y, sample_weight):
        """:meth:`_forward_loss`, compiled when ``jit_compile`` is on (at first use: after
        a DDP launch, not before) with the batch axis dynamic, so that a last partial batch
        does not compile again (the image size stays static: 'same' padding remains plain
        numbers)."""
        if not self._jit_active:
            return self._forward_loss
        if self._compiled_step is None:
            self._compiled_step = torch.compile(self._forward_loss)
        for value in (x, y, sample_weight):
            for tensor in value if isinstance(value, (list, tuple)) else \
                    value.values() if isinstance(value, dict) else [value]:
                if isinstance(tensor, torch.Tensor) and tensor.ndim:
                    torch._dynamo.maybe_mark_dynamic(tensor, 0)
        return self._compiled_step

    def _logits_form(self, loss):
        """``(softmax or sigmoid, the loss from logits)`` when ``loss`` is the matching
        cross-entropy of probabilities and the model can give the logits before that
        activation (``model.logits``); ``(False, None)`` otherwise."""
        fn = getattr(loss, "fn", None)
        wanted = _FROM_LOGITS.get(fn)
        if wanted is None or loss.fn_kwargs.get("from_logits") or \
                loss.fn_kwargs.get("axis", -1) != -1 or self._final_activation() is not wanted:
            return False, None
        return wanted, losses.LossFunctionWrapper(fn, reduction=loss.reduction, name=loss.name,
                                                  **{**loss.fn_kwargs, "from_logits": True})

    def _final_activation(self):
        """The activation applied by the layer making the model's one output, when
        ``self.logits`` can give its input; None otherwise (subclassed models)."""
        return None

    def _total_loss(self, ys, outputs, logits, sample_weight):
        ys = ys if isinstance(ys, (list, tuple)) else list(ys.values()) \
            if isinstance(ys, dict) else [ys]
        if len(ys) != len(outputs):
            raise ValueError(f"The model has {len(outputs)} output(s) but received "
                             f"{len(ys)} target(s)")
        total = None
        for output, y, y_pred, z in zip(self._outputs_compiled, ys, outputs, logits):
            if output.loss is None:
                continue
            if z is not None:
                value = output.logits_loss(y, z, sample_weight)
            else:
                value = output.loss(y, y_pred, sample_weight)
            value = value * output.weight if output.weight != 1.0 else value
            total = value if total is None else total + value
        if total is None:
            total = torch.zeros((), device=outputs[0].device)
        for penalty in self.losses:
            total = total + penalty
        return total

    def _update_metrics(self, ys, outputs, sample_weight):
        ys = ys if isinstance(ys, (list, tuple)) else list(ys.values()) \
            if isinstance(ys, dict) else [ys]
        for output, y, y_pred in zip(self._outputs_compiled, ys, outputs):
            if output.metrics is None:
                output.resolve_metrics(y, y_pred, output.name)
            for metric, weighted in output.metrics:
                metric.update_state(y, y_pred.detach(), sample_weight if weighted else None)

    def _step(self, x, y, sample_weight, training, record=True):
        """One batch: ``(total loss (with graph when training), the outputs as a list)``;
        the loss mean and the metrics updated (unless not ``record``: a data-parallel
        placeholder)."""
        if y is None:
            raise ValueError("A training or evaluation batch needs targets: (x, y) or "
                             "(x, y, sample_weight)")
        head = self._outputs_compiled[0]
        if len(self._outputs_compiled) == 1 and head.logits_activation is None:
            head.logits_activation, head.logits_loss = self._logits_form(head.loss)
        loss, outputs = self._step_function(x, y, sample_weight)(x, y, sample_weight,
                                                                 training)
        if record:
            batch = int(data_adapters.first_item(x).shape[0])
            self._loss_tracker.update_state(loss.detach(), sample_weight=batch)
            self._update_metrics(y, outputs, sample_weight)
        return loss, outputs

    def reset_metrics(self):
        """Start every compiled metric (and the loss mean) afresh."""
        self._loss_tracker.reset_state()
        for output in getattr(self, "_outputs_compiled", ()):
            for metric, _ in output.metrics or ():
                metric.reset_state()

    def _results(self, synchronize=False):
        """``{"loss": ..., metric name: ...}`` as floats; with ``synchronize``, over every
        process of a distributed run (the metrics' states summed first)."""
        metrics = [self._loss_tracker] + [metric for output in self._outputs_compiled
                                          for metric, _ in output.metrics or ()]
        return {("loss" if metric is self._loss_tracker else metric.name):
                float(metric.result(synchronize=synchronize) if synchronize else
                      metric.result()) for metric in metrics}

    def _metric_directions(self):
        """'up'/'down' per compiled metric name (monitoring callbacks' 'auto' mode)."""
        directions = {}
        for output in getattr(self, "_outputs_compiled", ()):
            for metric, _ in output.metrics or ():
                fn = getattr(metric, "fn", None)
                down = fn is not None and fn in losses.ALL_OBJECTS.values()
                directions[metric.name] = "down" if down else "up"
        return directions

    @property
    def metrics_names(self):
        """'loss' and the compiled metrics' names (known after the first batch)."""
        if not self.compiled:
            return []
        return ["loss"] + [metric.name for output in self._outputs_compiled
                           for metric, _ in output.metrics or ()]

    @property
    def metrics(self):
        """The loss mean and the compiled metrics (Keras's ``model.metrics``)."""
        if not self.compiled:
            return []
        return [self._loss_tracker] + [metric for output in self._outputs_compiled
                                       for metric, _ in output.metrics or ()]

    # ----------------------------------------------------------------- loops
    def _device(self):
        for tensor in self.parameters():
            return tensor.device
        for tensor in self.buffers():
            return tensor.device
        return torch.device("cpu")

    def _test_loop(self, epochs, callbacks, device):
        """Evaluate over ``epochs`` (one pass); the logs (over every process of a
        data-parallel run, each taking its slice of every batch)."""
        replica = distribution.replica()
        was_training = self.training
        self.eval()
        self.reset_metrics()
        callbacks.on_test_begin()
        try:
            with torch.no_grad():
                for i, batch in enumerate(epochs):
                    callbacks.on_test_batch_begin(i)
                    (x, y, w), weight = distribution.shard(batch)
                    x, y, w = _to(device, (x, y, w))
                    self._step(x, y, w, training=False, record=weight != 0)
                    callbacks.on_test_batch_end(i, _Logs(self))
        finally:
            self.train(was_training)
        logs = self._results(synchronize=replica is not None)
        callbacks.on_test_end(sorted_logs(logs))
        return logs

    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, class_weight=None,
            sample_weight=None, initial_epoch=0, steps_per_epoch=None, validation_steps=None,
            validation_batch_size=None, validation_freq=1):
        """Train as Keras does (on a Lightning loop; on CUDA when there is a GPU); returns
        the :class:`kconv.callbacks.History`. Arguments are Keras's; see
        :func:`kconv.trainers.engine.fit`."""
        self._assert_compiled("fit")
        from kconv.trainers import engine
        return engine.fit(self, x=x, y=y, batch_size=batch_size, epochs=epochs,
                          verbose=verbose, callbacks=callbacks,
                          validation_split=validation_split, validation_data=validation_data,
                          shuffle=shuffle, class_weight=class_weight,
                          sample_weight=sample_weight, initial_epoch=initial_epoch,
                          steps_per_epoch=steps_per_epoch, validation_steps=validation_steps,
                          validation_batch_size=validation_batch_size,
                          validation_freq=validation_freq)

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None,
                 steps=None, callbacks=None, return_dict=False):
        """The loss and metrics over the data: the loss alone without metrics, else
        ``[loss, *metrics]``, or a dict with ``return_dict``."""
        self._assert_compiled("evaluate")
        verbose = _launched(self, verbose)
        data = data_adapters.adapt(x, y, sample_weight, batch_size=batch_size, steps=steps,
                                   argument="steps", mode="evaluate")
        callbacks = CallbackList(callbacks, add_progbar=verbose != 0, model=self,
                                 verbose=verbose, epochs=1, steps=len(data), mode="evaluate")
        return _returned(self._test_loop(data, callbacks, self._device()), return_dict)

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        """The model's outputs over ``x`` as NumPy arrays (a list for several outputs); under
        a data-parallel distribution each process predicts its slice of every batch and
        every process returns the whole."""
        verbose = _launched(self, verbose)
        data = data_adapters.adapt(x, batch_size=batch_size, steps=steps, argument="steps",
                                   mode="predict")
        callbacks = CallbackList(callbacks, add_progbar=verbose != 0, model=self,
                                 verbose=verbose, epochs=1, steps=len(data), mode="predict")
        device, chunks = self._device(), []
        was_training = self.training
        self.eval()
        callbacks.on_predict_begin()
        try:
            with torch.no_grad():
                for i, batch in enumerate(data):
                    callbacks.on_predict_batch_begin(i)
                    (xb, _, _), weight = distribution.shard(batch)
                    out = self(_to(device, xb))
                    chunks.append(None if weight == 0 else data_adapters.map_structure(
                        lambda t: as_float32(t.detach()).cpu().numpy(), out))
                    callbacks.on_predict_batch_end(i, {"outputs": out})
        finally:
            self.train(was_training)
        if distribution.replica() is not None:
            chunks = distribution.gather_batches(chunks)
        callbacks.on_predict_end()
        if not chunks:
            raise ValueError("predict received no data")
        if isinstance(chunks[0], list):
            return [np.concatenate(parts) for parts in zip(*chunks)]
        if isinstance(chunks[0], dict):
            return {k: np.concatenate([c[k] for c in chunks]) for k in chunks[0]}
        return np.concatenate(chunks)

    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None,
                       return_dict=False):
        """One optimizer step on one batch; its loss and metrics (as ``evaluate``)."""
        self._assert_compiled("train_on_batch")
        if class_weight is not None and sample_weight is not None:
            raise ValueError("Arguments `sample_weight` and `class_weight` cannot be "
                             "specified at the same time")
        data = data_adapters.adapt(x, y, sample_weight, batch_size=_batch_size(x),
                                   class_weight=class_weight, mode="train_on_batch")
        xb, yb, wb = _to(self._device(), next(iter(data)))
        self._build_for(xb)
        optimizer = self._bound_optimizer()
        self.reset_metrics()
        was_training = self.training
        self.train()
        scaler = self._loss_scaler(xb.device.type if isinstance(xb, torch.Tensor) else "cpu")
        try:
            optimizer.zero_grad(set_to_none=True)
            loss = self._step(xb, yb, wb, training=True)[0]
            if loss.requires_grad and scaler is not None:  # float16: the scaled step
                scaler.scale(loss).backward()
                scaler.step(optimizer)
                scaler.update()
            elif loss.requires_grad:  # else nothing is trainable: Keras updates nothing
                loss.backward()
                optimizer.step()
        finally:
            self.train(was_training)
        return _returned(self._results(), return_dict)

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        """The loss and metrics of one batch."""
        self._assert_compiled("test_on_batch")
        data = data_adapters.adapt(x, y, sample_weight, batch_size=_batch_size(x),
                                   mode="test_on_batch")
        logs = self._test_loop(data, CallbackList(model=self), self._device())
        return _returned(logs, return_dict)

    def predict_on_batch(self, x):
        """The outputs for one batch, as NumPy."""
        return self.predict(x, batch_size=_batch_size(x), verbose=0)

    def fit_generator(self, generator, *args, **kwargs):
        """Keras 2's name of :meth:`fit` with a generator (with a warning)."""
        legacy.keras2("model.fit_generator(...)", "model.fit(...)")
        return self.fit(generator, *args, **kwargs)

    def evaluate_generator(self, generator, *args, **kwargs):
        """Keras 2's name of :meth:`evaluate` with a generator (with a warning)."""
        legacy.keras2("model.evaluate_generator(...)", "model.evaluate(...)")
        return self.evaluate(generator, *args, **kwargs)

    def predict_generator(self, generator, *args, **kwargs):
        """Keras 2's name of :meth:`predict` with a generator (with a warning)."""
        legacy.keras2("model.predict_generator(...)", "model.predict(...)")
        return self.predict(generator, *args, **kwargs)

    def _build_for(self, x):
        """Build the model for a batch before binding the optimizer to its parameters."""
        if getattr(self, "built", True):
            return
        was_training = self.training
        self.eval()
        with torch.no_grad():
            self(x)
        self.train(was_training)


def _metric_list(value):
    """Whether ``value`` is a list of metric specs (names, Metrics, functions), not of
    loss weights."""
    return isinstance(value, (list, tuple)) and bool(value) and all(
        isinstance(v, (str, metrics_lib.Metric, list, tuple)) or callable(v) for v in value)


def _batch_size(x):
    first = data_adapters.first_item(x)
    return max(int(first.shape[0]), 1) if hasattr(first, "shape") and len(first.shape) else 1


def _to(device, value):
    if isinstance(value, torch.Tensor):
        return value.to(device, non_blocking=True)
    if isinstance(value, dict):
        return {k: _to(device, v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_to(device, v) for v in value)
    return value


def _launched(model, verbose):
    """Start a data-parallel run's processes if one is current, each with the model on its
    device; the verbosity of this process (only the first one prints)."""
    replica = distribution.launch()
    if replica is None:
        return verbose
    model.to(distribution.device())
    return verbose if replica[0] == 0 else 0


def sorted_logs(logs):
    """Logs as Keras 3 hands them to callbacks and returns them as dicts: keys sorted."""
    return dict(sorted(logs.items()))


def _returned(logs, return_dict):
    """``evaluate``'s result: a dict (keys sorted, as Keras's), else the values in the
    metrics' order (the loss first)."""
    if return_dict:
        return sorted_logs(logs)
    values = list(logs.values())
    return values[0] if len(values) == 1 else values


def _per_output(argument, value, names, *, single, lists=False):
    """``value`` spread over the outputs ``names`` (None for one unnamed output): one item
    per output, from a single value (losses), a list in output order or a dict by name."""
    count = len(names)
    if value is None:
        return [None] * count
    if isinstance(value, dict):
        if names == [None]:
            if len(value) != 1:
                raise invalid_value(argument, "a single spec for a one-output model", value)
            return list(value.values())
        unknown = sorted(set(value) - set(names))
        if unknown:
            raise invalid_value(argument, f"a dict keyed by output names {names}", value)
        return [value.get(name) for name in names]
    if lists:
        if not isinstance(value, (list, tuple)):
            raise invalid_type(argument, "a list of metrics (or a dict by output name)", value)
        if count > 1 and all(isinstance(v, (list, tuple)) or v is None for v in value):
            if len(value) != count:
                raise invalid_value(argument, f"a list per output ({count})", value)
            return list(value)
        return [list(value)] * count
    if isinstance(value, (list, tuple)):
        if len(value) != count:
            raise invalid_value(argument, f"one entry per output ({count})", value)
        return list(value)
    if not single and count > 1:
        raise invalid_value(argument, f"one entry per output ({count})", value)
    return [value] * count
