"""kconv.losses against Keras's own losses: every name, the classes' options, weighting and
reduction, and the errors."""

import keras
import numpy as np
import pytest
import torch

from kconv import losses
from tests.keras_oracle import assert_close, to_numpy

RNG = np.random.default_rng(0)
N, C = 6, 4


def data(name):
    """(y_true, y_pred) that suit the loss ``name``."""
    logits = RNG.normal(size=(N, C)).astype("float32")
    probs = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    labels = RNG.integers(0, C, size=(N,))
    if name == "sparse_categorical_crossentropy":
        return labels, probs
    if name in ("categorical_crossentropy", "kl_divergence", "categorical_hinge"):
        return np.eye(C, dtype="float32")[labels], probs
    if name in ("binary_crossentropy", "hinge", "squared_hinge", "poisson"):
        return RNG.integers(0, 2, size=(N, C)).astype("float32"), 1 / (1 + np.exp(-logits))
    return RNG.normal(size=(N, C)).astype("float32"), logits


FUNCTIONS = sorted(name for name, fn in losses.ALL_OBJECTS.items()
                   if not isinstance(fn, type) and name == fn.__name__)


@pytest.mark.parametrize("name", FUNCTIONS)
def test_every_loss_function_matches_keras(name):
    y_true, y_pred = data(name)
    ours = losses.get(name)(torch.from_numpy(y_true), torch.from_numpy(y_pred))
    theirs = keras.losses.get(name)(y_true, y_pred)
    assert_close(ours, to_numpy(theirs), atol=1e-5)


@pytest.mark.parametrize("name", [n for n in losses.names() if n != "logcosh"])
def test_every_name_is_a_keras_name(name):
    assert keras.losses.get(name) is not None


@pytest.mark.parametrize("cls, kwargs, name", [
    ("CategoricalCrossentropy", {"from_logits": True}, "categorical_crossentropy"),
    ("CategoricalCrossentropy", {"label_smoothing": 0.1}, "categorical_crossentropy"),
    ("SparseCategoricalCrossentropy", {"from_logits": True}, "sparse_categorical_crossentropy"),
    ("SparseCategoricalCrossentropy", {"ignore_class": 1}, "sparse_categorical_crossentropy"),
    ("BinaryCrossentropy", {"from_logits": True}, "binary_crossentropy"),
    ("BinaryCrossentropy", {"label_smoothing": 0.2}, "binary_crossentropy"),
    ("Huber", {"delta": 0.3}, "huber"),
    ("MeanSquaredError", {"reduction": "sum"}, "mean_squared_error"),
    ("MeanAbsoluteError", {"reduction": "none"}, "mean_absolute_error"),
    ("MeanSquaredError", {"reduction": "mean_with_sample_weight"}, "mean_squared_error"),
])
@pytest.mark.parametrize("weighted", [False, True])
def test_loss_classes_match_keras(cls, kwargs, name, weighted):
    y_true, y_pred = data(name)
    if kwargs.get("from_logits"):
        y_pred = np.log(y_pred)  # any real values
    weight = RNG.uniform(0, 2, size=(N,)).astype("float32") if weighted else None
    ours = getattr(losses, cls)(**kwargs)
    theirs = getattr(keras.losses, cls)(**kwargs)
    assert ours.name == theirs.name
    got = ours(torch.from_numpy(y_true), torch.from_numpy(y_pred),
               None if weight is None else torch.from_numpy(weight))
    assert_close(got, to_numpy(theirs(y_true, y_pred, sample_weight=weight)), atol=1e-5)


def test_plain_functions_get_weighting_from_as_loss():
    loss = losses.as_loss(lambda t, p: (t - p).abs().sum(-1))
    y = torch.ones(4, 2)
    assert loss(y, torch.zeros(4, 2), torch.tensor([1.0, 0, 0, 1])).item() == 1.0


def test_unknown_names_and_wrong_shapes_are_refused_clearly():
    with pytest.raises(ValueError, match="loss.*categorical_crossentropy.*Received: loss="):
        losses.get("categorical_crossentropyy")
    with pytest.raises(ValueError, match="sparse_categorical_crossentropy"):
        losses.categorical_crossentropy(torch.tensor([1, 2]), torch.rand(2, 3))
    with pytest.raises(ValueError, match="one-hot targets take 'categorical_crossentropy'"):
        losses.sparse_categorical_crossentropy(torch.eye(3)[:2], torch.rand(2, 3))
    with pytest.raises(TypeError, match="from_logits"):
        losses.BinaryCrossentropy(from_logits="False")
    with pytest.raises(TypeError, match="unexpected argument"):
        losses.Huber(deltaa=1.0)
    with pytest.raises(ValueError, match="reduction"):
        losses.Huber(reduction="average")
