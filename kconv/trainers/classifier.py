"""The training engine: one LightningModule that trains a kconv classifier the Keras way."""

import lightning as L
import torch
import torch.nn.functional as F
from torchmetrics import MeanMetric
from torchmetrics.classification import MulticlassAccuracy, MulticlassStatScores

from kconv import activations, optimizers
from kconv.augmentation import ImageAugmentation
from kconv.constraints import attach_constraints
from kconv.trainers.report import classification_report

STAGES = ("train", "val", "test")


def _metric_names(stage):
    """The logged names of a stage's loss and accuracy."""
    return f"{stage}_loss", f"{stage}_acc"


class ClassifierModule(L.LightningModule):
    """A kconv classifier (a ``Sequential`` or functional ``Model`` ending in softmax) with
    Keras's training recipe.

    Loss: categorical cross-entropy computed from the logits before the network's final
    softmax (numerically stable), plus the network's Keras ``losses`` (weight and activity
    regularization). Loss and accuracy are logged as Keras prints them, as running means
    over the epoch: ``train_loss``/``train_acc`` every ``log_every_n_steps`` steps of the
    Trainer and at the last batch, ``val_*``/``test_*`` at the end of their epoch. They
    accumulate on the device in between, since each Lightning ``self.log`` call costs about
    a millisecond (benchmarks/README.md). Testing also builds a classification report
    (``self.test_report``). Constraints run after every optimizer step. Batches are
    ``(images, labels)`` with integer labels; uint8 images are scaled to [0, 1], and
    (N, H, W, C) batches are laid out for a channels_first network.

    Args:
        model: the network: a built kconv ``Sequential`` or functional ``Model`` whose output
            layer applies softmax (``model.logits`` gives what the loss takes).
        optimizer: a Keras optimizer name (``kconv.optimizers.names()``).
        optimizer_kwargs: Keras-named optimizer arguments, e.g. ``learning_rate``, ``decay``.
        class_names: optional names for the report.
        augment: optional ``kconv.augmentation.ImageAugmentation`` arguments; training
            batches are augmented on their device after scaling.
        compile: run the network through ``torch.compile`` (inductor, dynamic batch size),
            compiled at its first batch. On a 2-core CPU it helps StridedNet-sized networks
            and slows the MNIST CNN (benchmarks/README.md).

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
        self.optimizer_class = type(optimizers.get(optimizer))
        self.optimizer_kwargs = dict(optimizer_kwargs or {})
        self.class_names = None if class_names is None else list(class_names)
        self.compile_network = bool(compile)
        self.num_classes = self.model.output_shape[-1]
        # Running means per stage, named as logged. NaN losses stay NaN (a diverged run must
        # show as one); inputs come from this module, so per-update checks are skipped.
        self.running = torch.nn.ModuleDict()
        for stage in STAGES:
            loss, accuracy = _metric_names(stage)
            self.running[loss] = MeanMetric(nan_strategy="disable")
            self.running[accuracy] = MulticlassAccuracy(self.num_classes, average="micro",
                                                        validate_args=False)
        self.test_stats = MulticlassStatScores(self.num_classes, average=None,
                                               validate_args=False)
        self.test_report = None
        self._compiled_logits = None

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

    def _step(self, batch, stage):
        x, y = batch
        x = self.prepare(x)
        if stage == "train" and self.augment is not None:
            x = self.augment(x)
        out = self.logits(x)
        penalty = sum(self.model.losses, torch.zeros((), device=out.device))
        losses = F.cross_entropy(out, y, reduction="none") + penalty
        # Per-sample values, so the mean needs no weights: MeanMetric drops its weights
        # under nan_strategy="disable" (torchmetrics 1.x), the one strategy that neither
        # syncs a GPU nor hides NaNs.
        loss, accuracy = _metric_names(stage)
        self.running[loss].update(losses.detach())
        self.running[accuracy].update(out.detach(), y)
        return losses.mean(), out, y

    def logits(self, x):
        """The network's logits for prepared inputs, compiled when asked for."""
        if not self.compile_network:
            return self.model.logits(x)
        if self._compiled_logits is None:  # at first use: after a DDP launch, not before
            self._compiled_logits = torch.compile(self.model.logits)
        # One graph for every batch size (a last partial batch must not recompile); the
        # image size stays static, so 'same' padding remains plain numbers.
        torch._dynamo.maybe_mark_dynamic(x, 0)
        return self._compiled_logits(x)

    def _log_means(self, stage, on_step=False):
        """Logs the stage's running loss and accuracy, synchronized across processes: their
        values now (``on_step``), or the metrics themselves for Lightning to compute at the
        end of the epoch."""
        metrics = {name: self.running[name] for name in _metric_names(stage)}
        if on_step:
            metrics = {name: metric.compute() for name, metric in metrics.items()}
        self.log_dict(metrics, prog_bar=True, on_step=on_step, on_epoch=not on_step)

    def _reset(self, stage):
        for name in _metric_names(stage):
            self.running[name].reset()

    def training_step(self, batch, batch_idx):
        loss = self._step(batch, "train")[0]
        every = max(self.trainer.log_every_n_steps, 1)
        if batch_idx % every == 0 or self.trainer.is_last_batch:
            self._log_means("train", on_step=True)
        return loss

    def validation_step(self, batch, batch_idx):
        self._step(batch, "val")

    def test_step(self, batch, batch_idx):
        _, out, y = self._step(batch, "test")
        self.test_stats.update(out, y)

    def on_train_epoch_start(self):
        self._reset("train")

    def on_validation_epoch_start(self):
        self._reset("val")

    def on_validation_epoch_end(self):
        self._log_means("val")

    def on_test_epoch_start(self):
        self._reset("test")
        self.test_stats.reset()

    def on_test_epoch_end(self):
        self._log_means("test")
        tp, fp, _, fn, _ = self.test_stats.compute().T.tolist()
        self.test_report = classification_report(tp, fp, fn, self.class_names)

    def predict_step(self, batch, batch_idx):
        x = batch[0] if isinstance(batch, (list, tuple)) else batch
        return self(x)

    def configure_optimizers(self):
        optimizer = self.optimizer_class(self.model.parameters(), **self.optimizer_kwargs)
        attach_constraints(optimizer, self.model)
        return optimizer
