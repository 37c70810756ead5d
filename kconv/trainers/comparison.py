"""Comparing runs (an ablation study): several variants trained with one recipe, compared
in one table and two overlaid plots."""

import csv
import math
import os

from kconv.trainers.results import curve, save_line_plot, write_csv
from kconv.utils.file_utils import atomic_write_text

COLUMNS = ["variant", "changed", "parameters", "best_val_acc", "final_val_acc", "best_epoch",
           "seconds_per_epoch", "status"]


def read_history(path):
    """The rows of a run's ``metrics.csv`` (numbers as floats); [] when it does not exist."""
    if not os.path.isfile(path):
        return []
    with open(path, newline="") as f:
        return [{k: float(v) if v not in ("", None) else None for k, v in row.items()}
                for row in csv.DictReader(f)]


def summarize(name, changed, parameters, history, error=None):
    """One table row: the variant, what it changes, its parameter count and its history's
    results; a run whose losses turned NaN, or that raised (``error``), is marked failed."""
    row = {"variant": name, "changed": changed, "parameters": parameters}
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
    """The comparison table in Markdown."""
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
