"""The part of ``tf.data`` that keras.io's image examples call on a dataset, for datasets of
torch tensors: :class:`Dataset` (what ``image_dataset_from_directory`` returns, and what
``fit``, ``evaluate`` and ``predict`` take) with ``batch``, ``unbatch``, ``map``, ``take``,
``skip``, ``shuffle``, ``cache``, ``repeat`` and ``prefetch``, and ``AUTOTUNE``.

A dataset is re-iterable: each ``for`` over it (each epoch) is a fresh pass. Its elements
are tensors or tuples of tensors; ``len()`` is its number of elements when it is known.

Example:
    >>> train_ds = train_ds.map(lambda x, y: (augment(x), y), num_parallel_calls=AUTOTUNE)
    >>> model.fit(train_ds.prefetch(AUTOTUNE), epochs=10)
"""

import math
import random

import numpy as np
import torch

from kconv.validation import check_bool, check_int, invalid_type

AUTOTUNE = -1  # tf.data.AUTOTUNE: accepted wherever tf.data takes it


class Dataset:
    """A re-iterable sequence of elements. ``source`` is a function returning a fresh
    iterator; ``length`` the number of elements when known (None otherwise)."""

    def __init__(self, source, length=None):
        if not callable(source):
            raise invalid_type("source", "a function returning an iterator", source)
        self._source, self._length = source, length
        self._elements = None  # for a batched dataset: the number of samples, when known

    @classmethod
    def from_tensor_slices(cls, tensors):
        """Elements are the rows of ``tensors`` (an array, or a tuple of arrays of one
        length), as ``tf.data.Dataset.from_tensor_slices``."""
        parts = tuple(tensors) if isinstance(tensors, (tuple, list)) else (tensors,)
        parts = tuple(torch.as_tensor(np.asarray(p)) if not isinstance(p, torch.Tensor) else p
                      for p in parts)
        sizes = {len(p) for p in parts}
        if len(sizes) != 1:
            raise ValueError(f"from_tensor_slices: the arrays differ in length: "
                             f"{[len(p) for p in parts]}")
        single = not isinstance(tensors, (tuple, list))

        def source():
            for i in range(len(parts[0])):
                yield parts[0][i] if single else tuple(p[i] for p in parts)
        return cls(source, len(parts[0]))

    def __iter__(self):
        return iter(self._source())

    def __len__(self):
        if self._length is None:
            raise TypeError("the length of this dataset is unknown (after filter or an "
                            "unbatch of batches of unknown size)")
        return self._length

    def cardinality(self):
        """The number of elements, or -2 when unknown (``tf.data.UNKNOWN_CARDINALITY``)."""
        return -2 if self._length is None else self._length

    def __repr__(self):
        return f"<Dataset of {'unknown' if self._length is None else self._length} elements>"

    def _derived(self, source, length, elements=None):
        derived = Dataset(source, length)
        derived._elements = elements
        for key in ("class_names", "file_paths"):  # image_dataset_from_directory's
            if hasattr(self, key):
                setattr(derived, key, getattr(self, key))
        return derived

    # ----------------------------------------------------------------- transformations
    def map(self, map_func, num_parallel_calls=None, deterministic=None, name=None):
        """``map_func(*element)`` for tuple elements, ``map_func(element)`` otherwise."""
        if not callable(map_func):
            raise invalid_type("map_func", "a function", map_func)

        def source():
            for element in self:
                yield map_func(*element) if isinstance(element, tuple) else map_func(element)
        return self._derived(source, self._length, self._elements)

    def batch(self, batch_size, drop_remainder=False, num_parallel_calls=None,
              deterministic=None, name=None):
        """Consecutive elements stacked into batches of ``batch_size``."""
        batch_size = check_int("batch_size", batch_size)
        drop_remainder = check_bool("drop_remainder", drop_remainder)

        def source():
            group = []
            for element in self:
                group.append(element)
                if len(group) == batch_size:
                    yield _stack(group)
                    group = []
            if group and not drop_remainder:
                yield _stack(group)
        length = None if self._length is None else (
            self._length // batch_size if drop_remainder else
            math.ceil(self._length / batch_size))
        batched = self._derived(source, length)
        if self._length is not None:
            batched._elements = length * batch_size if drop_remainder else self._length
        return batched

    def unbatch(self, name=None):
        """Each batch split back into its elements."""
        def source():
            for batch in self:
                if isinstance(batch, tuple):
                    yield from zip(*batch)
                else:
                    yield from batch
        return self._derived(source, self._elements)

    def take(self, count, name=None):
        """The first ``count`` elements (all of them for -1)."""
        count = check_int("count", count, minimum=-1)
        if count == -1:
            return self

        def source():
            for i, element in enumerate(self):
                if i >= count:
                    return
                yield element
        return self._derived(source, None if self._length is None else
                             min(count, self._length))

    def skip(self, count, name=None):
        """Every element after the first ``count``."""
        count = check_int("count", count, minimum=0)

        def source():
            for i, element in enumerate(self):
                if i >= count:
                    yield element
        return self._derived(source, None if self._length is None else
                             max(self._length - count, 0))

    def filter(self, predicate, name=None):
        """The elements for which ``predicate(*element)`` is true."""
        def source():
            for element in self:
                keep = predicate(*element) if isinstance(element, tuple) else predicate(element)
                if bool(keep):
                    yield element
        return self._derived(source, None)

    def shuffle(self, buffer_size, seed=None, reshuffle_each_iteration=True, name=None):
        """tf.data's buffered shuffle: each element drawn at random from a buffer of the
        next ``buffer_size``; a new order each pass unless ``reshuffle_each_iteration`` is
        False; ``seed`` makes the sequence of orders reproducible."""
        buffer_size = check_int("buffer_size", buffer_size, minimum=-1)
        passes = [0]

        def source():
            passes[0] += 1
            rng = random.Random(None if seed is None else
                                seed * 1_000_003 + (passes[0] if reshuffle_each_iteration
                                                    else 1))
            buffer, size = [], buffer_size if buffer_size > 0 else (self._length or 1 << 30)
            for element in self:
                buffer.append(element)
                if len(buffer) >= size:
                    yield buffer.pop(rng.randrange(len(buffer)))
            while buffer:
                yield buffer.pop(rng.randrange(len(buffer)))
        return self._derived(source, self._length, self._elements)

    def cache(self, filename="", name=None):
        """The elements kept in memory after the first complete pass (``filename`` is not
        used: kconv caches in memory)."""
        kept = []

        def source():
            if kept and kept[-1] is _COMPLETE:
                yield from kept[:-1]
                return
            kept.clear()
            for element in self:
                kept.append(element)
                yield element
            kept.append(_COMPLETE)
        return self._derived(source, self._length, self._elements)

    def repeat(self, count=None, name=None):
        """The elements ``count`` times (forever for None or -1)."""
        def source():
            n = 0
            while count is None or count < 0 or n < count:
                yield from self
                n += 1
        length = None if count is None or count < 0 or self._length is None else \
            self._length * count
        return self._derived(source, length)

    def prefetch(self, buffer_size=AUTOTUNE, name=None):
        """The same dataset (the batches are made by worker processes already)."""
        return self

    def as_numpy_iterator(self):
        """The elements as NumPy arrays."""
        for element in self:
            yield tuple(np.asarray(t) for t in element) if isinstance(element, tuple) \
                else np.asarray(element)


_COMPLETE = object()


def _stack(elements):
    if isinstance(elements[0], tuple):
        return tuple(torch.stack([torch.as_tensor(e[i]) for e in elements])
                     for i in range(len(elements[0])))
    return torch.stack([torch.as_tensor(e) for e in elements])
