import pytest

from kconv.trainers import classification_report


def test_report_numbers():
    # class 0: 3 right, 1 predicted wrongly as 1; class 1: 2 right, 2 false positives from 2
    report = classification_report(tp=[3, 2, 0], fp=[0, 1, 1], fn=[1, 1, 0], class_names="abc")
    assert report["a"] == {"precision": 1.0, "recall": 0.75, "f1-score": pytest.approx(6 / 7),
                           "support": 4}
    assert report["b"]["precision"] == pytest.approx(2 / 3) and report["b"]["support"] == 3
    assert report["c"] == {"precision": 0.0, "recall": 0.0, "f1-score": 0.0, "support": 0}
    assert report["accuracy"] == pytest.approx(5 / 7)
    assert report["macro avg"]["recall"] == pytest.approx((0.75 + 2 / 3 + 0) / 3)
    assert report["weighted avg"]["recall"] == pytest.approx((4 * 0.75 + 3 * 2 / 3) / 7)
    assert report["weighted avg"]["support"] == 7


def test_default_names_are_indices():
    assert set(classification_report([1], [0], [0])) == {"0", "accuracy", "macro avg",
                                                         "weighted avg"}
