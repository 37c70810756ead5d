import pytest

from kconv.trainers.report import classification_report
from kconv.trainers.results import curve, report_text, save_plot, write_csv


def test_csv_has_the_columns_in_order_and_ignores_other_keys(tmp_path):
    write_csv(tmp_path / "m.csv", [{"epoch": 1, "loss": 0.5, "extra": 9}, {"epoch": 2}],
              ["epoch", "loss"])
    assert (tmp_path / "m.csv").read_text().splitlines() == ["epoch,loss", "1,0.5", "2,"]


def test_report_text_has_scikit_learns_layout():
    report = classification_report([3, 2], [1, 0], [0, 1], ["cats", "dogs"])
    lines = report_text(report).splitlines()
    assert lines[0] == "             precision    recall  f1-score   support"
    assert lines[2] == "        cats      0.75      1.00      0.86         3"
    assert lines[5] == "    accuracy                          0.83         6"
    assert lines[-1].startswith("weighted avg") and lines[-1].endswith("6")


def test_curves_skip_missing_values():
    history = [{"epoch": 1, "val_acc": None}, {"epoch": 2, "val_acc": 0.5}]
    assert curve(history, "val_acc") == ([2], [0.5])
    assert curve(history, "train_acc") == ([], [])


@pytest.mark.parametrize("rows", [[], [{"epoch": 1, "train_loss": 1.0, "val_acc": 0.4}]])
def test_the_run_plot_is_a_png(tmp_path, rows):
    save_plot(tmp_path / "plot.png", rows)
    assert (tmp_path / "plot.png").read_bytes()[:4] == b"\x89PNG"
