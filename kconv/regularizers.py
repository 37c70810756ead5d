"""Keras 3 weight regularizers: called on a tensor (in Keras layout) they return the penalty.

L2 has no ½ factor, as in Keras. ``get_config`` returns what Keras returns: L1 and
OrthogonalRegularizer keep their factor as a float32 tensor in Keras (``L1(0.01)`` reports
``0.009999999776482582``), L2 and L1L2 as a Python float.
"""

import numpy as np
import torch

from kconv.serialization import Configurable, Resolver
from kconv.validation import check_choice, check_float, invalid_value


def _factor(name, value, float32=False):
    value = check_float(name, value, minimum=0.0)
    return float(np.float32(value)) if float32 else value


class Regularizer(Configurable):
    """Base class: ``reg(weight)`` returns a scalar penalty."""

    _keras_module = "keras.regularizers"

    def __call__(self, x):
        return x.new_zeros(())


class L1(Regularizer):
    """``l1 * sum(|x|)``."""

    def __init__(self, l1=0.01):
        self.l1 = _factor("l1", l1, float32=True)

    def __call__(self, x):
        return self.l1 * x.abs().sum()

    def get_config(self):
        return {"l1": self.l1}


class L2(Regularizer):
    """``l2 * sum(x ** 2)`` (no ½)."""

    def __init__(self, l2=0.01):
        self.l2 = _factor("l2", l2)

    def __call__(self, x):
        return self.l2 * x.square().sum()

    def get_config(self):
        return {"l2": self.l2}


class L1L2(Regularizer):
    """``l1 * sum(|x|) + l2 * sum(x ** 2)``; Keras 3 defaults are 0.0 and 0.0."""

    def __init__(self, l1=0.0, l2=0.0):
        self.l1 = _factor("l1", l1)
        self.l2 = _factor("l2", l2)

    def __call__(self, x):
        penalty = x.new_zeros(())
        if self.l1:
            penalty = penalty + self.l1 * x.abs().sum()
        if self.l2:
            penalty = penalty + self.l2 * x.square().sum()
        return penalty

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2}


class OrthogonalRegularizer(Regularizer):
    """Penalizes non-orthogonal rows (or columns) of a 2-D weight: ``factor`` times the
    mean absolute off-diagonal cosine similarity."""

    def __init__(self, factor=0.01, mode="rows"):
        self.factor = _factor("factor", factor, float32=True)
        self.mode = check_choice("mode", mode, ("rows", "columns"))

    def __call__(self, x):
        if x.ndim != 2:
            raise invalid_value("inputs", "a rank-2 weight for OrthogonalRegularizer",
                                tuple(x.shape))
        if self.mode == "columns":
            x = x.T
        x = torch.nn.functional.normalize(x, dim=1, eps=1e-12)
        n = x.shape[0]
        gram = (x @ x.T).abs() * (1 - torch.eye(n, dtype=x.dtype, device=x.device))
        return self.factor * gram.sum() / (n * n - n)

    def get_config(self):
        return {"factor": self.factor, "mode": self.mode}


# Keras's function-style names are the classes themselves (so l1_l2() defaults to 0/0).
l1, l2, l1_l2, orthogonal_regularizer = L1, L2, L1L2, OrthogonalRegularizer

ALL_OBJECTS = {"Regularizer": Regularizer, "L1": L1, "L2": L2, "L1L2": L1L2,
               "OrthogonalRegularizer": OrthogonalRegularizer, "l1": L1, "l2": L2,
               "l1l2": L1L2, "orthogonal_regularizer": OrthogonalRegularizer}
_resolver = Resolver("regularizer", Regularizer, ALL_OBJECTS)


def get(identifier):
    """A regularizer from None, a Keras name, a config dict, a class or an instance.

    As in Keras 3, the string ``'l1_l2'`` is not a name (use ``'l1l2'`` or ``L1L2(...)``).
    """
    return _resolver.get(identifier)


def names():
    return _resolver.names()
