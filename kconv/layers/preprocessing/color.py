"""Keras's colour layers: ``RandomGrayscale``, ``RandomColorDegeneration``,
``RandomSaturation``, ``RandomHue`` and ``RandomColorJitter``, on RGB images (channels-first
batches inside), with Keras's grey weights (0.2989, 0.587, 0.114) and its HSV conversion."""

import torch

from kconv import config
from kconv.layers.preprocessing.base import (FactorLayer, ImagePreprocessingLayer,
                                             check_value_range)
from kconv.layers.preprocessing.intensity import (RandomBrightness, RandomContrast,
                                                  to_range)
from kconv.validation import check_float


def rgb_to_grayscale(images):
    """(N, 3, H, W) RGB -> (N, 1, H, W) luma; one channel is returned as it is."""
    if images.shape[1] == 1:
        return images
    r, g, b = images.unbind(1)
    return (0.2989 * r + 0.587 * g + 0.114 * b).unsqueeze(1).to(images.dtype)


def rgb_to_hsv(images):
    """(N, 3, H, W) RGB -> HSV, hue in [0, 1), as Keras computes it."""
    eps = torch.finfo(images.dtype).eps
    images = torch.where(images.abs() < eps, torch.zeros_like(images), images)
    r, g, b = images.unbind(1)
    value = torch.maximum(torch.maximum(r, g), b)
    spread = value - torch.minimum(torch.minimum(r, g), b)
    one = torch.ones_like(value)
    saturation = torch.where(value > 0, spread / torch.where(value > 0, value, one), 0.0)
    norm = 1.0 / (6.0 * torch.where(spread > 0, spread, one))
    hue = torch.where(value == g, norm * (b - r) + 2.0 / 6.0, norm * (r - g) + 4.0 / 6.0)
    hue = torch.where(value == r, norm * (g - b), hue)
    hue = torch.where(spread > 0, hue, 0.0) + (hue < 0.0).to(hue.dtype)
    return torch.stack([hue, saturation, value], dim=1)


def hsv_to_rgb(images):
    """The inverse of :func:`rgb_to_hsv`."""
    hue, saturation, value = images.unbind(1)
    dh = torch.remainder(hue, 1.0) * 6.0
    channels = [torch.clip(torch.abs(dh - 3.0) - 1.0, 0.0, 1.0),
                torch.clip(2.0 - torch.abs(dh - 2.0), 0.0, 1.0),
                torch.clip(2.0 - torch.abs(dh - 4.0), 0.0, 1.0)]
    return torch.stack([value * (1.0 - saturation + saturation * d) for d in channels], dim=1)


class _ColorLayer(FactorLayer):
    """A layer that needs RGB images."""

    def compute_output_shape(self, input_shape):
        channels = input_shape[config.channel_axis(self.data_format)]
        if channels is not None and channels != 3:
            raise self._error(f"needs RGB images (3 channels); received input shape "
                              f"{tuple(input_shape)}")
        return tuple(input_shape)


class RandomGrayscale(ImagePreprocessingLayer):
    """Turns each image grey (every channel the luma) with probability ``factor``."""

    config_keys = ("factor",)

    def __init__(self, factor=0.5, data_format=None, seed=None, *, input_shape=None,
                 name=None, trainable=True):
        super().__init__(data_format, seed, input_shape=input_shape, name=name,
                         trainable=trainable)
        self.factor = check_float("factor", factor, minimum=0.0, maximum=1.0)

    def sample(self, n, height, width, device):
        return {"should_apply": self.uniform((n,), 0.0, 1.0, device) < self.factor}

    def apply(self, images, params):
        return torch.where(params["should_apply"].view(-1, 1, 1, 1),
                           rgb_to_grayscale(images), images)


class RandomColorDegeneration(_ColorLayer):
    """Blends each image towards its grey version by a factor drawn from ``factor`` (a
    number f means (-f, f); negative factors move away from grey)."""

    def sample(self, n, height, width, device):
        return {"factor": self.uniform((n,), *self.factor, device)}

    def apply(self, images, params):
        factor = params["factor"].view(-1, 1, 1, 1).to(images.dtype)
        return (images + factor * (rgb_to_grayscale(images) - images)).clamp(
            *self.value_range)


class RandomSaturation(_ColorLayer):
    """Multiplies each image's HSV saturation by ``f / (1 - f)``, ``f`` drawn from
    ``factor`` (a number f means (-f, f), as Keras reads it), clipped to ``value_range``."""

    def sample(self, n, height, width, device):
        factor = self.uniform((n,), *self.factor, device)
        return {"factor": factor / (1 - factor + config.epsilon())}

    def apply(self, images, params):
        hue, saturation, value = rgb_to_hsv(images).unbind(1)
        saturation = (saturation * params["factor"].view(-1, 1, 1).to(images.dtype)).clamp(
            *self.value_range)
        return hsv_to_rgb(torch.stack([hue, saturation, value], dim=1))


class RandomHue(_ColorLayer):
    """Rotates each image's hue by ± half of a value drawn from ``factor`` (a number f in
    [0, 1] means (0, f)), the sign drawn with probability ½."""

    bounds = (0.0, 1.0)

    def sample(self, n, height, width, device):
        sign = torch.where(self.uniform((n,), 0.0, 1.0, device) > 0.5, -1.0, 1.0)
        return {"factor": sign * self.uniform((n,), *self.factor, device) * 0.5}

    def apply(self, images, params):
        hue, saturation, value = rgb_to_hsv(to_range(images, self.value_range, (0, 1))).unbind(1)
        hue = hue + params["factor"].view(-1, 1, 1).to(images.dtype)
        hue = torch.where(hue > 1.0, hue - 1.0, hue)
        hue = torch.where(hue < 0.0, hue + 1.0, hue)
        rgb = hsv_to_rgb(torch.stack([hue, saturation, value], dim=1)).clamp(0, 1)
        return to_range(rgb, (0, 1), self.value_range)


class RandomColorJitter(ImagePreprocessingLayer):
    """Keras's chain of RandomBrightness, RandomContrast, RandomSaturation and RandomHue,
    each present when its factor is given, in that order."""

    config_keys = ("value_range", "brightness_factor", "contrast_factor",
                   "saturation_factor", "hue_factor", "seed")

    def __init__(self, value_range=(0, 255), brightness_factor=None, contrast_factor=None,
                 saturation_factor=None, hue_factor=None, seed=None, data_format=None, *,
                 input_shape=None, name=None, trainable=True):
        super().__init__(data_format, seed, input_shape=input_shape, name=name,
                         trainable=trainable)
        self.value_range = check_value_range(value_range)
        self.brightness_factor, self.contrast_factor = brightness_factor, contrast_factor
        self.saturation_factor, self.hue_factor = saturation_factor, hue_factor
        parts = ((RandomBrightness, brightness_factor), (RandomContrast, contrast_factor),
                 (RandomSaturation, saturation_factor), (RandomHue, hue_factor))
        self.parts = torch.nn.ModuleList([
            cls(factor, value_range=value_range, data_format=data_format,
                seed=None if seed is None else seed + i, name=f"{self.name}_{cls.__name__}")
            for i, (cls, factor) in enumerate(parts) if factor is not None])

    def sample(self, n, height, width, device):
        return [part.sample(n, height, width, device) for part in self.parts]

    def apply(self, images, params):
        for part, part_params in zip(self.parts, params):
            images = part.apply(images, part_params)
        return images
