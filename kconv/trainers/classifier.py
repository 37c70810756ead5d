"""train.py's LightningModule: a kconv classifier trained the Keras way on the same step
logic as ``model.fit`` (the model's compiled loss and metrics, :mod:`kconv.models.training`),
plus what train.py adds: uint8 scaling, augmentation on the device, metrics logged under
train.py's names and synchronized across DDP processes, and a test report."""

import warnings

import lightning as L
import torch
from torchmetrics.classification import MulticlassStatScores

from kconv import activations, optimizers
from kconv.augmentation import ImageAugmentation
from kconv.trainers.report import classification_report

STAGES = ("train", "val", "test")


def _metric_names(stage):
    """The logged names of a stage's loss and accuracy."""
    return f"{stage}_loss", f"{stage}_acc"


class ClassifierModule(L.LightningModule):
    """A kconv classifier (a ``Sequential`` or functional ``Model`` ending in softmax) with
    Keras's training recipe.

    The model is compiled here (``sparse_categorical_crossentropy``, ``accuracy``) and each
    batch runs the model's own step, as ``model.fit`` does: cross-entropy from the logits
    before the final softmax (numerically stable) plus the model's ``losses`` (weight and
    activity regularization), the loss and accuracy accumulated on the device as Keras's
    running means. They are logged as ``train_loss``/``train_acc`` every
    ``log_every_n_steps`` steps of the Trainer and at the last batch, ``val_*``/``test_*``
    at the end of their epoch, summed over DDP processes first (each Lightning
    ``self.log`` call costs about a millisecond: benchmarks/README.md). Testing also builds
    a classification report (``self.test_report``). Constraints run after every optimizer
    step. Batches are ``(images, labels)`` with integer labels; uint8 images are scaled to
    [0, 1], and (N, H, W, C) batches are laid out for a channels_first network.

    Args:
        model: the network: a built kconv ``Sequential`` or functional ``Model`` whose output
            layer applies softmax.
        optimizer: a Keras optimizer name (``kconv.optimizers.names()``).
        optimizer_kwargs: Keras-named optimizer arguments, e.g. ``learning_rate``, ``decay``.
        class_names: optional names for the report.
        augment: optional ``kconv.augmentation.ImageAugmentation`` arguments; training
            batches are augmented on their device after scaling.
        compile: ``jit_compile`` of ``model.compile``: True compiles the training step
            with ``torch.compile``, False runs eagerly, 'auto' decides at the start of the
            run (:func:`kconv.models.training.jit_pays`: never on a CPU, where it measured
            slower; on CUDA for long runs).

    Example:
        >>> module = ClassifierModule(kconv.Sequential([...]), optimizer="adam")
        >>> lightning.Trainer(max_epochs=5).fit(module, datamodule=ImageDataModule("mnist"))
    """

    def __init__(self, model, *, optimizer="rmsprop", optimizer_kwargs=None, class_names=None,
                 augment=None, compile=False):
        super().__init__()
        if model._final_activation() is not activations.softmax:
            raise ValueError(f"ClassifierModule needs a model whose output layer applies "
                             f"softmax; '{model.name}' ends in "
                             f"{getattr(model._final_activation(), '__name__', 'no activation')}")
        self.model = model
        # The network's layout; batches arrive as (N, H, W, C).
        self.data_format = getattr(model.layers[0], "data_format", "channels_last")
        self.augment = ImageAugmentation(**augment, data_format=self.data_format) \
            if augment else None
        with warnings.catch_warnings():  # the recipes keep Keras 2's `decay`, on purpose
            warnings.simplefilter("ignore", DeprecationWarning)
            optimizer = type(optimizers.get(optimizer))(**dict(optimizer_kwargs or {}))
        model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"],
                      jit_compile=compile if compile == "auto" else bool(compile))
        self.class_names = None if class_names is None else list(class_names)
        self.num_classes = self.model.output_shape[-1]
        self.test_stats = MulticlassStatScores(self.num_classes, average=None,
                                               validate_args=False)
        self.test_report = None

    def prepare(self, x):
        """uint8 images -> float in [0, 1], in the network's data format."""
        if x.dtype == torch.uint8:
            x = x.float().div_(255)
        if self.data_format == "channels_first" and x.ndim == 4:
            x = x.movedim(-1, 1)  # (N, H, W, C) batches into a channels_first network
        return x

    def forward(self, x):
        """Class probabilities, as the Keras model returns them."""
        return self.model(self.prepare(x))

    def logits(self, x):
        """The network's logits for prepared inputs."""
        return self.model.logits(x)

    def on_fit_start(self):
        # compile='auto': decided for this run's device and length, as fit decides it.
        line = self.model._decide_jit(self.device, self.trainer.estimated_stepping_batches)
        if line:
            print(line)

    def _step(self, batch, stage):
        x, y = batch
        x = self.prepare(x)
        if stage == "train" and self.augment is not None:
            x = self.augment(x)
        return self.model._step(x, y, None, training=stage == "train")

    def _log_means(self, stage, on_step=False):
        """Logs the stage's running loss and accuracy, summed over processes first."""
        results = self.model._results(synchronize=True)
        loss, accuracy = _metric_names(stage)
        values = {loss: results["loss"], accuracy: results["accuracy"]}
        self.log_dict(values, prog_bar=True, on_step=on_step, on_epoch=not on_step,
                      batch_size=1)

    def training_step(self, batch, batch_idx):
        loss = self._step(batch, "train")[0]
        every = max(self.trainer.log_every_n_steps, 1)
        if batch_idx % every == 0 or self.trainer.is_last_batch:
            self._log_means("train", on_step=True)
        return loss

    def validation_step(self, batch, batch_idx):
        self._step(batch, "val")

    def test_step(self, batch, batch_idx):
        _, (out,) = self._step(batch, "test")
        self.test_stats.update(out, batch[1])

    def on_train_epoch_start(self):
        self.model.reset_metrics()

    def on_validation_epoch_start(self):
        # train_* were logged at the last training batch; validation starts afresh.
        self.model.reset_metrics()

    def on_validation_epoch_end(self):
        self._log_means("val")

    def on_test_epoch_start(self):
        self.model.reset_metrics()
        self.test_stats.reset()

    def on_test_epoch_end(self):
        self._log_means("test")
        tp, fp, _, fn, _ = self.test_stats.compute().T.tolist()
        self.test_report = classification_report(tp, fp, fn, self.class_names)

    def predict_step(self, batch, batch_idx):
        x = batch[0] if isinstance(batch, (list, tuple)) else batch
        return self(x)

    def configure_optimizers(self):
        return self.model._bound_optimizer()
