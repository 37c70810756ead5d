"""kconv.metrics against Keras's metrics: every accuracy function, the stateful classes
with sample weights, torchmetrics-backed Precision/Recall/AUC, lookup and errors."""

import keras
import numpy as np
import pytest
import torch

from kconv import metrics
from tests.keras_oracle import to_numpy

RNG = np.random.default_rng(11)


def probabilities(n=12, classes=4):
    logits = RNG.normal(size=(n, classes)).astype("float32")
    return np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)


@pytest.mark.parametrize("cls, kwargs, sparse", [
    ("CategoricalAccuracy", {}, False), ("SparseCategoricalAccuracy", {}, True),
    ("TopKCategoricalAccuracy", {"k": 2}, False), ("SparseTopKCategoricalAccuracy", {"k": 3}, True),
    ("BinaryAccuracy", {"threshold": 0.3}, None), ("Accuracy", {}, "exact")])
@pytest.mark.parametrize("weighted", [False, True])
def test_stateful_metrics_match_keras_over_batches(cls, kwargs, sparse, weighted):
    ours, theirs = getattr(metrics, cls)(**kwargs), getattr(keras.metrics, cls)(**kwargs)
    assert ours.name == theirs.name
    for _ in range(3):
        p = probabilities()
        labels = RNG.integers(0, 4, len(p))
        y = {True: labels, False: np.eye(4, dtype="float32")[labels],
             None: RNG.integers(0, 2, p.shape).astype("float32"),
             "exact": RNG.integers(0, 2, p.shape).astype("float32")}[sparse]
        if sparse == "exact":
            p = RNG.integers(0, 2, p.shape).astype("float32")
        w = RNG.uniform(0, 2, len(p)).astype("float32") if weighted else None
        ours.update_state(torch.from_numpy(y), torch.from_numpy(p),
                          None if w is None else torch.from_numpy(w))
        theirs.update_state(y, p, sample_weight=w)
    np.testing.assert_allclose(float(ours.result()), float(to_numpy(theirs.result())),
                               rtol=1e-6)
    ours.reset_state()
    assert float(ours.result()) == 0.0


@pytest.mark.parametrize("cls", ["Precision", "Recall", "AUC"])
def test_binary_metrics_match_keras(cls):
    ours, theirs = getattr(metrics, cls)(), getattr(keras.metrics, cls)()
    for _ in range(3):
        y = RNG.integers(0, 2, (20, 3)).astype("float32")
        p = np.clip(y * 0.4 + RNG.random((20, 3)) * 0.6, 0, 1).astype("float32")
        ours.update_state(torch.from_numpy(y), torch.from_numpy(p))
        theirs.update_state(y, p)
    # AUC: Keras interpolates over 200 thresholds, torchmetrics bins them: close, not equal.
    tolerance = 5e-3 if cls == "AUC" else 1e-6
    np.testing.assert_allclose(float(ours.result()), float(to_numpy(theirs.result())),
                               atol=tolerance)


def test_lookup_by_keras_names_and_loss_names():
    assert isinstance(metrics.get("categorical_accuracy"), metrics.MeanMetricWrapper)
    mae = metrics.get("mae")
    mae.update_state(torch.zeros(2, 3), torch.ones(2, 3))
    assert mae.name == "mae" and float(mae.result()) == 1.0
    assert type(metrics.get("auc")) is metrics.AUC
    assert metrics.resolve_accuracy("acc", (8,), (8, 5)).name == "acc"
    assert type(metrics.resolve_accuracy("accuracy", (8, 1), (8, 1))) is metrics.BinaryAccuracy
    assert type(metrics.resolve_accuracy("accuracy", (8, 5), (8, 5))) is \
        metrics.CategoricalAccuracy
    with pytest.raises(ValueError, match="metrics.*categorical_accuracy.*Received: "
                                         "metrics='accurcy'"):
        metrics.get("accurcy")
    with pytest.raises(TypeError, match="unexpected argument"):
        metrics.TopKCategoricalAccuracy(kk=3)
    with pytest.raises(ValueError, match="sample_weight"):
        metrics.Precision().update_state(torch.ones(2), torch.ones(2), torch.ones(2))


BINARY_SHAPES = [((8,), (8, 1)), ((8, 1), (8,)), ((8, 1), (8, 1)), ((8, 3, 1), (8, 3))]
RANK_CASES = [(cls, shapes) for cls in ("BinaryAccuracy", "Accuracy", "MeanSquaredError",
                                        "MeanAbsoluteError", "RootMeanSquaredError",
                                        "LogCoshError", "Precision", "Recall")
              for shapes in BINARY_SHAPES] + [
    (cls, shapes) for cls in ("SparseCategoricalAccuracy", "SparseTopKCategoricalAccuracy",
                              "SparseCategoricalCrossentropy")
    for shapes in (((8,), (8, 4)), ((8, 1), (8, 4)))]


@pytest.mark.parametrize("cls, shapes", RANK_CASES, ids=str)
def test_targets_of_another_rank_follow_keras(cls, shapes):
    """Keras's rank rule in the metric objects: (N,) labels with (N, 1) outputs and the
    like give Keras's name and result (never a broadcast to (N, N))."""
    labels, outputs = shapes
    if cls.startswith("Sparse"):
        y, p = RNG.integers(0, 4, labels), probabilities()[:8]
    else:
        y = RNG.integers(0, 2, labels).astype("float32")
        p = RNG.integers(0, 2, outputs).astype("float32") if cls == "Accuracy" else \
            RNG.random(outputs).astype("float32")
    kwargs = {"k": 2} if cls == "SparseTopKCategoricalAccuracy" else {}
    ours, theirs = getattr(metrics, cls)(**kwargs), getattr(keras.metrics, cls)(**kwargs)
    assert ours.name == theirs.name or cls in ("Precision", "Recall")  # Keras numbers these
    ours.update_state(torch.from_numpy(y), torch.from_numpy(p))
    theirs.update_state(y, p)
    np.testing.assert_allclose(float(ours.result()), float(to_numpy(theirs.result())),
                               rtol=1e-6)


@pytest.mark.parametrize("cls, kwargs", [
    ("MeanSquaredError", {}), ("MeanAbsoluteError", {}), ("MeanAbsolutePercentageError", {}),
    ("MeanSquaredLogarithmicError", {}), ("LogCoshError", {}), ("Hinge", {}),
    ("SquaredHinge", {}), ("CategoricalHinge", {}), ("KLDivergence", {}), ("Poisson", {}),
    ("BinaryCrossentropy", {"label_smoothing": 0.1}), ("CategoricalCrossentropy", {}),
    ("RootMeanSquaredError", {})])
def test_loss_metrics_match_keras(cls, kwargs):
    ours, theirs = getattr(metrics, cls)(**kwargs), getattr(keras.metrics, cls)(**kwargs)
    assert ours.name == theirs.name
    for _ in range(2):
        p = probabilities()
        y = np.eye(4, dtype="float32")[RNG.integers(0, 4, len(p))]
        w = RNG.uniform(0, 2, len(p)).astype("float32")
        ours.update_state(torch.from_numpy(y), torch.from_numpy(p), torch.from_numpy(w))
        theirs.update_state(y, p, sample_weight=w)
    np.testing.assert_allclose(float(ours.result()), float(to_numpy(theirs.result())),
                               rtol=1e-5)
