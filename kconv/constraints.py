"""Keras 3 weight constraints and the helpers that apply them after optimizer steps.

A constraint is called on a weight in Keras layout, so ``axis`` means a Keras axis: on a
conv kernel (HWIO) the default ``axis=0`` is the kernel height, and ``axis=[0, 1, 2]`` gives
one norm per filter. kconv layers pass their torch-layout weights through that view.
"""

import torch

from kconv import config
from kconv.serialization import Configurable, Resolver
from kconv.validation import check_float, invalid_value, is_int


def _axis(axis):
    if is_int(axis):
        return int(axis)
    if isinstance(axis, (list, tuple)) and axis and all(is_int(a) for a in axis):
        return [int(a) for a in axis]
    raise invalid_value("axis", "an int or a list of ints", axis)


def _norms(w, axis):
    return torch.sqrt(torch.sum(w.square(), dim=axis, keepdim=True))


class Constraint(Configurable):
    """Base class: ``constraint(w)`` returns the projected weight."""

    _keras_module = "keras.constraints"

    def __call__(self, w):
        return w


class MaxNorm(Constraint):
    """Rescales slices whose norm along ``axis`` exceeds ``max_value``."""

    def __init__(self, max_value=2, axis=0):
        self.max_value = check_float("max_value", max_value, minimum=0.0)
        self.axis = _axis(axis)

    def __call__(self, w):
        norms = _norms(w, self.axis)
        desired = torch.clamp(norms, 0, self.max_value)
        return w * (desired / (config.epsilon() + norms))

    def get_config(self):
        return {"max_value": self.max_value, "axis": self.axis}


class NonNeg(Constraint):
    """Clips negative weights to zero."""

    def __call__(self, w):
        return torch.clamp(w, min=0)


class UnitNorm(Constraint):
    """Rescales slices along ``axis`` to unit norm."""

    def __init__(self, axis=0):
        self.axis = _axis(axis)

    def __call__(self, w):
        return w / (config.epsilon() + _norms(w, self.axis))

    def get_config(self):
        return {"axis": self.axis}


class MinMaxNorm(Constraint):
    """Moves slice norms along ``axis`` into ``[min_value, max_value]`` at speed ``rate``."""

    def __init__(self, min_value=0.0, max_value=1.0, rate=1.0, axis=0):
        self.min_value = check_float("min_value", min_value, minimum=0.0)
        self.max_value = check_float("max_value", max_value, minimum=self.min_value)
        self.rate = check_float("rate", rate, minimum=0.0, maximum=1.0)
        self.axis = _axis(axis)

    def __call__(self, w):
        norms = _norms(w, self.axis)
        desired = self.rate * torch.clamp(norms, self.min_value, self.max_value) \
            + (1 - self.rate) * norms
        return w * (desired / (config.epsilon() + norms))

    def get_config(self):
        return {"min_value": self.min_value, "max_value": self.max_value, "rate": self.rate,
                "axis": self.axis}


max_norm, non_neg, unit_norm, min_max_norm = MaxNorm, NonNeg, UnitNorm, MinMaxNorm

ALL_OBJECTS = {"Constraint": Constraint, "MaxNorm": MaxNorm, "NonNeg": NonNeg,
               "UnitNorm": UnitNorm, "MinMaxNorm": MinMaxNorm, "max_norm": MaxNorm,
               "non_neg": NonNeg, "unit_norm": UnitNorm, "min_max_norm": MinMaxNorm}
_resolver = Resolver("constraint", Constraint, ALL_OBJECTS)


def get(identifier):
    """A constraint from None, a Keras name, a config dict, a class or an instance."""
    return _resolver.get(identifier)


def names():
    return _resolver.names()


@torch.no_grad()
def apply_constraints(module, params=None):
    """Project every constrained weight of the kconv layers inside ``module``, in place.

    Args:
        module: any ``torch.nn.Module`` containing kconv layers.
        params: optional iterable of parameters; only those are constrained (Keras
            constrains the variables its optimizer just updated).
    """
    selected = None if params is None else {id(p) for p in params}
    for layer in module.modules():
        for spec in getattr(layer, "weight_specs", {}).values():  # kconv layers' protocol
            tensor = getattr(layer, spec.name)
            if spec.constraint is None or not tensor.requires_grad:
                continue
            if selected is None or id(tensor) in selected:
                tensor.copy_(spec.from_keras(spec.constraint(spec.to_keras(tensor))))


def attach_constraints(optimizer, module):
    """Run :func:`apply_constraints` after every ``optimizer.step()``, as Keras does.

    Only parameters that the optimizer updates are constrained. Returns the hook handle
    (``handle.remove()`` detaches it).

    Example:
        >>> opt = torch.optim.SGD(model.parameters(), lr=0.1)
        >>> attach_constraints(opt, model)
    """
    def hook(opt, args, kwargs):
        params = [p for group in opt.param_groups for p in group["params"]]
        apply_constraints(module, params)

    return optimizer.register_step_post_hook(hook)
