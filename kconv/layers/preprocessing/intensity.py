"""Keras's intensity layers: ``RandomContrast``, ``RandomBrightness``, ``RandomInvert``,
``Solarization``, ``RandomPosterization``, ``RandomSharpness``, ``RandomGaussianBlur`` (one
draw per image), ``AutoContrast`` and ``Equalization``; ``value_range`` is the images' range
of values."""

import torch
import torch.nn.functional as F

from kconv.layers.preprocessing.base import (FactorLayer, ImagePreprocessingLayer,
                                             check_factor, check_value_range, fix_index)
from kconv.validation import check_float, check_int, int_tuple, invalid_value


class _IntensityLayer(FactorLayer):
    """A FactorLayer with Keras's other argument order: ``(factor, value_range, seed,
    data_format)``."""

    def __init__(self, factor, value_range=(0, 255), seed=None, data_format=None, *,
                 input_shape=None, name=None, trainable=True):
        super().__init__(factor, value_range, data_format, seed, input_shape=input_shape,
                         name=name, trainable=trainable)

    def _clip(self, images):
        return images.clamp(self.value_range[0], self.value_range[1])


class RandomContrast(_IntensityLayer):
    """Scales each image's deviation from its per-channel mean by a factor drawn uniformly
    from ``[1 - lower, 1 + upper]``, ``factor`` giving ``(lower, upper)`` in [0, 1] (as
    Keras 3 reads it, a number f gives (0, f): contrast is only ever raised)."""

    bounds = (0.0, 1.0)

    def sample(self, n, height, width, device):
        return {"contrast_factor": self.uniform((n,), 1.0 - self.factor[0],
                                                1.0 + self.factor[1], device)}

    def apply(self, images, params):
        mean = images.mean(dim=(2, 3), keepdim=True)
        factor = params["contrast_factor"].view(-1, 1, 1, 1).to(images.dtype)
        return self._clip((images - mean) * factor + mean)


class RandomBrightness(_IntensityLayer):
    """Adds to each image a constant drawn uniformly from ``factor`` (a number f means
    (-f, f)) times the width of ``value_range``."""

    def sample(self, n, height, width, device):
        span = self.value_range[1] - self.value_range[0]
        return {"rgb_delta": self.uniform((n,), *self.factor, device) * span}

    def apply(self, images, params):
        return self._clip(images + params["rgb_delta"].view(-1, 1, 1, 1).to(images.dtype))


def to_range(images, source, target):
    """Values mapped linearly from ``source`` (low, high) to ``target`` (Keras's
    ``_transform_value_range``)."""
    if tuple(source) == tuple(target):
        return images
    return (images - source[0]) / (source[1] - source[0]) * (target[1] - target[0]) \
        + target[0]


class RandomInvert(_IntensityLayer):
    """Replaces each image by ``value_range[1] - image`` with a probability drawn uniformly
    from ``factor`` (a number f means (0, f))."""

    bounds = (0.0, 1.0)

    def __init__(self, factor=1.0, value_range=(0, 255), seed=None, data_format=None, *,
                 input_shape=None, name=None, trainable=True):
        super().__init__(factor, value_range, seed, data_format, input_shape=input_shape,
                         name=name, trainable=trainable)

    def sample(self, n, height, width, device):
        probability = self.uniform((n,), *self.factor, device)
        return {"apply_inversion": self.uniform((n,), 0.0, 1.0, device) < probability}

    def apply(self, images, params):
        return torch.where(params["apply_inversion"].view(-1, 1, 1, 1),
                           self.value_range[1] - images, images)


class Solarization(ImagePreprocessingLayer):
    """Adds a constant drawn from ``addition_factor`` (times 255 at its top) to each image
    on a 0-255 scale, then inverts the pixels at or above a threshold drawn from
    ``threshold_factor`` (the same way), as Keras does; a number f means (0, f)."""

    config_keys = ("value_range", "addition_factor", "threshold_factor", "seed")

    def __init__(self, addition_factor=0.0, threshold_factor=0.0, value_range=(0, 255),
                 seed=None, data_format=None, *, input_shape=None, name=None,
                 trainable=True):
        super().__init__(data_format, seed, input_shape=input_shape, name=name,
                         trainable=trainable)
        self.addition_factor = check_factor("addition_factor", addition_factor, (0.0, 1.0))
        self.threshold_factor = check_factor("threshold_factor", threshold_factor,
                                             (0.0, 1.0))
        self.value_range = check_value_range(value_range)

    def sample(self, n, height, width, device):
        (a0, a1), (t0, t1) = self.addition_factor, self.threshold_factor
        return {"additions": self.uniform((n,), a0, a1 * 255, device),
                "thresholds": self.uniform((n,), t0, t1 * 255, device)}

    def apply(self, images, params):
        x = to_range(images, self.value_range, (0, 255))
        x = (x + params["additions"].view(-1, 1, 1, 1)).clamp(0, 255)
        x = torch.where(x < params["thresholds"].view(-1, 1, 1, 1), x, 255 - x)
        return to_range(x, (0, 255), self.value_range)


class RandomPosterization(FactorLayer):
    """Keeps, on a 0-255 scale, the top ``bits`` bits of each pixel, ``bits`` drawn per
    image from ``factor`` (a number f in [1, 8] means the integers 1 .. f - 1, as Keras
    draws them; a pair of equal numbers means that many bits)."""

    bounds = (1.0, 8.0)

    def __init__(self, factor, value_range=(0, 255), data_format=None, seed=None, *,
                 input_shape=None, name=None, trainable=True):
        super().__init__(factor, value_range, data_format, seed, input_shape=input_shape,
                         name=name, trainable=trainable)
        if any(b != int(b) for b in self.factor):
            raise invalid_value("factor", "an int or a pair of ints in [1, 8]", factor)
        self.factor = tuple(int(b) for b in self.factor)

    def sample(self, n, height, width, device):
        low, high = self.factor
        bits = torch.full((n,), low, device=device) if low == high else torch.randint(
            low, high, (n,), generator=self._generator(device), device=device)
        return {"shift_factor": 8 - bits}

    def apply(self, images, params):
        shift = params["shift_factor"].to(torch.uint8).view(-1, 1, 1, 1)
        x = to_range(images, self.value_range, (0, 255)).to(torch.uint8)
        x = torch.bitwise_left_shift(torch.bitwise_right_shift(x, shift), shift)
        return to_range(x.to(images.dtype), (0, 255), self.value_range)


class RandomSharpness(FactorLayer):
    """Blends each image with its 3x3 smoothing (zero-padded at the borders, as Keras) by
    ``1 - 2·f``, ``f`` drawn from ``factor`` (a number f means (0, f)): f below ½ blurs,
    above ½ sharpens."""

    bounds = (0.0, 1.0)

    def sample(self, n, height, width, device):
        return {"factor": self.uniform((n,), *self.factor, device)}

    def apply(self, images, params):
        channels = images.shape[1]
        a, b = 1.0 / 13.0, 5.0 / 13.0
        kernel = torch.tensor([[a, a, a], [a, b, a], [a, a, a]], dtype=images.dtype,
                              device=images.device).expand(channels, 1, 3, 3)
        smoothed = F.conv2d(images, kernel, padding=1, groups=channels)
        blend = 1.0 - 2 * params["factor"].view(-1, 1, 1, 1).to(images.dtype)
        return (images + blend * (smoothed - images)).clamp(*self.value_range)


class AutoContrast(ImagePreprocessingLayer):
    """Stretches each channel of each image to the full ``value_range`` (training and
    inference alike, as Keras); a constant channel is left as it is."""

    config_keys = ("value_range",)

    def __init__(self, value_range=(0, 255), data_format=None, *, input_shape=None, name=None,
                 trainable=True):
        super().__init__(data_format, None, input_shape=input_shape, name=name,
                         trainable=trainable)
        self.value_range = check_value_range(value_range)

    def transform(self, images):
        x = to_range(images, self.value_range, (0, 255))
        low, high = x.amin(dim=(2, 3), keepdim=True), x.amax(dim=(2, 3), keepdim=True)
        scale = 255.0 / (high - low)
        x = to_range((x * scale - low * scale).clamp(0, 255), (0, 255), self.value_range)
        return torch.where(torch.isnan(x), images, x)


def gaussian_blur(images, kernel_size, sigma):
    """Keras's ``gaussian_blur`` of a channels-first batch: a ``kernel_size`` (x, y) Gaussian
    of widths ``sigma`` (x, y), each channel on its own, zero padding."""
    (size_x, size_y), sigma = kernel_size, torch.as_tensor(sigma).to(images)

    def kernel1d(size, s):
        x = torch.arange(size, dtype=images.dtype, device=images.device) - (size - 1) / 2
        k = torch.exp(-0.5 * (x / s) ** 2)
        return k / k.sum()
    kernel = torch.outer(kernel1d(size_y, sigma[1]), kernel1d(size_x, sigma[0]))
    channels = images.shape[1]
    kernel = kernel.view(1, 1, size_x, size_y).expand(channels, 1, size_x, size_y)
    return F.conv2d(images, kernel, padding=size_x // 2, groups=channels)


class RandomGaussianBlur(ImagePreprocessingLayer):
    """Blurs each image with probability drawn from ``factor`` (a number f means (0, f)),
    with a ``kernel_size`` Gaussian (odd sizes, zero padding) whose (x, y) widths are drawn
    once per batch from ``sigma`` (a number s in [0, 1] means (0, s)), as Keras."""

    config_keys = ("factor", "kernel_size", "sigma", "value_range", "seed")

    def __init__(self, factor=1.0, kernel_size=3, sigma=1.0, value_range=(0, 255),
                 data_format=None, seed=None, *, input_shape=None, name=None,
                 trainable=True):
        super().__init__(data_format, seed, input_shape=input_shape, name=name,
                         trainable=trainable)
        self.factor = check_factor("factor", factor, (0.0, 1.0))
        sizes = tuple(kernel_size) if isinstance(kernel_size, (tuple, list)) else \
            (kernel_size, kernel_size)
        if len(sizes) != 2 or not all(isinstance(k, int) and k > 0 and k % 2 for k in sizes):
            raise invalid_value("kernel_size", "an odd positive int or a pair of them",
                                kernel_size)
        self.kernel_size = sizes
        self.sigma = check_factor("sigma", sigma, (0.0, 1.0))
        self.value_range = check_value_range(value_range)

    def sample(self, n, height, width, device):
        probability = self.uniform((n,), *self.factor, device)
        return {"should_apply_blur": self.uniform((n,), 0.0, 1.0, device) < probability,
                "blur_factor": self.uniform((2,), *self.sigma, device) + 1e-6}

    def apply(self, images, params):
        blurred = gaussian_blur(images, self.kernel_size, params["blur_factor"])
        blurred = torch.where(params["should_apply_blur"].view(-1, 1, 1, 1), blurred, images)
        return blurred.clamp(*self.value_range)


class Equalization(ImagePreprocessingLayer):
    """Histogram equalization of each channel over the whole batch (as Keras computes it),
    with ``bins`` bins on a 0-255 scale; in training only, as Keras applies it."""

    config_keys = ("bins", "value_range")

    def __init__(self, value_range=(0, 255), bins=256, data_format=None, *,
                 input_shape=None, name=None, trainable=True):
        super().__init__(data_format, None, input_shape=input_shape, name=name,
                         trainable=trainable)
        self.bins = check_int("bins", bins, minimum=2)
        self.value_range = check_value_range(value_range)

    def transform(self, images):
        if not self.training:
            return images
        bins, channels = self.bins, images.shape[1]
        x = to_range(images, self.value_range, (0, 255)).transpose(0, 1).reshape(channels, -1)
        index = (x * (bins - 1) / 255).to(torch.int32).clamp(0, bins - 1).long()
        offsets = torch.arange(channels, device=x.device)[:, None] * bins
        hist = torch.bincount((index + offsets).reshape(-1), minlength=channels * bins)
        cdf = hist.reshape(channels, bins).cumsum(dim=1)
        cdf_min = torch.where(cdf > 0, cdf, cdf[:, -1:]).amin(dim=1, keepdim=True)
        denominator = cdf[:, -1:] - cdf_min
        denominator = torch.where(denominator == 0, torch.ones_like(denominator), denominator)
        table = torch.round((cdf - cdf_min) * 255 / denominator).clamp(0, 255).to(x.dtype)
        lookup = (x / 255.0 * (bins - 1)).clamp(0, bins - 1).to(torch.int32).long()
        equalized = table.gather(1, lookup)
        flat = (hist.reshape(channels, bins) > 0).sum(dim=1, keepdim=True) <= 1
        equalized = torch.where(flat, x, equalized)
        shape = (channels, images.shape[0]) + tuple(images.shape[2:])
        equalized = equalized.reshape(shape).transpose(0, 1)
        return to_range(equalized, (0, 255), self.value_range)


class ContrastLimitedAdaptiveHistogramEqualization(ImagePreprocessingLayer):
    """Keras's CLAHE: each channel is cut into a ``tile_grid_size`` (rows, columns) grid of
    tiles (the image extended symmetrically at the bottom and right to fill it), each
    tile's histogram is clipped at ``clip_limit`` times the mean count (the excess spread
    over all bins) and equalized, and every pixel reads its value through the four
    nearest tiles' mappings, blended bilinearly. Deterministic, so it also acts in
    inference, as Keras's.

    Deviation: Keras 3.15 on torch extends the image by repeating its edge, TensorFlow and
    NumPy symmetrically (``np.pad(mode="symmetric")``, which the layer's code asks for);
    kconv follows TensorFlow. Images whose size the grid divides are unaffected."""

    config_keys = ("value_range", "clip_limit", "tile_grid_size")

    def __init__(self, value_range=(0, 255), clip_limit=4.0, tile_grid_size=(8, 8),
                 data_format=None, *, input_shape=None, name=None, trainable=True):
        super().__init__(data_format, None, input_shape=input_shape, name=name,
                         trainable=trainable)
        self.value_range = check_value_range(value_range)
        self.clip_limit = check_float("clip_limit", clip_limit)
        self.tile_grid_size = int_tuple("tile_grid_size", tile_grid_size, 2)

    def transform(self, images):
        dtype = images.dtype
        x = to_range(images.float(), self.value_range, (0, 255))
        n, c, height, width = x.shape
        grid_h, grid_w = self.tile_grid_size
        tile_h, tile_w = -(-height // grid_h), -(-width // grid_w)
        rows = fix_index(torch.arange(tile_h * grid_h, device=x.device), height, "reflect")
        cols = fix_index(torch.arange(tile_w * grid_w, device=x.device), width, "reflect")
        x = x[:, :, rows][:, :, :, cols]
        tiles = x.reshape(n, c, grid_h, tile_h, grid_w, tile_w).permute(0, 1, 2, 4, 3, 5)
        tiles = tiles.reshape(n, c, grid_h, grid_w, tile_h * tile_w)
        levels = tiles.to(torch.int32).clamp(0, 255).long()
        hist = torch.zeros(n, c, grid_h, grid_w, 256, device=x.device).scatter_add_(
            -1, levels, torch.ones_like(tiles))
        if self.clip_limit > 0:
            clipped = hist.clamp(0, self.clip_limit * (tile_h * tile_w) / 256.0)
            hist = clipped + (hist - clipped).sum(-1, keepdim=True) / 256.0
        cdf = hist.cumsum(-1)
        cdf_min = cdf.amin(-1, keepdim=True)
        denominator = tile_h * tile_w - cdf_min
        denominator = torch.where(denominator == 0, torch.ones_like(denominator), denominator)
        table = ((cdf - cdf_min) * 255.0 / denominator).clamp(0, 255)
        table = torch.cat([table[:, :, :1], table, table[:, :, -1:]], dim=2)
        table = torch.cat([table[:, :, :, :1], table, table[:, :, :, -1:]], dim=3)

        def corners(size, tile, grid):
            position = (torch.arange(size, dtype=torch.float32, device=x.device)
                        - tile / 2.0) / tile + 1.0
            low = torch.floor(position)
            return (low.clamp(0, grid + 1).long(), (low + 1).clamp(0, grid + 1).long(),
                    position - low)
        y0, y1, wy = corners(tile_h * grid_h, tile_h, grid_h)
        x0, x1, wx = corners(tile_w * grid_w, tile_w, grid_w)
        pixels = x.clamp(0, 255).to(torch.int32).long().reshape(n, c, -1)
        flat = table.reshape(n, c, -1)

        def read(ys, xs):
            where = (ys[:, None] * (grid_w + 2) + xs[None, :]).reshape(1, 1, -1) * 256
            return flat.gather(2, where + pixels).reshape(x.shape)
        wy, wx = wy[:, None], wx[None, :]
        top = read(y0, x0) * (1.0 - wx) + read(y0, x1) * wx
        bottom = read(y1, x0) * (1.0 - wx) + read(y1, x1) * wx
        result = (top * (1.0 - wy) + bottom * wy)[:, :, :height, :width]
        return to_range(result, (0, 255), self.value_range).to(dtype)
