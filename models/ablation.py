"""The ablation study: several variants trained with one recipe, compared in one table and
two overlaid plots."""

import csv
import math
import os

from models.cifar import VARIANTS
from models.registry import builder
from models.results import atomic_write_text, curve, save_line_plot, write_csv

COLUMNS = ["variant", "changed", "parameters", "best_val_acc", "final_val_acc", "best_epoch",
           "seconds_per_epoch", "status"]


def describe(name):
    """What a variant changes (the ablation table), or its builder's first doc line."""
    if name in VARIANTS:
        return VARIANTS[name][0]
    return (builder(name).__doc__ or name).strip().splitlines()[0]


def read_history(path):
    if not os.path.isfile(path):
        return []
    with open(path, newline="") as f:
        return [{k: float(v) if v not in ("", None) else None for k, v in row.items()}
                for row in csv.DictReader(f)]


def summarize(name, parameters, history, error=None):
    """One table row; a run whose losses turned NaN, or that raised, is marked failed."""
    row = {"variant": name, "changed": describe(name), "parameters": parameters}
    accs = [(r["val_acc"], int(r["epoch"])) for r in history if r.get("val_acc") is not None]
    losses = [v for r in history for v in (r.get("train_loss"), r.get("val_loss"))
              if v is not None]
    if error is not None:
        row["status"] = f"failed: {error}"
    elif any(math.isnan(v) for v in losses):
        row["status"] = "failed: diverged (NaN loss)"
    elif not accs:
        row["status"] = "failed: no validation results"
    else:
        row["status"] = "ok"
    if accs:
        best = max((a for a in accs if not math.isnan(a[0])), default=(float("nan"), 0))
        row.update(best_val_acc=round(best[0], 4), best_epoch=best[1],
                   final_val_acc=round(accs[-1][0], 4))
    seconds = [r["seconds"] for r in history if r.get("seconds") is not None]
    if seconds:
        row["seconds_per_epoch"] = round(sum(seconds) / len(seconds), 2)
    return row


def markdown(rows):
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for row in rows:
        lines.append("| " + " | ".join(str(row.get(c, "")) for c in COLUMNS) + " |")
    return "\n".join(lines) + "\n"


def plot_curves(path, histories, key, title):
    """Overlay one metric's per-epoch curve of every variant."""
    series = {name: curve(history, key) for name, history in histories.items()}
    save_line_plot(path, {k: v for k, v in series.items() if v[0]}, title, key)


def write_comparison(out_dir, rows, histories):
    """``ablation.csv``, ``ablation.md``, ``ablation_val_acc.png``, ``ablation_val_loss.png``."""
    write_csv(os.path.join(out_dir, "ablation.csv"), rows, COLUMNS)
    atomic_write_text(os.path.join(out_dir, "ablation.md"), markdown(rows))
    plot_curves(os.path.join(out_dir, "ablation_val_acc.png"), histories, "val_acc",
                "Validation accuracy per variant")
    plot_curves(os.path.join(out_dir, "ablation_val_loss.png"), histories, "val_loss",
                "Validation loss per variant")
