"""Keras 3 activation functions on torch tensors, looked up by their Keras names.

Names are exact and case-sensitive (``'relu'``, not ``'Relu'``). ``get(None)`` is
``linear``. Functions keep Keras's defaults, e.g. ``leaky_relu`` slope 0.2, ``gelu``
exact (``approximate=False``), ``hard_sigmoid = relu6(x + 3) / 6``.
"""

import torch
import torch.nn.functional as F

from kconv.validation import invalid_type, invalid_value


def relu(x, negative_slope=0.0, max_value=None, threshold=0.0):
    """Rectified linear unit with Keras's optional slope, ceiling and threshold (computed as
    Keras's own branches: relu6 for a ceiling of 6, no element-wise select without a
    threshold)."""
    if negative_slope != 0.0 and max_value is None and threshold == 0.0:
        return F.leaky_relu(x, negative_slope)
    if threshold != 0.0:
        y = torch.where(x > threshold, x, 0.0)
    elif max_value == 6:
        y, max_value = F.relu6(x), None
    else:
        y = F.relu(x)
    if max_value is not None:
        y = torch.clamp(y, 0.0, max_value)
    if negative_slope != 0.0:
        y = y - negative_slope * F.relu(threshold - x)
    return y


def leaky_relu(x, negative_slope=0.2):
    return F.leaky_relu(x, negative_slope)


def relu6(x):
    return F.relu6(x)


def softmax(x, axis=-1):
    return F.softmax(x, dim=axis)


def log_softmax(x, axis=-1):
    return F.log_softmax(x, dim=axis)


def elu(x, alpha=1.0):
    return F.elu(x, alpha)


def selu(x):
    return F.selu(x)


def celu(x, alpha=1.0):
    return F.celu(x, alpha)


def softplus(x):
    return F.softplus(x)


def softsign(x):
    return F.softsign(x)


def soft_shrink(x, threshold=0.5):
    return F.softshrink(x, threshold)


def hard_shrink(x, threshold=0.5):
    return F.hardshrink(x, threshold)


def sparse_plus(x):
    return torch.where(x <= -1, torch.zeros_like(x), torch.where(x < 1, 0.25 * (x + 1) ** 2, x))


def silu(x):
    return F.silu(x)


def squareplus(x, b=4):
    return (x + torch.sqrt(x * x + b)) / 2


def gelu(x, approximate=False):
    return F.gelu(x, approximate="tanh" if approximate else "none")


def glu(x, axis=-1):
    return F.glu(x, dim=axis)


def tanh(x):
    return torch.tanh(x)


def tanh_shrink(x):
    return F.tanhshrink(x)


def hard_tanh(x):
    return F.hardtanh(x, -1.0, 1.0)


def threshold(x, threshold, default_value):
    return F.threshold(x, threshold, default_value)


def sigmoid(x):
    return torch.sigmoid(x)


def sparse_sigmoid(x):
    return torch.clamp(0.5 * (x + 1), 0.0, 1.0)


def exponential(x):
    return torch.exp(x)


def hard_sigmoid(x):
    return F.hardsigmoid(x)


def hard_silu(x):
    return F.hardswish(x)


def log_sigmoid(x):
    return F.logsigmoid(x)


def linear(x):
    return x


def mish(x):
    return x * torch.tanh(F.softplus(x))


def sparsemax(x, axis=-1):
    """Euclidean projection onto the probability simplex along ``axis``."""
    z = x.movedim(axis, -1)
    z_sorted, _ = torch.sort(z, dim=-1, descending=True)
    cumsum = torch.cumsum(z_sorted, dim=-1)
    k = torch.arange(1, z.shape[-1] + 1, device=z.device, dtype=z.dtype)
    support = z_sorted - (cumsum - 1) / k > 0
    count = support.sum(dim=-1, keepdim=True)
    tau = (torch.where(support, cumsum, torch.zeros_like(cumsum)).sum(-1, keepdim=True) - 1) / count
    return torch.clamp(z - tau, min=0.0).movedim(-1, axis)


swish = silu
hard_swish = hard_silu

ALL_OBJECTS = {fn.__name__: fn for fn in (
    celu, elu, exponential, gelu, glu, hard_shrink, hard_sigmoid, hard_silu, hard_tanh,
    leaky_relu, linear, log_sigmoid, log_softmax, mish, relu, relu6, selu, sigmoid, silu,
    soft_shrink, softmax, softplus, softsign, sparse_plus, sparse_sigmoid, sparsemax,
    squareplus, tanh, tanh_shrink, threshold)}
ALL_OBJECTS.update({"swish": silu, "hard_swish": hard_silu})
_NAMES = {fn: name for name, fn in ALL_OBJECTS.items() if name == fn.__name__}
_ALONG_AXIS = {glu, log_softmax, softmax, sparsemax}


def is_elementwise(activation):
    """Whether ``activation`` is a built-in acting on each value alone (not along an axis,
    as softmax does): such a function gives the same values on any layout of a tensor."""
    return activation in _NAMES and activation not in _ALONG_AXIS


def names():
    """Every accepted activation name."""
    return sorted(ALL_OBJECTS)


def get(identifier):
    """An activation function from None (linear), a Keras name or a callable."""
    if identifier is None:
        return linear
    if isinstance(identifier, str):
        try:
            return ALL_OBJECTS[identifier]
        except KeyError:
            raise invalid_value("activation", f"one of {tuple(names())}", identifier) from None
    if isinstance(identifier, dict) and "config" in identifier:
        return get(identifier["config"])
    if callable(identifier):
        return identifier
    raise invalid_type("activation", "None, an activation name or a callable", identifier)


def serialize(activation):
    """The Keras name of a built-in activation, else the callable's ``__name__``."""
    return _NAMES.get(activation, getattr(activation, "__name__", repr(activation)))
