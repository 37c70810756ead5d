import math

from kconv.trainers.comparison import markdown, summarize


def _history(*val_accs, nan=False):
    return [{"epoch": float(i + 1), "train_loss": math.nan if nan else 1.0, "val_loss": 0.5,
             "val_acc": a, "seconds": 2.0 + i} for i, a in enumerate(val_accs)]


def test_summary_row():
    row = summarize("cifar_ex4", "use_bias=False in every Conv2D", 1250666,
                    _history(0.5, 0.7, 0.6))
    assert row == {"variant": "cifar_ex4", "changed": "use_bias=False in every Conv2D",
                   "parameters": 1250666, "status": "ok", "best_val_acc": 0.7,
                   "best_epoch": 2, "final_val_acc": 0.6, "seconds_per_epoch": 3.0}


def test_failures_are_marked():
    assert summarize("cifar_ex1", "", 1, _history(0.1, nan=True))["status"] == \
        "failed: diverged (NaN loss)"
    assert summarize("lenet", "", None, [], "too small")["status"] == "failed: too small"
    assert summarize("lenet", "", 5, [])["status"] == "failed: no validation results"


def test_markdown():
    text = markdown([summarize("cifar_ex1", "default model", 10, _history(0.5))])
    assert text.splitlines()[0].startswith("| variant | changed | parameters |")
    assert "| cifar_ex1 | default model | 10 | 0.5 | 0.5 | 1 | 2.0 | ok |" in text
