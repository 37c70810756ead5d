"""Lightning callbacks of a training run: per-epoch seeding and the written history."""

import time

import lightning as L
import torch

from kconv.trainers.results import save_plot, write_csv

COLUMNS = ["epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "seconds"]


class EpochSeed(L.Callback):
    """Seeds torch's global RNG with ``seed + epoch`` at each epoch start, so dropout and
    augmentation of a resumed run repeat those of an uninterrupted one."""

    def __init__(self, seed):
        self.seed = seed

    def on_train_epoch_start(self, trainer, pl_module):
        torch.manual_seed(self.seed + trainer.current_epoch)


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

    def state_dict(self):
        return {"rows": list(self.rows)}

    def load_state_dict(self, state_dict):
        self.rows = list(state_dict["rows"])
