"""What Keras's image preprocessing layers share: images of rank 3 (one image) or 4 (a
batch) in either data format, Keras's ``factor`` arguments, a ``seed``, and random
transformations that act only in training.

A random layer draws the parameters of a whole batch at once (:meth:`sample`) and applies
them in one batched pass on the batch's device (:meth:`apply`); outside training (``eval()``
mode: ``evaluate``, ``predict``) it returns its input unchanged. Integer images become
float32 first, as Keras casts them to the layer's compute dtype.
"""

import numbers

import torch

from kconv import config
from kconv.layers.layer import Layer
from kconv.random import SeededGenerators
from kconv.validation import invalid_value


def check_factor(name, factor, bounds=(-1.0, 1.0), open_low=False):
    """Keras's ``factor``: a number ``f`` gives ``(-f, f)`` (clipped to ``bounds``), a pair
    gives its sorted values; either must lie within ``bounds``."""
    low, high = bounds
    allowed = (f"a number or a pair of numbers in {'(' if open_low else '['}{low:g}, {high:g}]")

    def inside(v):
        return isinstance(v, numbers.Real) and not isinstance(v, bool) and \
            (v > low if open_low else v >= low) and v <= high
    if isinstance(factor, (tuple, list)):
        if len(factor) != 2 or not all(inside(v) for v in factor):
            raise invalid_value(name, allowed, factor)
        return tuple(sorted(float(v) for v in factor))
    if not inside(factor):
        raise invalid_value(name, allowed, factor)
    f = abs(float(factor))
    return max(-f, low), f


def fix_index(index, size, fill_mode):
    """Integer pixel indices outside ``[0, size)`` moved in as Keras's ``fill_mode`` reads
    them: ``'reflect'`` d c b a | a b c d | d c b a (NumPy's ``pad(mode="symmetric")``),
    ``'mirror'`` d c b | a b c d | c b a, ``'wrap'``, or the nearest edge (``'nearest'``,
    and ``'constant'``, whose outside reads are masked by the caller)."""
    if fill_mode == "wrap":
        return index % size
    if fill_mode == "reflect":
        period = 2 * size
        index = index % period
        return torch.where(index >= size, period - 1 - index, index)
    if fill_mode == "mirror" and size > 1:
        return (index + size - 1).remainder(2 * size - 2).sub(size - 1).abs()
    return index.clamp(0, size - 1)


def check_value_range(value_range):
    if not (isinstance(value_range, (tuple, list)) and len(value_range) == 2 and all(
            isinstance(v, numbers.Real) and not isinstance(v, bool) for v in value_range)):
        raise invalid_value("value_range", "a pair of numbers (low, high)", value_range)
    return sorted(value_range)


class ImagePreprocessingLayer(Layer):
    """Base class: subclasses implement ``sample(n, height, width, device)`` (a dict of
    per-sample tensors, or anything :meth:`apply` takes) and ``apply(images, params)`` on
    channels-first batches; deterministic layers override :meth:`transform` instead."""

    config_keys = ("seed",)  # the arguments Keras writes into the config, with data_format

    def __init__(self, data_format=None, seed=None, *, input_shape=None, name=None, trainable=True):
        super().__init__(input_shape=input_shape, name=name, trainable=trainable)
        self.data_format = config.standardize_data_format(data_format)
        self.seed = seed
        self._rng = SeededGenerators(seed)

    def _check_shape(self, shape):
        if not isinstance(shape, list) and len(shape) not in (3, 4):
            raise self._incompatible(f"expected an image (rank 3) or a batch of images "
                                     f"(rank 4); received shape {shape}")
        super()._check_shape(shape)

    def _generator(self, device):
        return self._rng.get(device)

    def uniform(self, shape, low, high, device):
        """Uniform draws in ``[low, high)`` from this layer's generator, float32."""
        u = torch.rand(shape, generator=self._generator(device), device=device)
        return low + (high - low) * u

    def beta(self, n, alpha, device):
        """``n`` draws from Beta(alpha, alpha), from this layer's generator when seeded."""
        concentration = torch.full((n,), float(alpha))
        return self._draw(torch.distributions.Beta(concentration, concentration), device)

    def dirichlet(self, n, alpha, device):
        """One draw from the symmetric Dirichlet(alpha) over ``n`` weights (Keras's:
        Gamma(alpha) draws divided by their sum)."""
        gamma = self._draw(torch.distributions.Gamma(torch.full((n,), float(alpha)), 1.0),
                           device)
        return gamma / gamma.sum()

    def _draw(self, distribution, device):
        """``distribution.sample()`` (torch's samplers take no generator): from this layer's
        generator when seeded, through a forked global generator."""
        generator = self._generator("cpu")
        if generator is None:
            return distribution.sample().to(device)
        seed = int(torch.randint(2 ** 62, (), generator=generator))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return distribution.sample().to(device)

    def permutation(self, n, device):
        return torch.randperm(n, generator=self._generator("cpu")).to(device)

    def call(self, x):
        if not (x.is_floating_point() or x.is_complex()):
            x = x.float()
        single = x.ndim == 3
        images = x.unsqueeze(0) if single else x
        images = config.to_channels_first(images, self.data_format)
        out = self.transform(images)
        out = config.from_channels_first(out, self.data_format)
        return out.squeeze(0) if single else out

    def transform(self, images):
        """The layer's action on a channels-first batch: random only in training."""
        if not self.training:
            return images
        n, _, height, width = images.shape
        return self.apply(images, self.sample(n, height, width, images.device))

    def sample(self, n, height, width, device):
        raise NotImplementedError

    def apply(self, images, params):
        raise NotImplementedError

    def get_config(self):
        config_ = {**super().get_config(), "data_format": self.data_format}
        config_.update({key: getattr(self, key) for key in self.config_keys})
        return config_


class FactorLayer(ImagePreprocessingLayer):
    """A layer of Keras's ``(factor, value_range=(0, 255), data_format=None, seed=None)``
    signature; ``bounds`` is where ``factor`` may lie."""

    config_keys = ("factor", "value_range", "seed")
    bounds = (-1.0, 1.0)

    def __init__(self, factor, value_range=(0, 255), data_format=None, seed=None, *,
                 input_shape=None, name=None, trainable=True):
        super().__init__(data_format, seed, input_shape=input_shape, name=name,
                         trainable=trainable)
        self.factor = check_factor("factor", factor, self.bounds)
        self.value_range = check_value_range(value_range)
