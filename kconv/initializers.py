"""Keras 3 initializers. Called on a Keras-layout shape they return a float32 tensor.

Layers call them on the Keras shape of a weight (HWIO for a conv kernel, (in, out) for a
Dense kernel) and transpose the result into torch's layout, so fans and orthogonal axes
mean what they mean in Keras. An int ``seed`` gives the same values on every call; with
``seed=None`` the global torch RNG is used (``torch.manual_seed`` controls it).
"""

import math

import torch

from kconv.naming import to_snake_case
from kconv.serialization import Configurable, Resolver
from kconv.validation import check_choice, check_float, invalid_value, is_int

# Keras divides by the std of a unit normal truncated to [-2, 2] to keep the variance.
_TRUNCATED_STD = 0.87962566103423978


def compute_fans(shape, input_axes=None, output_axes=None):
    """``(fan_in, fan_out)`` of a Keras-layout weight shape, as Keras computes them."""
    shape = tuple(shape)
    if input_axes is not None and output_axes is not None:
        return math.prod(shape[a] for a in input_axes), math.prod(shape[a] for a in output_axes)
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive = math.prod(shape[:-2])
    return shape[-2] * receptive, shape[-1] * receptive


class Initializer(Configurable):
    """Base class: ``init(shape, dtype=None)`` returns a new tensor of that shape."""

    _keras_module = "keras.initializers"

    def __call__(self, shape, dtype=None):
        raise NotImplementedError


class Zeros(Initializer):
    """All zeros."""

    def __call__(self, shape, dtype=None):
        return torch.zeros(tuple(shape), dtype=dtype or torch.float32)


class Ones(Initializer):
    """All ones."""

    def __call__(self, shape, dtype=None):
        return torch.ones(tuple(shape), dtype=dtype or torch.float32)


class Constant(Initializer):
    """All equal to ``value``."""

    def __init__(self, value=0.0):
        self.value = check_float("value", value)

    def __call__(self, shape, dtype=None):
        return torch.full(tuple(shape), self.value, dtype=dtype or torch.float32)

    def get_config(self):
        return {"value": self.value}


class RandomInitializer(Initializer):
    """Base of seeded initializers."""

    def __init__(self, seed=None):
        if seed is not None and not is_int(seed):
            raise invalid_value("seed", "None or an int", seed)
        self.seed = seed

    def _generator(self):
        return None if self.seed is None else torch.Generator().manual_seed(self.seed)

    def get_config(self):
        return {"seed": self.seed}


def _normal(shape, mean, stddev, generator):
    return torch.randn(tuple(shape), generator=generator) * stddev + mean


def _truncated_normal(shape, mean, stddev, generator):
    # A unit normal truncated to (-2, 2), then scaled: the Keras definition.
    out = torch.empty(tuple(shape))
    torch.nn.init.trunc_normal_(out, 0.0, 1.0, -2.0, 2.0, generator=generator)
    return out * stddev + mean


def _uniform(shape, low, high, generator):
    return torch.rand(tuple(shape), generator=generator) * (high - low) + low


class RandomNormal(RandomInitializer):
    """Normal distribution N(mean, stddev); Keras defaults mean 0, stddev 0.05."""

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        super().__init__(seed)
        self.mean = check_float("mean", mean)
        self.stddev = check_float("stddev", stddev, minimum=0.0)

    def __call__(self, shape, dtype=None):
        return _normal(shape, self.mean, self.stddev, self._generator()).to(dtype or torch.float32)

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed}


class TruncatedNormal(RandomNormal):
    """Normal distribution truncated to two standard deviations around the mean."""

    def __call__(self, shape, dtype=None):
        out = _truncated_normal(shape, self.mean, self.stddev, self._generator())
        return out.to(dtype or torch.float32)


class RandomUniform(RandomInitializer):
    """Uniform distribution on [minval, maxval); Keras defaults ±0.05."""

    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        super().__init__(seed)
        self.minval = check_float("minval", minval)
        self.maxval = check_float("maxval", maxval)

    def __call__(self, shape, dtype=None):
        out = _uniform(shape, self.minval, self.maxval, self._generator())
        return out.to(dtype or torch.float32)

    def get_config(self):
        return {"minval": self.minval, "maxval": self.maxval, "seed": self.seed}


class VarianceScaling(RandomInitializer):
    """Samples scaled to the weight's fans (the family behind glorot, he and lecun).

    Args:
        scale: positive scaling factor.
        mode: 'fan_in', 'fan_out' or 'fan_avg'.
        distribution: 'truncated_normal' ('normal' is an alias), 'untruncated_normal' or
            'uniform'.
        seed: None or an int.
        input_axes, output_axes: optional axes of the Keras shape that make up the fans.

    Example:
        >>> w = VarianceScaling(2.0, "fan_in", "uniform", seed=0)((3, 3, 16, 32))
    """

    _DISTRIBUTIONS = ("truncated_normal", "untruncated_normal", "uniform")

    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None,
                 input_axes=None, output_axes=None):
        super().__init__(seed)
        self.scale = check_float("scale", scale, minimum=0.0, strict_minimum=True)
        self.mode = check_choice("mode", mode, ("fan_in", "fan_out", "fan_avg"))
        if isinstance(distribution, str) and distribution.lower() == "normal":
            distribution = "truncated_normal"
        self.distribution = check_choice("distribution", distribution, self._DISTRIBUTIONS,
                                         lower=True)
        self.input_axes = None if input_axes is None else list(input_axes)
        self.output_axes = None if output_axes is None else list(output_axes)

    def __call__(self, shape, dtype=None):
        fan_in, fan_out = compute_fans(shape, self.input_axes, self.output_axes)
        fan = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[self.mode]
        scale = self.scale / max(1.0, fan)
        gen = self._generator()
        if self.distribution == "truncated_normal":
            out = _truncated_normal(shape, 0.0, math.sqrt(scale) / _TRUNCATED_STD, gen)
        elif self.distribution == "untruncated_normal":
            out = _normal(shape, 0.0, math.sqrt(scale), gen)
        else:
            limit = math.sqrt(3.0 * scale)
            out = _uniform(shape, -limit, limit, gen)
        return out.to(dtype or torch.float32)

    def get_config(self):
        return {"scale": self.scale, "mode": self.mode, "distribution": self.distribution,
                "seed": self.seed, "input_axes": self.input_axes,
                "output_axes": self.output_axes}


def _preset(cls_name, scale, mode, distribution, doc):
    def __init__(self, seed=None, input_axes=None, output_axes=None):
        VarianceScaling.__init__(self, scale, mode, distribution, seed, input_axes, output_axes)

    def get_config(self):
        return {"seed": self.seed, "input_axes": self.input_axes, "output_axes": self.output_axes}

    return type(cls_name, (VarianceScaling,), {"__init__": __init__, "get_config": get_config,
                                               "__doc__": doc, "__module__": __name__})


GlorotUniform = _preset("GlorotUniform", 1.0, "fan_avg", "uniform",
                        "Uniform within ±sqrt(6 / (fan_in + fan_out)); the Keras default.")
GlorotNormal = _preset("GlorotNormal", 1.0, "fan_avg", "truncated_normal",
                       "Truncated normal with stddev sqrt(2 / (fan_in + fan_out)).")
HeUniform = _preset("HeUniform", 2.0, "fan_in", "uniform", "Uniform within ±sqrt(6 / fan_in).")
HeNormal = _preset("HeNormal", 2.0, "fan_in", "truncated_normal",
                   "Truncated normal with stddev sqrt(2 / fan_in) (MSRA).")
LecunUniform = _preset("LecunUniform", 1.0, "fan_in", "uniform",
                       "Uniform within ±sqrt(3 / fan_in).")
LecunNormal = _preset("LecunNormal", 1.0, "fan_in", "truncated_normal",
                      "Truncated normal with stddev sqrt(1 / fan_in).")


class Orthogonal(RandomInitializer):
    """An orthogonal matrix from the QR decomposition of a normal sample, times ``gain``.

    A shape of rank > 2 is treated as a ``(prod(shape[:-1]), shape[-1])`` matrix, so the
    filters of a Keras HWIO kernel are orthonormal.
    """

    def __init__(self, gain=1.0, seed=None):
        super().__init__(seed)
        self.gain = check_float("gain", gain)

    def __call__(self, shape, dtype=None):
        shape = tuple(shape)
        if len(shape) < 2:
            raise invalid_value("shape", "a shape of rank >= 2 for Orthogonal", shape)
        rows, cols = math.prod(shape[:-1]), shape[-1]
        flat = _normal((max(rows, cols), min(rows, cols)), 0.0, 1.0, self._generator())
        q, r = torch.linalg.qr(flat.double())
        q = q * torch.sign(torch.diagonal(r))
        if rows < cols:
            q = q.T
        return (self.gain * q.reshape(shape)).to(dtype or torch.float32)

    def get_config(self):
        return {"gain": self.gain, "seed": self.seed}


class Identity(Initializer):
    """``gain`` times the identity matrix; 2-D shapes only."""

    def __init__(self, gain=1.0):
        self.gain = check_float("gain", gain)

    def __call__(self, shape, dtype=None):
        shape = tuple(shape)
        if len(shape) != 2:
            raise invalid_value("shape", "a 2-D shape for Identity", shape)
        return self.gain * torch.eye(*shape, dtype=dtype or torch.float32)

    def get_config(self):
        return {"gain": self.gain}


_CLASSES = (Zeros, Ones, Constant, RandomNormal, RandomUniform, TruncatedNormal,
            VarianceScaling, GlorotUniform, GlorotNormal, HeUniform, HeNormal, LecunUniform,
            LecunNormal, Orthogonal, Identity)
ALL_OBJECTS = {c.__name__: c for c in _CLASSES}
ALL_OBJECTS.update({to_snake_case(c.__name__): c for c in _CLASSES})
ALL_OBJECTS.update({"normal": RandomNormal, "uniform": RandomUniform, "one": Ones,
                    "zero": Zeros, "IdentityInitializer": Identity,
                    "OrthogonalInitializer": Orthogonal})

# Keras's lower-case function-style aliases.
zeros, ones, constant = Zeros, Ones, Constant
random_normal, random_uniform, truncated_normal = RandomNormal, RandomUniform, TruncatedNormal
variance_scaling, orthogonal, identity = VarianceScaling, Orthogonal, Identity
glorot_uniform, glorot_normal = GlorotUniform, GlorotNormal
he_uniform, he_normal, lecun_uniform, lecun_normal = HeUniform, HeNormal, LecunUniform, LecunNormal

_resolver = Resolver("initializer", Initializer, ALL_OBJECTS)


def get(identifier):
    """An initializer from None, a Keras name, a config dict, a class or an instance."""
    return _resolver.get(identifier)


def names():
    """Every accepted string identifier."""
    return _resolver.names()
