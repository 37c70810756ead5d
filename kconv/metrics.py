"""Keras 3 metrics on torch tensors: stateful ``Metric``s (``update_state``, ``result``,
``reset_state``) that accumulate on the tensors' device without synchronizing it, the
accuracy functions, and lookup by Keras name (loss names work as metrics too).

``Precision``, ``Recall`` and ``AUC`` are torchmetrics' binary metrics under Keras's names
(they need the ``train`` extra).

Example:
    >>> m = kconv.metrics.SparseCategoricalAccuracy()
    >>> m.update_state(torch.tensor([1, 0]), torch.tensor([[0.2, 0.8], [0.3, 0.7]]))
    >>> float(m.result())
    0.5
"""

import torch

from kconv import losses
from kconv.validation import check_float, check_int, invalid_type, invalid_value


class Metric:
    """Keras's ``Metric``: a named running value. Subclasses keep their state in tensors."""

    def __init__(self, name=None, dtype=None):
        self.name = name or losses._snake(type(self).__name__)
        self.dtype = dtype
        self.reset_state()

    def reset_state(self):
        raise NotImplementedError

    def update_state(self, *args, **kwargs):
        raise NotImplementedError

    def result(self, synchronize=False):
        """The value so far; with ``synchronize``, over every process of a distributed run
        (torch.distributed), the state itself left as it is."""
        raise NotImplementedError

    def __call__(self, *args, **kwargs):
        """Update with one batch and return the result (Keras's stateless-looking call)."""
        self.update_state(*args, **kwargs)
        return self.result()

    def get_config(self):
        return {"name": self.name}

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}>"


class Mean(Metric):
    """The (weighted) mean of every value it was given."""

    def reset_state(self):
        self.total, self.count = torch.zeros(()), torch.zeros(())

    def update_state(self, values, sample_weight=None):
        values = torch.as_tensor(values).detach()
        if values.is_floating_point() and values.dtype != torch.float32:
            values = values.float()
        if self.total.device != values.device:
            self.total, self.count = self.total.to(values.device), self.count.to(values.device)
        if sample_weight is None:
            self.total = self.total + values.sum()
            self.count = self.count + values.numel()
            return
        weight = torch.as_tensor(sample_weight, device=values.device, dtype=torch.float32)
        if weight.ndim == 0:  # one weight for all, e.g. the batch size of a batch's mean
            self.total = self.total + values.sum() * weight
            self.count = self.count + weight * values.numel()
            return
        weight = losses.align_weight(weight, values).expand_as(values)
        self.total = self.total + (values * weight).sum()
        self.count = self.count + weight.sum()

    def result(self, synchronize=False):
        """The mean so far (0 before any value, as Keras's ``divide_no_nan``)."""
        total, count = self.total, self.count
        if synchronize and _distributed():
            import torch.distributed as dist
            state = torch.stack([total, count]).to(torch.float64)
            dist.all_reduce(state)
            total, count = state[0].float(), state[1].float()
        return torch.where(count > 0, total / count.clamp_min(1e-30), 0.0)


class MeanMetricWrapper(Mean):
    """The mean of ``fn(y_true, y_pred, **kwargs)`` over every sample seen."""

    def __init__(self, fn, name=None, dtype=None, **kwargs):
        self.fn, self.fn_kwargs = fn, kwargs
        super().__init__(name=name or getattr(fn, "__name__", None), dtype=dtype)

    def update_state(self, y_true, y_pred, sample_weight=None):
        super().update_state(self.fn(y_true, y_pred, **self.fn_kwargs), sample_weight)

    def get_config(self):
        return {**super().get_config(), **self.fn_kwargs}


def _distributed():
    import torch.distributed as dist
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def _labels(y_true, y_pred):
    """``y_true`` as a tensor on ``y_pred``'s device, (N, 1) labels squeezed to (N,)."""
    y_true = torch.as_tensor(y_true, device=y_pred.device)
    if y_true.ndim == y_pred.ndim and y_true.shape[-1] == 1:
        y_true = y_true.squeeze(-1)
    return y_true


def accuracy(y_true, y_pred):
    """1 where prediction and target are equal."""
    y_true = torch.as_tensor(y_true, device=y_pred.device).to(y_pred.dtype)
    y_true, y_pred = losses.squeeze_or_expand_to_same_rank(y_true, y_pred)
    return (y_true == y_pred).float()


def binary_accuracy(y_true, y_pred, threshold=0.5):
    """Share of outputs on the right side of ``threshold``, per sample."""
    y_true = torch.as_tensor(y_true, device=y_pred.device).to(y_pred.dtype)
    y_true, y_pred = losses.squeeze_or_expand_to_same_rank(y_true, y_pred)
    return ((y_pred > threshold).to(y_pred.dtype) == y_true).float().mean(-1)


def categorical_accuracy(y_true, y_pred):
    """1 where the arg-max of one-hot targets is the predicted class."""
    y_true = torch.as_tensor(y_true, device=y_pred.device)
    return (y_true.argmax(-1) == y_pred.argmax(-1)).float()


def sparse_categorical_accuracy(y_true, y_pred):
    """1 where the integer label is the predicted class."""
    return (_labels(y_true, y_pred).long() == y_pred.argmax(-1)).float()


def top_k_categorical_accuracy(y_true, y_pred, k=5):
    """1 where the target class is among the ``k`` highest predictions."""
    y_true = torch.as_tensor(y_true, device=y_pred.device)
    return sparse_top_k_categorical_accuracy(y_true.argmax(-1), y_pred, k)


def sparse_top_k_categorical_accuracy(y_true, y_pred, k=5):
    """1 where the integer label is among the ``k`` highest predictions."""
    labels = _labels(y_true, y_pred).long()
    top = y_pred.topk(min(k, y_pred.shape[-1]), dim=-1).indices
    return (top == labels.unsqueeze(-1)).any(-1).float()


def _metric_class(class_name, fn, doc, default_name=None, **defaults):
    """A Keras ``MeanMetricWrapper`` class around ``fn`` taking ``defaults``."""

    def __init__(self, name=None, dtype=None, **kwargs):
        unknown = sorted(set(kwargs) - set(defaults))
        if unknown:
            raise TypeError(f"{class_name} got unexpected argument(s) {unknown}; it takes "
                            f"{sorted(defaults) + ['dtype', 'name']}")
        options = {**defaults, **kwargs}
        if "k" in options:
            check_int("k", options["k"], minimum=1)
        if "threshold" in options:
            check_float("threshold", options["threshold"])
        MeanMetricWrapper.__init__(self, fn, name=name or default_name or fn.__name__,
                                   dtype=dtype, **options)

    return type(class_name, (MeanMetricWrapper,), {"__init__": __init__, "__doc__": doc,
                                                   "__module__": __name__})


Accuracy = _metric_class("Accuracy", accuracy, "How often predictions equal targets.")
BinaryAccuracy = _metric_class("BinaryAccuracy", binary_accuracy,
                               "Accuracy of thresholded outputs.", threshold=0.5)
CategoricalAccuracy = _metric_class("CategoricalAccuracy", categorical_accuracy,
                                    "Accuracy against one-hot targets.")
SparseCategoricalAccuracy = _metric_class("SparseCategoricalAccuracy",
                                          sparse_categorical_accuracy,
                                          "Accuracy against integer labels.")
TopKCategoricalAccuracy = _metric_class("TopKCategoricalAccuracy",
                                        top_k_categorical_accuracy,
                                        "Top-k accuracy against one-hot targets.", k=5)
SparseTopKCategoricalAccuracy = _metric_class("SparseTopKCategoricalAccuracy",
                                              sparse_top_k_categorical_accuracy,
                                              "Top-k accuracy against integer labels.", k=5)


# Keras's metric classes of the losses (the mean of the loss function over samples).
MeanSquaredError = _metric_class("MeanSquaredError", losses.mean_squared_error,
                                 "Mean of squared errors.")
MeanAbsoluteError = _metric_class("MeanAbsoluteError", losses.mean_absolute_error,
                                  "Mean of absolute errors.")
MeanAbsolutePercentageError = _metric_class(
    "MeanAbsolutePercentageError", losses.mean_absolute_percentage_error,
    "Mean of absolute errors relative to the targets, in percent.")
MeanSquaredLogarithmicError = _metric_class(
    "MeanSquaredLogarithmicError", losses.mean_squared_logarithmic_error,
    "Mean of squared errors of log(1 + x).")
LogCoshError = _metric_class("LogCoshError", losses.log_cosh, "Mean of log(cosh(error)).",
                             default_name="logcosh")
Hinge = _metric_class("Hinge", losses.hinge, "Mean hinge loss.")
SquaredHinge = _metric_class("SquaredHinge", losses.squared_hinge, "Mean squared hinge loss.")
CategoricalHinge = _metric_class("CategoricalHinge", losses.categorical_hinge,
                                 "Mean categorical hinge loss.")
KLDivergence = _metric_class("KLDivergence", losses.kl_divergence,
                             "Mean Kullback-Leibler divergence.")
Poisson = _metric_class("Poisson", losses.poisson, "Mean Poisson loss.")
BinaryCrossentropy = _metric_class("BinaryCrossentropy", losses.binary_crossentropy,
                                   "Mean binary cross-entropy.", from_logits=False,
                                   label_smoothing=0.0)
CategoricalCrossentropy = _metric_class(
    "CategoricalCrossentropy", losses.categorical_crossentropy,
    "Mean cross-entropy of one-hot targets.", from_logits=False, label_smoothing=0.0, axis=-1)
SparseCategoricalCrossentropy = _metric_class(
    "SparseCategoricalCrossentropy", losses.sparse_categorical_crossentropy,
    "Mean cross-entropy of integer labels.", from_logits=False, axis=-1)


class RootMeanSquaredError(Mean):
    """The square root of the mean squared error over every value seen (Keras's)."""

    def __init__(self, name="root_mean_squared_error", dtype=None):
        super().__init__(name=name, dtype=dtype)

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = torch.as_tensor(y_true, device=y_pred.device).to(y_pred.dtype)
        y_true, y_pred = losses.squeeze_or_expand_to_same_rank(y_true, y_pred)
        super().update_state((y_pred - y_true).square(), sample_weight)

    def result(self, synchronize=False):
        return super().result(synchronize).sqrt()


class _Binary(Metric):
    """A torchmetrics binary metric over every output value, Keras's way (targets 0/1,
    predictions thresholded at 0.5 or ranked)."""

    _factory = None

    def __init__(self, thresholds=None, name=None, dtype=None, **options):
        self._options = dict(options)
        if thresholds is not None:
            self._options["threshold"] = check_float("thresholds", thresholds)
        super().__init__(name=name, dtype=dtype)

    def reset_state(self):
        self._metric = None

    def update_state(self, y_true, y_pred, sample_weight=None):
        if sample_weight is not None:
            raise invalid_value("sample_weight", f"None ({type(self).__name__} is unweighted "
                                "in kconv)", "a weight")
        if self._metric is None:
            import torchmetrics.classification as tmc
            self._metric = self._factory(tmc)(**self._options, validate_args=False).to(
                y_pred.device)
        y_true = torch.as_tensor(y_true, device=y_pred.device).reshape(-1).long()
        self._metric.update(y_pred.detach().reshape(-1).float(), y_true)

    def result(self, synchronize=False):
        # torchmetrics synchronizes processes itself when it computes.
        return torch.zeros(()) if self._metric is None else self._metric.compute()


class Precision(_Binary):
    """Keras's ``Precision`` (threshold 0.5): true positives / predicted positives."""

    def _factory(self, tmc):
        return tmc.BinaryPrecision


class Recall(_Binary):
    """Keras's ``Recall`` (threshold 0.5): true positives / actual positives."""

    def _factory(self, tmc):
        return tmc.BinaryRecall


class AUC(_Binary):
    """Area under the ROC curve over ``num_thresholds`` evenly spaced thresholds."""

    def __init__(self, num_thresholds=200, name=None, dtype=None):
        check_int("num_thresholds", num_thresholds, minimum=2)
        super().__init__(name=name or "auc", dtype=dtype, thresholds=None)
        self._options = {"thresholds": num_thresholds}

    def _factory(self, tmc):
        return tmc.BinaryAUROC


ALL_OBJECTS = {fn.__name__: fn for fn in (
    accuracy, binary_accuracy, categorical_accuracy, sparse_categorical_accuracy,
    top_k_categorical_accuracy, sparse_top_k_categorical_accuracy)}
ALL_OBJECTS.update({cls.__name__: cls for cls in (
    Accuracy, BinaryAccuracy, CategoricalAccuracy, SparseCategoricalAccuracy,
    TopKCategoricalAccuracy, SparseTopKCategoricalAccuracy, Precision, Recall, AUC, Mean,
    MeanSquaredError, MeanAbsoluteError, MeanAbsolutePercentageError,
    MeanSquaredLogarithmicError, LogCoshError, Hinge, SquaredHinge, CategoricalHinge,
    KLDivergence, Poisson, BinaryCrossentropy, CategoricalCrossentropy,
    SparseCategoricalCrossentropy, RootMeanSquaredError)})
ALL_OBJECTS.update({"precision": Precision, "recall": Recall, "auc": AUC})
LOSS_NAMES = [name for name, fn in losses.ALL_OBJECTS.items() if not isinstance(fn, type)]


def names():
    """Every accepted metric name (the losses' names included, and 'accuracy'/'acc',
    which ``compile`` resolves from the targets' and outputs' shapes)."""
    return sorted(set(ALL_OBJECTS) | set(LOSS_NAMES) | {"acc"})


def get(identifier):
    """A :class:`Metric` from a Keras name, a Metric, a Metric class or a function
    ``(y_true, y_pred)`` (averaged over samples)."""
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, str):
        found = ALL_OBJECTS.get(identifier, losses.ALL_OBJECTS.get(identifier))
        if found is None or isinstance(found, type) and not issubclass(found, Metric):
            raise invalid_value("metrics", f"one of {tuple(names())}", identifier)
        return found() if isinstance(found, type) else MeanMetricWrapper(found, name=identifier)
    if isinstance(identifier, type) and issubclass(identifier, Metric):
        return identifier()
    if callable(identifier):
        return MeanMetricWrapper(identifier)
    raise invalid_type("metrics", "a metric name, a Metric or a callable", identifier)


def resolve_accuracy(name, y_true_shape, y_pred_shape):
    """Keras's choice for 'accuracy'/'acc' from the shapes of a batch: binary for one
    output unit, sparse for integer labels, categorical otherwise; named as given."""
    binary = y_pred_shape[-1] == 1
    sparse = len(y_true_shape) < len(y_pred_shape) or \
        (y_true_shape[-1] == 1 and y_pred_shape[-1] > 1)
    cls = BinaryAccuracy if binary else SparseCategoricalAccuracy if sparse else \
        CategoricalAccuracy
    return cls(name=name)


__all__ = ["Metric", "Mean", "MeanMetricWrapper", "get", "names", "resolve_accuracy"] + \
    sorted(n for n in ALL_OBJECTS if n not in ("precision", "recall", "auc"))
