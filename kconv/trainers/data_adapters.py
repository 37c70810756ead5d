"""What ``fit``/``evaluate``/``predict`` accept as data, turned into epochs of
``(x, y, sample_weight)`` batches of torch tensors, as Keras's data adapters do.

Accepted: NumPy arrays and torch tensors (or lists/dicts of them for several inputs),
batched here and shuffled each epoch from torch's global RNG; a torch ``DataLoader`` or any
re-iterable of batches; a Keras-style dataset with ``__len__`` and ``__getitem__`` (such as
``ImageDataGenerator.flow``); a Python generator (one pass, continued across epochs). A
batch is ``x``, ``(x,)``, ``(x, y)`` or ``(x, y, sample_weight)``. Inputs become float32
(Keras casts them to the model's dtype), float64 targets float32, integer targets int64.
"""

import itertools
import math
import types
import warnings

import numpy as np
import torch

from kconv import legacy
from kconv.validation import check_float, check_int, invalid_type, invalid_value


def _is_array(value):
    return isinstance(value, (np.ndarray, torch.Tensor))


def _is_array_structure(value):
    """An array, or a list/tuple/dict of arrays (several inputs or outputs)."""
    if _is_array(value):
        return True
    if isinstance(value, dict):
        return bool(value) and all(_is_array(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return bool(value) and all(_is_array(v) for v in value)
    return False


def map_structure(fn, value):
    """``fn`` over one value, or over each value of a list/tuple (a list) or dict."""
    if isinstance(value, dict):
        return {k: fn(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [fn(v) for v in value]
    return None if value is None else fn(value)


def first_item(value):
    """A value itself, or the first value of a list/tuple or dict."""
    if isinstance(value, dict):
        return next(iter(value.values()))
    return value[0] if isinstance(value, (list, tuple)) else value


def to_tensor(value, role):
    """One array as a torch tensor: ``role`` 'x' -> float32, 'y'/'sample_weight' keep
    integers (int64) and make floats float32."""
    if value is None:
        return None
    if isinstance(value, np.ndarray):
        if value.dtype == object:
            raise invalid_type(role, "numeric arrays", value)
        if not value.flags.writeable or not value.flags.c_contiguous:
            value = np.ascontiguousarray(value).copy()
        value = torch.from_numpy(value)
    elif not isinstance(value, torch.Tensor):
        try:
            value = torch.as_tensor(np.asarray(value))
        except (TypeError, ValueError):
            raise invalid_type(role, "arrays, tensors or numbers", value) from None
    if role == "x" or role == "sample_weight" or value.is_floating_point():
        return value if value.dtype == torch.float32 else value.float()
    return value.long() if value.dtype != torch.int64 else value


def _tensors(value, role):
    return map_structure(lambda v: to_tensor(v, role), value)


def unpack(batch):
    """``(x, y, sample_weight)`` of one batch as a generator or loader gives it: a tuple
    or list is ``(x,)``, ``(x, y)`` or ``(x, y, sample_weight)`` (several inputs come as
    ``((x1, x2), y)``), anything else is ``x``."""
    if isinstance(batch, (list, tuple)):
        if not 1 <= len(batch) <= 3:
            raise ValueError(f"Data is expected to be x, (x,), (x, y) or (x, y, "
                             f"sample_weight); received a {type(batch).__name__} of "
                             f"{len(batch)} items")
        return tuple(batch) + (None,) * (3 - len(batch))
    return batch, None, None


def _normalize(batch):
    x, y, w = unpack(batch)
    return _tensors(x, "x"), _tensors(y, "y"), _tensors(w, "sample_weight")


def _num_samples(x):
    return int(first_item(x).shape[0])


def _take(value, index):
    return map_structure(lambda v: v[index], value)


class ArrayData:
    """Arrays sliced into batches; ``shuffle`` True (every sample), 'batch' (the order of
    batches) or False."""

    restartable = True

    def __init__(self, x, y=None, sample_weight=None, batch_size=32, shuffle=False):
        self.x, self.y, self.w = _tensors(x, "x"), _tensors(y, "y"), \
            _tensors(sample_weight, "sample_weight")
        self.size = _num_samples(self.x)
        for name, value in (("y", self.y), ("sample_weight", self.w)):
            if value is not None:
                sizes = {int(v.shape[0]) for v in (value.values() if isinstance(value, dict)
                                                   else value if isinstance(value, list)
                                                   else [value])}
                if sizes != {self.size}:
                    raise ValueError(f"Data cardinality is ambiguous: x sizes: {self.size}, "
                                     f"{name} sizes: {sorted(sizes)}. Make sure all arrays "
                                     f"contain the same number of samples.")
        self.batch_size = check_int("batch_size", batch_size, minimum=1)
        if shuffle not in (True, False, "batch"):
            raise invalid_value("shuffle", "True, False or 'batch'", shuffle)
        self.shuffle = shuffle

    def __len__(self):
        return math.ceil(self.size / self.batch_size)

    def first_inputs(self):
        """The inputs of one sample (to build a model), drawing no random numbers."""
        return _take(self.x, slice(0, 1))

    def __iter__(self):
        count, size = len(self), self.batch_size
        order = None
        if self.shuffle is True:
            order = torch.randperm(self.size)
        batches = torch.randperm(count).tolist() if self.shuffle == "batch" else range(count)
        for b in batches:
            index = slice(b * size, (b + 1) * size) if order is None else \
                order[b * size:(b + 1) * size]
            yield _take(self.x, index), _take(self.y, index), _take(self.w, index)


class IterableData:
    """Batches from a loader, a Keras-style dataset (``__len__`` + ``__getitem__``), an
    iterable or a generator (not restartable)."""

    def __init__(self, source):
        self.source = source
        self.indexed = hasattr(source, "__getitem__") and hasattr(source, "__len__") and \
            not isinstance(source, torch.utils.data.DataLoader)
        self.restartable = not isinstance(source, (types.GeneratorType, map, filter)) and \
            not (hasattr(source, "__next__") and iter(source) is source and not self.indexed)
        self._iterator = None

    def __len__(self):
        return len(self.source)

    def first_inputs(self):
        """The inputs of the first batch (to build a model); a one-pass source gets the
        batch back, so training still starts with it."""
        if self.indexed:
            return _normalize(self.source[0])[0]
        if self.restartable:
            return _normalize(next(iter(self.source)))[0]
        if self._iterator is None:
            self._iterator = iter(self.source)
        first = next(self._iterator)
        self._iterator = itertools.chain([first], self._iterator)
        return _normalize(first)[0]

    def __iter__(self):
        if self.indexed:
            for i in range(len(self.source)):
                yield _normalize(self.source[i])
            if hasattr(self.source, "on_epoch_end"):
                self.source.on_epoch_end()
            return
        if self.restartable or self._iterator is None:
            self._iterator = iter(self.source)
        for batch in self._iterator:
            yield _normalize(batch)


def has_len(data):
    try:
        len(data)
    except TypeError:
        return False
    return True


class Epochs:
    """Epochs of ``steps`` batches of ``data``: without ``steps``, each epoch is one pass
    (a generator without a length must be given ``steps``); with ``steps``, the batches
    continue where the last epoch stopped and a restartable source starts a new pass when
    it runs out. A generator that runs out ends the training, with Keras's warning."""

    def __init__(self, data, steps=None, argument="steps_per_epoch"):
        self.data = data
        if isinstance(steps, float) and steps > 0:  # Keras 2 took len(x) / batch_size
            legacy.keras2(f"{argument}={steps}", f"{argument}={math.ceil(steps)} (an int)",
                          "; kconv takes its ceiling, as Keras 2 did")
            steps = math.ceil(steps)
        if steps is not None:
            steps = check_int(argument, steps, minimum=1)
        elif not has_len(data):
            raise ValueError(f"`{argument}` is needed when the data is a generator or "
                             f"iterator without a length: the number of batches of one epoch")
        self.steps = steps
        self.exhausted = False
        self._iterator = None

    def __len__(self):
        return self.steps if self.steps is not None else len(self.data)

    def __iter__(self):
        if self.steps is None:
            yield from self.data
            return
        given = 0
        while given < self.steps:
            fresh = self._iterator is None
            if fresh:
                self._iterator = iter(self.data)
            try:
                batch = next(self._iterator)
            except StopIteration:
                self._iterator = None
                if fresh:  # a generator that ended, or an empty source
                    self.exhausted = True
                    warnings.warn("Your input ran out of data; interrupting training. Make "
                                  "sure that your dataset or generator can generate at least "
                                  "`steps_per_epoch * epochs` batches.", stacklevel=2)
                    return
                continue
            given += 1
            yield batch


def adapt(x, y=None, sample_weight=None, *, batch_size=None, shuffle=False, steps=None,
          class_weight=None, argument="steps_per_epoch", mode="fit"):
    """The :class:`Epochs` of what a user passed to ``fit``/``evaluate``/``predict``.

    Raises:
        ValueError: ``y`` or ``sample_weight`` beside a generator or loader, a missing ``y``
            for training, an impossible ``class_weight``.
    """
    if x is None:
        raise invalid_value("x", "input data (arrays, a DataLoader or a generator)", x)
    if _is_array_structure(x) or isinstance(x, (list, int, float)):
        if mode != "predict" and y is None:
            raise ValueError(f"`{mode}` received x but no y: with arrays, targets are "
                             f"passed as y (or x is a generator of (x, y) batches)")
        data = ArrayData(x, y, sample_weight, 32 if batch_size is None else batch_size,
                         shuffle)
    else:
        for name, value in (("y", y), ("sample_weight", sample_weight)):
            if value is not None:
                raise ValueError(f"`{name}` argument is not supported when using a "
                                 f"generator, DataLoader or dataset as input: its batches "
                                 f"carry the targets. Received: {name}={type(value).__name__}")
        if batch_size is not None and mode == "fit":
            warnings.warn("`batch_size` is ignored: the generator or loader makes the "
                          "batches", stacklevel=3)
        data = IterableData(x)
    epochs = Epochs(data, steps, argument)
    if class_weight is not None:
        epochs = ClassWeighted(epochs, class_weight)
    return epochs


class ClassWeighted:
    """Keras's ``class_weight``: each sample weighted by its class's weight (classes from
    integer labels, or from the arg-max of one-hot targets)."""

    def __init__(self, epochs, class_weight):
        if not isinstance(class_weight, dict) or not class_weight:
            raise invalid_type("class_weight", "a dict of class index -> weight",
                               class_weight)
        for key, value in class_weight.items():
            check_int("class_weight key", key, minimum=0)
            check_float(f"class_weight[{key}]", value)
        table = torch.ones(max(class_weight) + 1)
        for key, value in class_weight.items():
            table[key] = float(value)
        self.epochs, self.table = epochs, table

    def __len__(self):
        return len(self.epochs)

    def __iter__(self):
        for x, y, w in self.epochs:
            if not isinstance(y, torch.Tensor):
                raise ValueError("`class_weight` is only supported for models with a single "
                                 "output")
            classes = y.argmax(-1) if y.ndim > 1 and y.shape[-1] > 1 else y.reshape(-1)
            classes = classes.long().reshape(-1)
            if int(classes.max()) >= len(self.table) or int(classes.min()) < 0:
                raise ValueError(f"`class_weight` has no entry for class "
                                 f"{int(classes.max())} (its keys: "
                                 f"{sorted(int(k) for k in range(len(self.table)))})")
            weights = self.table[classes]
            yield x, y, weights if w is None else w * weights


def split(x, y, sample_weight, validation_split):
    """Keras's ``validation_split``: the last fraction of the arrays, before shuffling."""
    fraction = check_float("validation_split", validation_split, minimum=0.0, maximum=1.0)
    if not 0.0 < fraction < 1.0:
        raise invalid_value("validation_split", "a fraction between 0 and 1", fraction)
    if not _is_array_structure(x):
        raise ValueError(f"`validation_split` is only supported for Tensors or NumPy arrays; "
                         f"found a {type(x).__name__}. Pass validation_data instead.")
    size = _num_samples(x)
    at = int(math.floor(size * (1.0 - fraction)))
    if at == 0 or at == size:
        raise ValueError(f"validation_split={fraction} leaves no training or no validation "
                         f"samples out of {size}")
    head, tail = slice(0, at), slice(at, size)
    return (_take(x, head), _take(y, head), _take(sample_weight, head)), \
        (_take(x, tail), _take(y, tail), _take(sample_weight, tail))


def validation_tuple(validation_data):
    """``(x, y, sample_weight)`` from Keras's ``validation_data`` tuple, or None when it is
    a generator or loader (adapted as it is)."""
    if isinstance(validation_data, (list, tuple)) and validation_data and \
            _is_array_structure(validation_data[0]):
        if not 2 <= len(validation_data) <= 3:
            raise ValueError(f"Invalid value for argument `validation_data`: expected (x, y) "
                             f"or (x, y, sample_weight). Received: a "
                             f"{type(validation_data).__name__} of {len(validation_data)} "
                             f"item(s)")
        return tuple(validation_data) + (None,) * (3 - len(validation_data))
    return None
