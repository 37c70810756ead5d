"""Keras 3 losses on torch tensors: the functions (one value per sample, reduced over the
last axis), the ``Loss`` classes (which weight and reduce them) and lookup by Keras name.

Values follow Keras's torch backend: cross-entropies of probabilities clip them to
``[epsilon, 1 - epsilon]``; ``model.compile`` computes a cross-entropy from the logits
instead when the model ends in the matching softmax or sigmoid (the same value without the
clipping, and stable gradients).

Example:
    >>> kconv.losses.get("sparse_categorical_crossentropy")(y, probabilities)
    tensor(0.6931)
"""

import torch
import torch.nn.functional as F

from kconv import config
from kconv.validation import check_choice, check_float, invalid_type, invalid_value

REDUCTIONS = ("sum_over_batch_size", "sum", "mean", "mean_with_sample_weight", "none")


def squeeze_or_expand_to_same_rank(x1, x2, expand_rank_1=True):
    """Keras's rule for a target and an output whose ranks differ by one with a last axis
    of 1 on the longer: a rank-1 tensor gains that axis (``(N,)`` labels with an ``(N, 1)``
    sigmoid output), otherwise the longer loses it."""
    if x1.ndim == x2.ndim + 1 and x1.shape[-1] == 1:
        if x2.ndim == 1 and expand_rank_1:
            return x1, x2.unsqueeze(-1)
        return x1.squeeze(-1), x2
    if x2.ndim == x1.ndim + 1 and x2.shape[-1] == 1:
        if x1.ndim == 1 and expand_rank_1:
            return x1.unsqueeze(-1), x2
        return x1, x2.squeeze(-1)
    return x1, x2


def _cast(y_true, y_pred):
    y_true = torch.as_tensor(y_true, device=y_pred.device)
    return y_true.to(y_pred.dtype), y_pred


def _same_rank(y_true, y_pred):
    """:func:`_cast`, then Keras's rank rule (which its regression losses apply)."""
    return squeeze_or_expand_to_same_rank(*_cast(y_true, y_pred))


def mean_squared_error(y_true, y_pred):
    y_true, y_pred = _same_rank(y_true, y_pred)
    return (y_pred - y_true).square().mean(-1)


def mean_absolute_error(y_true, y_pred):
    y_true, y_pred = _same_rank(y_true, y_pred)
    return (y_pred - y_true).abs().mean(-1)


def mean_absolute_percentage_error(y_true, y_pred):
    y_true, y_pred = _same_rank(y_true, y_pred)
    diff = (y_true - y_pred).abs() / y_true.abs().clamp_min(config.epsilon())
    return 100.0 * diff.mean(-1)


def mean_squared_logarithmic_error(y_true, y_pred):
    y_true, y_pred = _same_rank(y_true, y_pred)
    eps = config.epsilon()
    return (torch.log1p(y_pred.clamp_min(eps)) - torch.log1p(y_true.clamp_min(eps))) \
        .square().mean(-1)


def cosine_similarity(y_true, y_pred, axis=-1):
    y_true, y_pred = _same_rank(y_true, y_pred)
    return -(F.normalize(y_true, dim=axis, eps=1e-12) *
             F.normalize(y_pred, dim=axis, eps=1e-12)).sum(axis)


def huber(y_true, y_pred, delta=1.0):
    y_true, y_pred = _same_rank(y_true, y_pred)
    error = (y_pred - y_true).abs()
    return torch.where(error <= delta, 0.5 * error.square(),
                       delta * error - 0.5 * delta ** 2).mean(-1)


def log_cosh(y_true, y_pred):
    y_true, y_pred = _same_rank(y_true, y_pred)
    x = y_pred - y_true
    return (x + F.softplus(-2.0 * x) - torch.log(torch.tensor(2.0, dtype=x.dtype))).mean(-1)


def _hinge_labels(y_true):
    """Binary 0/1 labels become -1/1, as Keras converts them; others stay."""
    binary = torch.all((y_true == 0) | (y_true == 1))
    return torch.where(binary, 2.0 * y_true - 1.0, y_true)


def hinge(y_true, y_pred):
    y_true, y_pred = _cast(y_true, y_pred)
    return F.relu(1.0 - _hinge_labels(y_true) * y_pred).mean(-1)


def squared_hinge(y_true, y_pred):
    y_true, y_pred = _cast(y_true, y_pred)
    return F.relu(1.0 - _hinge_labels(y_true) * y_pred).square().mean(-1)


def categorical_hinge(y_true, y_pred):
    y_true, y_pred = _cast(y_true, y_pred)
    positive = (y_true * y_pred).sum(-1)
    negative = ((1.0 - y_true) * y_pred).amax(-1)
    return F.relu(negative - positive + 1.0)


def kl_divergence(y_true, y_pred):
    y_true, y_pred = _cast(y_true, y_pred)
    y_true = y_true.clamp(config.epsilon(), 1.0)
    y_pred = y_pred.clamp(config.epsilon(), 1.0)
    return (y_true * torch.log(y_true / y_pred)).sum(-1)


def poisson(y_true, y_pred):
    y_true, y_pred = _cast(y_true, y_pred)
    return (y_pred - y_true * torch.log(y_pred + config.epsilon())).mean(-1)


def _log_probabilities(y_pred, from_logits, axis):
    if from_logits:
        return F.log_softmax(y_pred, dim=axis)
    eps = config.epsilon()
    return torch.log((y_pred / y_pred.sum(axis, keepdim=True)).clamp(eps, 1.0 - eps))


def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0,
                             axis=-1):
    y_true, y_pred = _cast(y_true, y_pred)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"Arguments `target` and `output` must have the same shape. "
                         f"Received: target.shape={tuple(y_true.shape)}, "
                         f"output.shape={tuple(y_pred.shape)} (one-hot targets; integer "
                         f"labels take 'sparse_categorical_crossentropy')")
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + label_smoothing / y_true.shape[axis]
    return -(y_true * _log_probabilities(y_pred, from_logits, axis)).sum(axis)


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, ignore_class=None,
                                    axis=-1):
    y_true = torch.as_tensor(y_true, device=y_pred.device)
    if y_true.ndim == y_pred.ndim and y_true.shape[axis] == 1:
        y_true = y_true.squeeze(axis)
    expected = list(y_pred.shape)
    del expected[axis]
    if list(y_true.shape) != expected:
        raise ValueError(f"Arguments `target` and `output` must have the same shape up "
                         f"until the last dimension: target.shape={tuple(y_true.shape)}, "
                         f"output.shape={tuple(y_pred.shape)} (integer labels; one-hot "
                         f"targets take 'categorical_crossentropy')")
    if y_true.is_floating_point() and not torch.equal(y_true, y_true.round()):
        raise ValueError("sparse_categorical_crossentropy needs integer class labels; "
                         "received fractional values (one-hot targets take "
                         "'categorical_crossentropy')")
    y_true = y_true.long()
    valid = None if ignore_class is None else y_true != ignore_class
    if valid is not None:
        y_true = torch.where(valid, y_true, 0)
    log_probs = _log_probabilities(y_pred, from_logits, axis).movedim(axis, -1)
    values = -log_probs.gather(-1, y_true.unsqueeze(-1)).squeeze(-1)
    return values if valid is None else torch.where(valid, values, 0.0)


def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    y_true, y_pred = _cast(y_true, y_pred)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"Arguments `target` and `output` must have the same shape. "
                         f"Received: target.shape={tuple(y_true.shape)}, "
                         f"output.shape={tuple(y_pred.shape)}")
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + 0.5 * label_smoothing
    if from_logits:
        values = F.binary_cross_entropy_with_logits(y_pred, y_true, reduction="none")
    else:
        eps = config.epsilon()
        values = F.binary_cross_entropy(y_pred.clamp(eps, 1.0 - eps), y_true,
                                        reduction="none")
    return values.mean(axis)


def align_weight(weight, values):
    """A weight tensor brought to ``values``' rank (Keras's
    ``squeeze_or_expand_to_same_rank``: trailing unit axes dropped, missing ones added)."""
    while weight.ndim > values.ndim and weight.shape[-1] == 1:
        weight = weight.squeeze(-1)
    while weight.ndim < values.ndim:
        weight = weight.unsqueeze(-1)
    return weight


def reduce_weighted(values, sample_weight=None, reduction="sum_over_batch_size", mask=None):
    """Keras's weighting and reduction of per-sample loss values; a boolean ``mask`` of
    values that count makes a mean one over those values only."""
    if mask is not None:
        mask = mask.to(values.dtype)
        if reduction in ("mean", "sum_over_batch_size"):
            mask = mask * (mask.numel() / mask.sum().clamp_min(1.0))
        sample_weight = mask if sample_weight is None else \
            mask * torch.as_tensor(sample_weight, device=values.device).reshape(
                mask.shape[:1] + (1,) * (mask.ndim - 1))
    if sample_weight is not None:
        weight = torch.as_tensor(sample_weight, device=values.device).to(values.dtype)
        weight = align_weight(weight, values)
        values = values * weight
    if reduction == "none" or reduction is None or values.ndim == 0:
        return values
    total = values.sum()
    if reduction == "sum":
        return total
    if reduction == "mean_with_sample_weight" and sample_weight is not None:
        return torch.nan_to_num(total / weight.sum(), nan=0.0, posinf=0.0)
    return total / values.numel() if values.numel() else total * 0.0


class Loss:
    """Keras's ``Loss``: ``loss(y_true, y_pred, sample_weight=None)`` -> the reduced value.

    Args:
        name: its name (the snake_case class name by default).
        reduction: 'sum_over_batch_size' (default), 'sum', 'mean',
            'mean_with_sample_weight' or 'none'.
    """

    def __init__(self, name=None, reduction="sum_over_batch_size", dtype=None):
        self.name = name or _snake(type(self).__name__)
        self.reduction = check_choice("reduction", "none" if reduction is None else reduction,
                                      REDUCTIONS)
        self.dtype = dtype

    def __call__(self, y_true, y_pred, sample_weight=None):
        return reduce_weighted(self.call(y_true, y_pred), sample_weight, self.reduction)

    def call(self, y_true, y_pred):
        raise NotImplementedError

    def get_config(self):
        return {"name": self.name, "reduction": self.reduction}


class LossFunctionWrapper(Loss):
    """A loss function and its keyword arguments as a :class:`Loss`."""

    def __init__(self, fn, reduction="sum_over_batch_size", name=None, **kwargs):
        super().__init__(name=name or getattr(fn, "__name__", None), reduction=reduction)
        self.fn, self.fn_kwargs = fn, kwargs

    def call(self, y_true, y_pred):
        y_true = torch.as_tensor(y_true, device=y_pred.device)
        return self.fn(*squeeze_or_expand_to_same_rank(y_true, y_pred), **self.fn_kwargs)

    def __call__(self, y_true, y_pred, sample_weight=None):
        ignored = self.fn_kwargs.get("ignore_class")
        if ignored is None:
            return super().__call__(y_true, y_pred, sample_weight)
        labels = torch.as_tensor(y_true, device=y_pred.device)
        if labels.ndim == y_pred.ndim:
            labels = labels.squeeze(-1)
        return reduce_weighted(self.call(y_true, y_pred), sample_weight, self.reduction,
                               mask=labels != ignored)

    def get_config(self):
        return {**super().get_config(), **self.fn_kwargs}


def _loss_class(class_name, fn, doc, default_name=None, **defaults):
    """A Keras ``Loss`` class around ``fn`` whose constructor takes ``defaults``."""

    def __init__(self, reduction="sum_over_batch_size", name=None, **kwargs):
        unknown = sorted(set(kwargs) - set(defaults))
        if unknown:
            raise TypeError(f"{class_name} got unexpected argument(s) {unknown}; it takes "
                            f"{sorted(defaults) + ['name', 'reduction']}")
        options = {**defaults, **kwargs}
        if "from_logits" in options and not isinstance(options["from_logits"], bool):
            raise invalid_type("from_logits", "a bool", options["from_logits"])
        if "label_smoothing" in options:
            check_float("label_smoothing", options["label_smoothing"], minimum=0.0,
                        maximum=1.0)
        LossFunctionWrapper.__init__(self, fn, reduction=reduction,
                                     name=name or default_name or fn.__name__, **options)

    return type(class_name, (LossFunctionWrapper,), {"__init__": __init__, "__doc__": doc,
                                                     "__module__": __name__})


MeanSquaredError = _loss_class("MeanSquaredError", mean_squared_error, "mean((y - p)^2).")
MeanAbsoluteError = _loss_class("MeanAbsoluteError", mean_absolute_error, "mean(|y - p|).")
MeanAbsolutePercentageError = _loss_class(
    "MeanAbsolutePercentageError", mean_absolute_percentage_error, "100 mean(|y - p| / |y|).")
MeanSquaredLogarithmicError = _loss_class(
    "MeanSquaredLogarithmicError", mean_squared_logarithmic_error,
    "mean((log(1 + p) - log(1 + y))^2).")
CosineSimilarity = _loss_class("CosineSimilarity", cosine_similarity,
                               "-cos(y, p) along ``axis``.", axis=-1)
Huber = _loss_class("Huber", huber, "Quadratic below ``delta``, linear above.",
                    default_name="huber_loss", delta=1.0)
LogCosh = _loss_class("LogCosh", log_cosh, "mean(log(cosh(p - y))).")
Hinge = _loss_class("Hinge", hinge, "mean(max(1 - y p, 0)); 0/1 labels become -1/1.")
SquaredHinge = _loss_class("SquaredHinge", squared_hinge, "mean(max(1 - y p, 0)^2).")
CategoricalHinge = _loss_class("CategoricalHinge", categorical_hinge,
                               "max(max((1 - y) p) - sum(y p) + 1, 0).")
KLDivergence = _loss_class("KLDivergence", kl_divergence, "sum(y log(y / p)).")
Poisson = _loss_class("Poisson", poisson, "mean(p - y log(p)).")
CategoricalCrossentropy = _loss_class(
    "CategoricalCrossentropy", categorical_crossentropy,
    "Cross-entropy of one-hot (or soft) targets.", from_logits=False, label_smoothing=0.0,
    axis=-1)
SparseCategoricalCrossentropy = _loss_class(
    "SparseCategoricalCrossentropy", sparse_categorical_crossentropy,
    "Cross-entropy of integer class labels.", from_logits=False, ignore_class=None, axis=-1)
BinaryCrossentropy = _loss_class(
    "BinaryCrossentropy", binary_crossentropy, "Cross-entropy of 0/1 targets.",
    from_logits=False, label_smoothing=0.0, axis=-1)

ALL_OBJECTS = {fn.__name__: fn for fn in (
    mean_squared_error, mean_absolute_error, mean_absolute_percentage_error,
    mean_squared_logarithmic_error, cosine_similarity, huber, log_cosh, hinge, squared_hinge,
    categorical_hinge, kl_divergence, poisson, categorical_crossentropy,
    sparse_categorical_crossentropy, binary_crossentropy)}
ALL_OBJECTS.update({cls.__name__: cls for cls in (
    MeanSquaredError, MeanAbsoluteError, MeanAbsolutePercentageError,
    MeanSquaredLogarithmicError, CosineSimilarity, Huber, LogCosh, Hinge, SquaredHinge,
    CategoricalHinge, KLDivergence, Poisson, CategoricalCrossentropy,
    SparseCategoricalCrossentropy, BinaryCrossentropy)})
for _alias, _fn in (("mse", mean_squared_error), ("mae", mean_absolute_error),
                    ("mape", mean_absolute_percentage_error),
                    ("msle", mean_squared_logarithmic_error), ("kld", kl_divergence),
                    ("bce", binary_crossentropy)):
    ALL_OBJECTS[_alias] = ALL_OBJECTS[_alias.upper()] = _fn
ALL_OBJECTS["logcosh"] = log_cosh  # Keras 2's name


def names():
    """Every accepted loss name."""
    return sorted(ALL_OBJECTS)


def get(identifier):
    """A loss from a Keras name (a function or class name, or an alias such as 'mse'), a
    ``Loss``, a class or a callable ``(y_true, y_pred)``."""
    if isinstance(identifier, str):
        try:
            found = ALL_OBJECTS[identifier]
        except KeyError:
            raise invalid_value("loss", f"one of {tuple(names())}", identifier) from None
        return found() if isinstance(found, type) else found
    if isinstance(identifier, type) and issubclass(identifier, Loss):
        return identifier()
    if callable(identifier):
        return identifier
    raise invalid_type("loss", "a loss name, a Loss or a callable", identifier)


def as_loss(identifier):
    """:func:`get`, and a plain function wrapped as a :class:`Loss` (what ``compile``
    keeps: it weights and reduces)."""
    loss = get(identifier)
    return loss if isinstance(loss, Loss) else LossFunctionWrapper(loss)


def _snake(name):
    return "".join("_" + c.lower() if c.isupper() and i else c.lower()
                   for i, c in enumerate(name))


__all__ = ["Loss", "LossFunctionWrapper", "align_weight", "get", "names",
           "reduce_weighted", "squeeze_or_expand_to_same_rank"] + sorted(
    name for name in ALL_OBJECTS if not name.isupper())
