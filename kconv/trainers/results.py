"""Results of a run, written atomically: the metrics CSV, the classification report as
text, and loss/accuracy plots."""

import csv
import io

from kconv.utils.file_utils import atomic_write_bytes, atomic_write_text


def write_csv(path, rows, columns):
    """``rows`` (dicts) as CSV with a header of ``columns``; other keys are left out."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(path, buffer.getvalue())


def report_text(report, digits=2):
    """scikit-learn's ``classification_report`` layout for a report dict."""
    names = [k for k in report if k not in ("accuracy", "macro avg", "weighted avg")]
    width = max([len(n) for n in names] + [len("weighted avg")])
    head = " " * width + "".join(f"{h:>10}" for h in ("precision", "recall", "f1-score",
                                                      "support"))
    lines = [head, ""]
    for name in names + [None, "accuracy", "macro avg", "weighted avg"]:
        if name is None:
            lines.append("")
            continue
        if name == "accuracy":
            total = report["weighted avg"]["support"]
            lines.append(f"{name:>{width}}" + " " * 20 + f"{report[name]:>10.{digits}f}"
                         f"{total:>10}")
            continue
        r = report[name]
        lines.append(f"{name:>{width}}{r['precision']:>10.{digits}f}{r['recall']:>10.{digits}f}"
                     f"{r['f1-score']:>10.{digits}f}{r['support']:>10}")
    return "\n".join(lines) + "\n"


def save_line_plot(path, series, title, ylabel):
    """One ggplot-style figure of ``{label: (epochs, values)}`` curves, written atomically."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    with plt.style.context("ggplot"):
        fig, ax = plt.subplots(figsize=(8, 5))
        for label, (xs, ys) in series.items():
            ax.plot(xs, ys, label=label, marker="o" if len(xs) < 3 else None)
        ax.set_title(title)
        ax.set_xlabel("Epoch #")
        ax.set_ylabel(ylabel)
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
        if series:
            ax.legend(loc="lower left", fontsize="small")
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=100)
        plt.close(fig)
    atomic_write_bytes(path, buffer.getvalue())


def curve(history, key):
    """``(epochs, values)`` of one metric from history rows, skipping missing values."""
    points = [(row["epoch"], row[key]) for row in history if row.get(key) is not None]
    return tuple(map(list, zip(*points))) if points else ([], [])


def save_plot(path, history):
    """The tutorial's plot: train/val loss and accuracy per epoch."""
    series = {key: curve(history, key) for key in ("train_loss", "val_loss", "train_acc",
                                                   "val_acc")}
    save_line_plot(path, {k: v for k, v in series.items() if v[0]},
                   "Training Loss and Accuracy", "Loss/Accuracy")
