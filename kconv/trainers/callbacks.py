"""Lightning callbacks of a training run: per-epoch seeding, the written history, and the
stop of a diverging run."""

import math
import time

import lightning as L
import torch

from kconv.trainers.errors import Diverged
from kconv.trainers.results import save_plot, write_csv

COLUMNS = ["epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "seconds"]


class EpochSeed(L.Callback):
    """Seeds torch's global RNG with ``seed + epoch`` at each epoch start, so dropout and
    augmentation of a resumed run repeat those of an uninterrupted one."""

    def __init__(self, seed):
        self.seed = seed

    def on_train_epoch_start(self, trainer, pl_module):
        torch.manual_seed(self.seed + trainer.current_epoch)


class StopOnDivergence(L.Callback):
    """Keras's ``TerminateOnNaN`` for train.py: the first non-finite running training loss
    raises :class:`Diverged`. It is read where the module logs ``train_loss`` (every
    ``log_every_n_steps`` steps and at the last batch, values already synchronized), so
    the check adds no device synchronization; raising, rather than stopping at the epoch's
    end, keeps Lightning from writing the non-finite weights into any checkpoint."""

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        every = max(trainer.log_every_n_steps, 1)
        if batch_idx % every and not trainer.is_last_batch:
            return
        value = trainer.callback_metrics.get("train_loss")
        if value is not None and not math.isfinite(float(value)):
            optimizer = trainer.optimizers[0]
            raise Diverged(trainer.current_epoch + 1, trainer.global_step,
                           float(optimizer.param_groups[0]["lr"]))


class History(L.Callback):
    """Collects the epoch metrics and writes ``metrics.csv`` and the plot after every
    epoch (rank zero only). Its rows are saved in checkpoints, so a resumed run continues
    the same files."""

    def __init__(self, csv_path, plot_path):
        self.csv_path, self.plot_path = csv_path, plot_path
        self.rows = []
        self._start = None

    def on_train_epoch_start(self, trainer, pl_module):
        self._start = time.perf_counter()

    def on_train_epoch_end(self, trainer, pl_module):
        if trainer.sanity_checking:
            return
        metrics = trainer.callback_metrics
        row = {"epoch": trainer.current_epoch + 1,
               "seconds": round(time.perf_counter() - self._start, 3)}
        for key in ("train_loss", "train_acc", "val_loss", "val_acc"):
            if key in metrics:
                row[key] = round(float(metrics[key]), 6)
        optimizer = trainer.optimizers[0]
        row["lr"] = optimizer.current_lr(optimizer.param_groups[0])
        self.rows = [r for r in self.rows if r["epoch"] < row["epoch"]] + [row]
        if trainer.is_global_zero:
            write_csv(self.csv_path, self.rows, COLUMNS)
            if self.plot_path:
                save_plot(self.plot_path, self.rows)

    def on_exception(self, trainer, pl_module, exception):
        """A diverged run's epoch gets its row (its non-finite loss) before the run ends."""
        if not isinstance(exception, Diverged) or self._start is None:
            return
        metrics = trainer.callback_metrics
        row = {"epoch": exception.epoch, "train_loss": float("nan"),
               "seconds": round(time.perf_counter() - self._start, 3),
               "lr": exception.learning_rate}
        if "train_acc" in metrics:
            row["train_acc"] = round(float(metrics["train_acc"]), 6)
        self.rows = [r for r in self.rows if r["epoch"] < row["epoch"]] + [row]
        if trainer.is_global_zero:
            write_csv(self.csv_path, self.rows, COLUMNS)
            if self.plot_path:
                save_plot(self.plot_path, self.rows)

    def state_dict(self):
        return {"rows": list(self.rows)}

    def load_state_dict(self, state_dict):
        self.rows = list(state_dict["rows"])
