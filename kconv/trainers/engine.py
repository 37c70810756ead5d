"""``model.fit`` on Lightning: a LightningModule around a compiled kconv model, driven by a
``lightning.Trainer`` on one device (CUDA when there is a GPU, as Keras) or, under a
:class:`kconv.distribution.DataParallel`, on Lightning's DDP strategy, with Keras's
callbacks, validation and History.

The step itself (forward, loss, metrics) is the model's own (:mod:`kconv.models.training`);
this module only loops: batches, optimizer steps, epochs, validation, callbacks.
"""

import contextlib
import logging
import os
import warnings

with warnings.catch_warnings():  # Lightning 2.6 on torch 2.14 warns about its own pytree use
    warnings.filterwarnings("ignore", message=".*LeafSpec.*")
    import lightning as L
    from lightning.pytorch.plugins.precision import MixedPrecision
import torch

from kconv import distribution, mixed_precision
from kconv.callbacks import BackupAndRestore, CallbackList, History
from kconv.models.training import _Logs, _to, sorted_logs
from kconv.trainers import data_adapters
from kconv.validation import check_int, invalid_value


class KerasModule(L.LightningModule):
    """The LightningModule of ``fit``: one compiled kconv model, its optimizer, and the
    Keras callbacks called from Lightning's hooks.

    Args:
        model: a compiled kconv model.
        callbacks: a :class:`kconv.callbacks.CallbackList`.
        initial_epoch: Keras's number of the first epoch run.
        validation: ``(epochs of validation batches, validation_freq)`` or None.
        train_epochs: the training batches (to stop when a generator runs out).
        replica: ``(rank, world size)`` of a data-parallel run, or None.
    """

    def __init__(self, model, callbacks, *, initial_epoch=0, validation=None,
                 train_epochs=None, replica=None):
        super().__init__()
        self.replica = replica
        self._stream = None
        self.model = model
        self.keras_callbacks = callbacks
        self.initial_epoch = initial_epoch
        self.validation = validation
        self.train_epochs = train_epochs
        self._last_logs = {}

    @property
    def epoch(self):
        return self.initial_epoch + self.current_epoch

    def forward(self, x):
        return self.model(x)

    def configure_optimizers(self):
        return self.model._bound_optimizer()

    def training_step(self, batch, batch_idx):
        x, y, sample_weight, *weight = batch  # a data-parallel slice carries its weight
        weight = weight[0] if weight else 1.0
        if self.replica is None:
            loss = self.model._step(x, y, sample_weight, training=True)[0]
        else:
            if self._stream is None:
                self._stream = distribution.RankRandomStream(self.replica[0], self.device)
            with self._stream.active():  # this slice's own dropout masks
                loss = self.model._step(x, y, sample_weight, training=True,
                                        record=weight != 0)[0]
        # With nothing trainable (every layer frozen) Keras computes the loss and updates
        # nothing; None makes Lightning skip the backward pass and the step.
        if not loss.requires_grad:
            return None
        return loss if weight == 1.0 else loss * weight

    def _agreed(self, decision):
        """A stop decision, true on every process when true on one (DDP steps together)."""
        if self.replica is None:
            return decision
        return self.trainer.strategy.reduce_boolean_decision(bool(decision), all=False)

    def on_train_start(self):
        # Keras's fit trains with training=True whatever mode the model was left in
        # (``model.eval()``); Lightning keeps the module's mode, so set it here.
        self.model.train()
        if not self.model.trainable_weights:
            warnings.warn("The model does not have any trainable weights.", UserWarning,
                          stacklevel=2)
        self.keras_callbacks.on_train_begin()

    def on_train_end(self):
        self.keras_callbacks.on_train_end(self._last_logs)

    def on_train_epoch_start(self):
        self.model.reset_metrics()
        self.keras_callbacks.on_epoch_begin(self.epoch)

    def on_train_batch_start(self, batch, batch_idx):
        if self._agreed(self.model.stop_training):
            self.model.stop_training = True
            return -1  # Lightning skips the rest of the epoch
        self.keras_callbacks.on_train_batch_begin(batch_idx)
        return None

    def on_train_batch_end(self, outputs, batch, batch_idx):
        self.keras_callbacks.on_train_batch_end(batch_idx, _Logs(self.model))

    def on_train_epoch_end(self):
        # Keras 3's order: the training logs sorted, then the validation ones sorted
        logs = sorted_logs(self.model._results(synchronize=self.replica is not None))
        if self.validation is not None:
            epochs, freq = self.validation
            if (self.epoch + 1) % freq == 0:
                val = self.model._test_loop(epochs, self.keras_callbacks, self.device)
                logs.update({f"val_{key}": value for key, value in sorted_logs(val).items()})
        self.keras_callbacks.on_epoch_end(self.epoch, logs)
        self._last_logs = dict(logs)
        exhausted = getattr(self.train_epochs, "exhausted", False) or \
            getattr(getattr(self.train_epochs, "epochs", None), "exhausted", False)
        if self._agreed(self.model.stop_training or exhausted):
            self.trainer.should_stop = True


class _LossScaling(MixedPrecision):
    """Lightning's float16 step with a :class:`~kconv.optimizers.LossScaleOptimizer`'s
    ``GradScaler`` (scaled backward, unscaled and checked gradients, a skipped step on
    inf/NaN), without Lightning's autocast: each layer computes in its own policy."""

    def forward_context(self):
        return contextlib.nullcontext()


class _Sharded:
    """Each global batch of ``epochs`` as this process's slice and its loss weight."""

    def __init__(self, epochs):
        self.epochs = epochs

    def __len__(self):
        return len(self.epochs)

    def __iter__(self):
        for batch in self.epochs:
            part, weight = distribution.shard(batch)
            yield (*part, weight)


@contextlib.contextmanager
def quiet_lightning():
    """Lightning's start-up lines and hints are no use to a Keras user's ``fit``."""
    logger = logging.getLogger("lightning.pytorch")
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings():
            from lightning.fabric.utilities.warnings import PossibleUserWarning
            warnings.simplefilter("ignore", PossibleUserWarning)
            warnings.filterwarnings("ignore", message=".*LeafSpec.*")  # Lightning's own pytree use
            yield
    finally:
        logger.setLevel(level)


def fit(model, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
        validation_split=0.0, validation_data=None, shuffle=True, class_weight=None,
        sample_weight=None, initial_epoch=0, steps_per_epoch=None, validation_steps=None,
        validation_batch_size=None, validation_freq=1):
    """Keras's ``fit`` on a compiled kconv model (see ``Model.fit``).

    Args:
        x, y, sample_weight: arrays/tensors, or ``x`` a generator, Keras-style dataset or
            torch DataLoader of ``(x, y[, sample_weight])`` batches.
        batch_size: for arrays (default 32).
        epochs: the index of the last epoch (trained from ``initial_epoch``).
        verbose: 'auto'/1 progress bar, 2 one line per epoch, 0 silent.
        callbacks: :class:`kconv.callbacks.Callback` instances.
        validation_split: the last fraction of the arrays, held out for validation.
        validation_data: ``(x, y[, sample_weight])`` or a generator/loader.
        shuffle: shuffle arrays every epoch (True, 'batch' or False).
        class_weight: dict class index -> weight of each sample's loss.
        steps_per_epoch, validation_steps: batches per epoch / per validation.
        validation_batch_size: batch size of validation arrays (default ``batch_size``).
        validation_freq: validate after every n-th epoch.

    Returns:
        The :class:`kconv.callbacks.History` (also ``model.history``).
    """
    replica = distribution.launch()  # data parallel: the processes start here
    if replica is not None:
        distribution.share_random_state()  # the same global batches on every process
        verbose = verbose if replica[0] == 0 else 0
    if validation_split and validation_data is None:
        (x, y, sample_weight), validation_data = data_adapters.split(
            x, y, sample_weight, validation_split)
    train = data_adapters.adapt(x, y, sample_weight, batch_size=batch_size, shuffle=shuffle,
                                steps=steps_per_epoch, class_weight=class_weight)
    validation = None
    if validation_data is not None:
        arrays = data_adapters.validation_tuple(validation_data)
        source = validation_data if arrays is None else arrays[0]
        val_y, val_w = (None, None) if arrays is None else arrays[1:]
        val_epochs = data_adapters.adapt(
            source, val_y, val_w, batch_size=validation_batch_size or batch_size,
            steps=validation_steps, argument="validation_steps", mode="evaluate")
        validation = (val_epochs, _check_freq(validation_freq))
    initial_epoch = check_int("initial_epoch", initial_epoch, minimum=0)
    epochs = check_int("epochs", epochs, minimum=0)
    if epochs < initial_epoch:
        raise invalid_value("epochs", f"an int >= initial_epoch ({initial_epoch})", epochs)
    callback_list = CallbackList(callbacks, add_history=True, add_progbar=verbose != 0,
                                 model=model, verbose=verbose, epochs=epochs,
                                 steps=len(train), mode="fit")
    model.history = next(c for c in callback_list if isinstance(c, History))
    model.stop_training = False
    if epochs == initial_epoch:
        return model.history
    _build(model, train)
    for callback in callback_list:  # BackupAndRestore: the state of an interrupted fit
        if isinstance(callback, BackupAndRestore):
            initial_epoch = callback.restore(model, initial_epoch)
    if initial_epoch >= epochs:  # it had finished: nothing left but the end
        callback_list.on_train_end()
        return model.history
    layout = distribution.plan() if replica is not None else None
    device = layout["accelerator"] if layout else "cuda" if torch.cuda.is_available() else "cpu"
    for half in (torch.bfloat16, torch.float16):
        if model._computes_in(half):
            mixed_precision.warn_if_slow(device, half)
    line = model._decide_jit(device, len(train) * (epochs - initial_epoch))
    if line and verbose != 0:  # a compile stalls the first steps: never silently
        print(line)
    module = KerasModule(model, callback_list, initial_epoch=initial_epoch,
                         validation=validation, train_epochs=train, replica=replica)
    hardware = {"accelerator": "auto", "devices": 1} if layout is None else dict(layout)
    if layout is not None and any(o.loss is None for o in model._outputs_compiled):
        # an output without a loss leaves its layers without gradients, which DDP must know
        hardware["strategy"] = "ddp_find_unused_parameters_true"
    scaler = model._loss_scaler(device)
    if scaler is not None:
        hardware["plugins"] = [_LossScaling("16-mixed", device, scaler)]
    was_training = model.training
    with quiet_lightning(), contextlib.ExitStack() as stack:
        if replica is not None:
            stack.enter_context(distribution.synchronized_batch_statistics())
            if replica[0] != 0:  # callbacks' lines are printed by the first process only
                devnull = stack.enter_context(open(os.devnull, "w"))
                stack.enter_context(contextlib.redirect_stdout(devnull))
        trainer = L.Trainer(max_epochs=epochs - initial_epoch, **hardware, logger=False,
                            enable_checkpointing=False, enable_progress_bar=False,
                            enable_model_summary=False, num_sanity_val_steps=0, limit_val_batches=0,
                            use_distributed_sampler=False, log_every_n_steps=1)
        try:
            trainer.fit(module, train_dataloaders=train if replica is None else
                        _Sharded(train))
        finally:
            model.train(was_training)  # the mode the model had before fit
    # Lightning returns the model to the CPU; Keras's model stays where it trained.
    model.to(trainer.strategy.root_device)
    return model.history


def _check_freq(freq):
    if isinstance(freq, bool) or not isinstance(freq, int) or freq < 1:
        raise ValueError(f"Invalid value for argument `validation_freq`: expected an integer "
                         f">= 1. Received: validation_freq={freq!r}")
    return freq


def _build(model, train):
    """Build an unbuilt model on the first batch's shapes: optimizers need its parameters
    before the first step. The batch is not consumed."""
    if getattr(model, "built", True):
        return
    data = getattr(train, "epochs", train).data
    model._build_for(_to(model._device(), data.first_inputs()))
