"""Layers without weights: ``Activation``, ``Identity``, the dropout and noise layers,
``ActivityRegularization``, ``Flatten`` and ``Rescaling``; this is also Keras 2's
``keras.layers.core`` import path, so ``Dense`` and ``Input`` are importable from here."""

import math

import torch
import torch.nn.functional as F

from kconv import activations, config, initializers, regularizers
from kconv.layers.dense import Dense  # noqa: F401  (Keras 2's keras.layers.core.Dense)
from kconv.layers.input_layer import Input, InputLayer  # noqa: F401
from kconv.layers.layer import Layer
from kconv.random import SeededGenerators
from kconv.validation import check_float, invalid_value, is_int


class Activation(Layer):
    """Applies an activation function by Keras name (case-sensitive) or callable.

    Example:
        >>> Activation("relu")(torch.tensor([-1.0, 2.0]))
        tensor([0., 2.])
    """

    def __init__(self, activation, *, input_shape=None, name=None, trainable=True):
        super().__init__(input_shape=input_shape, name=name, trainable=trainable)
        self.activation = activations.get(activation)

    def pre_activation(self, x):
        return x

    def call(self, x):
        return self.activation(x)

    def channels_first_output(self, shapes):
        return True if activations.is_elementwise(self.activation) else None

    call_channels_first = call

    def get_config(self):
        return {**super().get_config(), "activation": activations.serialize(self.activation)}


class Identity(Layer):
    """Returns its input: a placeholder where a model needs a layer that does nothing."""

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def call(self, x):
        return x


class ActivityRegularization(Layer):
    """Returns its input and adds ``l1 * sum|x| + l2 * sum(x**2)``, divided by the batch
    size, to the model's loss (Keras's activity penalty)."""

    def __init__(self, l1=0.0, l2=0.0, *, input_shape=None, name=None, trainable=True):
        self.l1 = check_float("l1", l1, minimum=0.0)
        self.l2 = check_float("l2", l2, minimum=0.0)
        super().__init__(activity_regularizer=regularizers.L1L2(l1=self.l1, l2=self.l2),
                         input_shape=input_shape, name=name, trainable=trainable)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def call(self, x):
        return x

    def get_config(self):
        return {**super().get_config(), "l1": self.l1, "l2": self.l2}


class Dropout(Layer):
    """Inverted dropout active in ``train()`` mode: kept units are scaled by 1 / (1 - rate).

    Args:
        rate: fraction of units to drop, in [0, 1].
        noise_shape: optional mask shape broadcast over the input (None entries take the
            input's size), e.g. ``(None, 1, 1, None)`` drops whole channels.
        seed: optional int; a seeded layer draws its masks from its own generator.
    """

    def __init__(self, rate, noise_shape=None, seed=None, *, input_shape=None, name=None,
                 trainable=True):
        super().__init__(input_shape=input_shape, name=name, trainable=trainable)
        self.rate = check_float("rate", rate, minimum=0.0, maximum=1.0)
        if noise_shape is not None and not (
                isinstance(noise_shape, (tuple, list))
                and all(d is None or is_int(d) for d in noise_shape)):
            raise invalid_value("noise_shape", "None or a tuple of ints or None", noise_shape)
        self.noise_shape = None if noise_shape is None else tuple(noise_shape)
        self._rng = SeededGenerators(seed)
        self.seed = seed

    def call(self, x):
        if not self.training or self.rate == 0.0:
            return x
        if self.rate == 1.0:
            return torch.zeros_like(x)
        shape = self._mask_shape(x)
        generator = self._rng.get(x.device)
        if x.device.type == "cpu" and not torch.compiler.is_compiling():
            return x * _keep_scale(shape, self.rate, x.dtype, generator)
        if generator is None and self.noise_shape is None:
            return F.dropout(x, self.rate, True)
        keep = torch.empty(shape, device=x.device, dtype=x.dtype).bernoulli_(
            1.0 - self.rate, generator=generator)
        return x * keep / (1.0 - self.rate)

    def _mask_shape(self, x):
        if self.noise_shape is None:
            return x.shape
        return tuple(s if n is None else n for n, s in zip(self.noise_shape, x.shape))

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "noise_shape": self.noise_shape,
                "seed": self.seed}


class StochasticDepth(Dropout):
    """Drop path, the Keras-internal layer of Keras Applications' ConvNeXt (so its files
    open): in training, each sample's residual branch is dropped with probability
    ``drop_path_rate`` and the kept ones are scaled by 1 / (1 - drop_path_rate)."""

    def __init__(self, drop_path_rate, *, input_shape=None, name=None, trainable=True):
        super().__init__(drop_path_rate, input_shape=input_shape, name=name,
                         trainable=trainable)
        self.drop_path_rate = self.rate

    def _mask_shape(self, x):
        return (x.shape[0],) + (1,) * (x.ndim - 1)

    def get_config(self):
        return {**Layer.get_config(self), "drop_path_rate": self.drop_path_rate}


class LayerScale(Layer):
    """``x * gamma``, one learned scale per channel (last axis) starting at
    ``init_values``: the Keras-internal layer of Keras Applications' ConvNeXt."""

    def __init__(self, init_values, projection_dim, *, input_shape=None, name=None,
                 trainable=True):
        super().__init__(input_shape=input_shape, name=name, trainable=trainable)
        self.init_values = check_float("init_values", init_values)
        if not is_int(projection_dim) or projection_dim < 1:
            raise invalid_value("projection_dim", "a positive int", projection_dim)
        self.projection_dim = int(projection_dim)
        self.gamma = None

    def build(self, input_shape):
        if input_shape[-1] is not None and input_shape[-1] != self.projection_dim:
            raise self._error(f"LayerScale of projection_dim {self.projection_dim} received "
                              f"inputs of shape {tuple(input_shape)}")
        self.add_weight("gamma", (self.projection_dim,),
                        initializers.Constant(self.init_values))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def call(self, x):
        return x * self.gamma

    def get_config(self):
        return {**super().get_config(), "init_values": self.init_values,
                "projection_dim": self.projection_dim}


class _SpatialDropout(Dropout):
    """Dropout of whole feature maps: one draw per sample and channel, as Keras's
    SpatialDropout (adjacent pixels are correlated, so single pixels say little)."""

    rank = 2

    def __init__(self, rate, data_format=None, seed=None, *, input_shape=None, name=None,
                 trainable=True):
        super().__init__(rate, seed=seed, input_shape=input_shape, name=name,
                         trainable=trainable)
        self.data_format = "channels_last" if self.rank == 1 else \
            config.standardize_data_format(data_format)
        ones = (1,) * self.rank
        self.noise_shape = (None,) + ones + (None,) if self.data_format == "channels_last" \
            else (None, None) + ones

    @property
    def input_ndim(self):
        return self.rank + 2

    def get_config(self):
        # Keras's SpatialDropout takes no `trainable` (its config has none).
        config_ = {"name": self.name, "rate": self.rate, "seed": self.seed}
        if self.rank > 1:
            config_["data_format"] = self.data_format
        return config_


class SpatialDropout1D(_SpatialDropout):
    """Drops whole channels of (N, steps, C)."""

    rank = 1

    def __init__(self, rate, seed=None, *, input_shape=None, name=None, trainable=True):
        super().__init__(rate, None, seed, input_shape=input_shape, name=name,
                         trainable=trainable)


class SpatialDropout2D(_SpatialDropout):
    """Drops whole feature maps of images."""

    rank = 2


class SpatialDropout3D(_SpatialDropout):
    """Drops whole feature maps of volumes."""

    rank = 3


class GaussianNoise(Layer):
    """Adds N(0, ``stddev``) noise in ``train()`` mode (a regularizer); identity otherwise.
    """

    def __init__(self, stddev, seed=None, *, input_shape=None, name=None, trainable=True):
        super().__init__(input_shape=input_shape, name=name, trainable=trainable)
        self.stddev = check_float("stddev", stddev, minimum=0.0)
        self._rng = SeededGenerators(seed)
        self.seed = seed

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def call(self, x):
        if not self.training or self.stddev == 0.0:
            return x
        noise = torch.empty_like(x).normal_(0.0, self.stddev, generator=self._rng.get(x.device))
        return x + noise

    def get_config(self):
        return {**super().get_config(), "stddev": self.stddev, "seed": self.seed}


class GaussianDropout(Layer):
    """Multiplies by N(1, rate / (1 - rate)) noise in ``train()`` mode; identity otherwise.

    Args:
        rate: the drop probability it stands for, in [0, 1].
        seed: optional int; a seeded layer draws from its own generator.
    """

    def __init__(self, rate, seed=None, *, input_shape=None, name=None, trainable=True):
        super().__init__(input_shape=input_shape, name=name, trainable=trainable)
        self.rate = check_float("rate", rate, minimum=0.0, maximum=1.0)
        self._rng = SeededGenerators(seed)
        self.seed = seed

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def call(self, x):
        if not self.training or self.rate == 0.0:
            return x
        stddev = math.sqrt(self.rate / (1.0 - self.rate)) if self.rate < 1 else math.inf
        return x * torch.empty_like(x).normal_(1.0, stddev, generator=self._rng.get(x.device))

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


class AlphaDropout(Dropout):
    """Dropout for SELU networks in ``train()`` mode: dropped units take SELU's negative
    saturation value and an affine map keeps the mean and variance (Keras's formula)."""

    _ALPHA_P = -1.6732632423543772848170429916717 * 1.0507009873554804934193349852946

    def call(self, x):
        if not self.training or self.rate == 0.0:
            return x
        uniform = torch.empty(self._mask_shape(x), device=x.device, dtype=x.dtype).uniform_(
            generator=self._rng.get(x.device))
        kept = (uniform >= self.rate).to(x.dtype)
        alpha_p, rate = self._ALPHA_P, self.rate
        a = ((1 - rate) * (1 + rate * alpha_p ** 2)) ** -0.5 if rate < 1 else math.inf
        b = -a * alpha_p * rate
        return a * (x * kept + alpha_p * (1 - kept)) + b


def _keep_scale(shape, rate, dtype, generator):
    """A CPU dropout mask, 1 / (1 - rate) where a unit is kept and 0 where it is dropped:
    each unit drops when its uniform 32-bit integer falls below ``rate * 2**32``. Random
    64-bit words give two such integers each, 4x faster than ``bernoulli_`` on CPU
    (benchmarks/README.md)."""
    n = math.prod(shape)
    words = torch.empty((n + 1) // 2, dtype=torch.int64).random_(
        -2 ** 63, None, generator=generator).view(torch.int32)[:n].view(shape)
    threshold = min(round(rate * 2 ** 32) - 2 ** 31, 2 ** 31 - 1)
    return torch.where(words >= threshold, torch.tensor(1.0 / (1.0 - rate), dtype=dtype), 0.0)


class Flatten(Layer):
    """Flattens all but the batch axis in (H, W, C) order, in both data formats (Keras)."""

    min_ndim = 1

    def __init__(self, data_format=None, *, input_shape=None, name=None, trainable=True):
        super().__init__(input_shape=input_shape, name=name, trainable=trainable)
        self.data_format = config.standardize_data_format(data_format)

    def compute_output_shape(self, input_shape):
        rest = input_shape[1:]
        size = None if any(d is None for d in rest) else math.prod(rest)
        return (input_shape[0], size)

    def call(self, x):
        if self.data_format == "channels_first" and x.ndim > 2:
            x = x.movedim(1, -1)  # (H, W, C) order; free when x is channels_last in memory
        return x.flatten(1) if x.ndim > 1 else x.unsqueeze(1)

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format}


def _number_or_numbers(name, value):
    """A number, or a non-empty list of numbers (per channel), as floats."""
    if isinstance(value, (list, tuple)) and value:
        return [check_float(name, v) for v in value]
    return check_float(name, value)


class Rescaling(Layer):
    """``x * scale + offset`` (e.g. ``Rescaling(1 / 255)`` for images); integer inputs
    become float32 first, as Keras casts them. ``scale`` and ``offset`` are numbers or, as
    in Keras, per-channel lists (on the last axis; on axis 1 when Keras's global data format
    is channels_first)."""

    def __init__(self, scale, offset=0.0, *, input_shape=None, name=None, trainable=True):
        super().__init__(input_shape=input_shape, name=name, trainable=trainable)
        self.scale = _number_or_numbers("scale", scale)
        self.offset = _number_or_numbers("offset", offset)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def _as_factor(self, value, x):
        if not isinstance(value, list):
            return value
        factor = torch.tensor(value, dtype=x.dtype, device=x.device)
        if config.image_data_format() == "channels_first":  # Keras's (C, 1, 1)
            factor = factor.reshape(-1, 1, 1)
        return factor

    def call(self, x):
        if not x.is_floating_point():
            x = x.float()
        return x * self._as_factor(self.scale, x) + self._as_factor(self.offset, x)

    def get_config(self):
        return {**super().get_config(), "scale": self.scale, "offset": self.offset}
