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


# Keras's rank rule (squeeze_or_expand_to_same_rank): targets and outputs whose ranks differ
# by one, with a last axis of 1 on the longer.
RANK_CASES = [((6,), (6, 1)), ((6, 1), (6,)), ((6, 3, 1), (6, 3)), ((6, 3), (6, 3, 1)),
              ((6, 1), (6, 1))]
RANKED_LOSSES = ["binary_crossentropy", "mean_squared_error", "mean_absolute_error",
                 "mean_absolute_percentage_error", "mean_squared_logarithmic_error", "huber",
                 "log_cosh", "hinge", "squared_hinge", "poisson", "kl_divergence",
                 "cosine_similarity"]


@pytest.mark.parametrize("shapes", RANK_CASES, ids=str)
@pytest.mark.parametrize("name", RANKED_LOSSES)
def test_targets_of_another_rank_follow_keras(name, shapes):
    """Each loss object (what compile builds), and the functions Keras applies the rule in,
    on targets whose rank differs by one: Keras's values and shapes, never a broadcast."""
    rng = np.random.default_rng(2)
    y = (rng.random(shapes[0]) > 0.5).astype("float32")
    p = rng.uniform(0.05, 0.95, shapes[1]).astype("float32")
    from keras.src.losses.losses import LossFunctionWrapper
    k_loss = keras.losses.get(name)
    theirs = to_numpy(LossFunctionWrapper(k_loss, reduction="none")(y, p))
    ours = losses.LossFunctionWrapper(losses.get(name), reduction="none")(y, torch.from_numpy(p))
    assert tuple(ours.shape) == theirs.shape
    assert_close(ours, theirs, atol=1e-5)
    if name.startswith("mean_") or name in ("huber", "log_cosh", "cosine_similarity"):
        assert_close(losses.get(name)(torch.from_numpy(y), torch.from_numpy(p)),
                     to_numpy(k_loss(y, p)), atol=1e-5)


@pytest.mark.parametrize("labels", [(6,), (6, 1)], ids=str)
def test_sparse_labels_of_either_rank_follow_keras(labels):
    rng = np.random.default_rng(3)
    y = rng.integers(0, 4, labels)
    p = rng.dirichlet(np.ones(4), 6).astype("float32")
    theirs = to_numpy(keras.losses.SparseCategoricalCrossentropy(reduction="none")(y, p))
    ours = losses.SparseCategoricalCrossentropy(reduction="none")(y, torch.from_numpy(p))
    assert_close(ours, theirs, atol=1e-6)
