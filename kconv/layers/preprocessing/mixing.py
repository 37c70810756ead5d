"""Keras's layers that erase or mix regions and images: ``RandomErasing``, ``CutMix`` and
``MixUp``. Inside a model they act on the images alone (Keras mixes labels only when a
pipeline hands it them)."""

import torch

from kconv.layers.preprocessing.base import (ImagePreprocessingLayer, check_factor,
                                             check_value_range)
from kconv.validation import check_float, invalid_value


def box_masks(boxes, height, width):
    """(N, 1, H, W) masks of the boxes ``(x0, x1, y0, y1)`` (N, 4) in pixels, as Keras
    builds them: x0 <= column < x1 and y0 <= row < y1."""
    x0, x1, y0, y1 = (b.view(-1, 1, 1, 1) for b in boxes.unbind(1))
    xs = torch.arange(width, dtype=boxes.dtype, device=boxes.device).view(1, 1, 1, -1)
    ys = torch.arange(height, dtype=boxes.dtype, device=boxes.device).view(1, 1, -1, 1)
    return (xs >= x0) & (xs < x1) & (ys >= y0) & (ys < y1)


class _BoxLayer(ImagePreprocessingLayer):
    def crop_bounds(self, n, length, ratio, device):
        """Keras's boxes: length ``ratio · length`` at a uniform start."""
        crop = ratio * length
        start = self.uniform((n,), 0.0, 1.0, device) * (length - crop)
        return start, start + crop


class RandomErasing(_BoxLayer):
    """Fills a random box of each image, chosen with probability drawn from ``factor``,
    whose sides are ``sqrt(s)`` of the image's, ``s`` drawn from ``scale``; the fill is
    ``fill_value`` (a number or one per RGB channel) or, when None, Gaussian noise times
    ``value_range[1]``, clipped to ``value_range``."""

    config_keys = ("factor", "scale", "fill_value", "value_range", "seed")

    def __init__(self, factor=1.0, scale=(0.02, 0.33), fill_value=None, value_range=(0, 255),
                 seed=None, data_format=None, *, input_shape=None, name=None,
                 trainable=True):
        super().__init__(data_format, seed, input_shape=input_shape, name=name,
                         trainable=trainable)
        self.factor = check_factor("factor", factor, (0.0, 1.0))
        self.scale = check_factor("scale", scale, (0.0, 1.0))
        if isinstance(fill_value, (tuple, list)):
            if len(fill_value) != 3:
                raise invalid_value("fill_value", "None, a number or 3 numbers", fill_value)
            fill_value = [check_float("fill_value", v) for v in fill_value]
        elif fill_value is not None:
            fill_value = check_float("fill_value", fill_value)
        self.fill_value = fill_value
        self.value_range = check_value_range(value_range)

    def sample(self, n, height, width, device):
        sides = torch.sqrt(self.uniform((n, 2), *self.scale, device))
        x0, x1 = self.crop_bounds(n, width, sides[:, 0], device)
        y0, y1 = self.crop_bounds(n, height, sides[:, 1], device)
        probability = self.uniform((n,), *self.factor, device)
        return {"batch_masks": box_masks(torch.stack([x0, x1, y0, y1], 1), height, width),
                "apply_erasing": self.uniform((n,), 0.0, 1.0, device) < probability}

    def apply(self, images, params):
        fill = params.get("fill_value")
        if fill is None:
            if self.fill_value is None:
                fill = torch.randn(images.shape, generator=self._generator(images.device),
                                   device=images.device, dtype=images.dtype) \
                    * self.value_range[1]
            else:
                fill = torch.as_tensor(self.fill_value, dtype=images.dtype,
                                       device=images.device)
                fill = fill.view(1, -1, 1, 1) if fill.ndim else fill
        fill = torch.clamp(torch.as_tensor(fill, dtype=images.dtype), *self.value_range)
        erased = torch.where(params["batch_masks"], fill, images)
        return torch.where(params["apply_erasing"].view(-1, 1, 1, 1), erased, images)


class CutMix(_BoxLayer):
    """Pastes into each image a box of another image of the batch, the box's share of the
    area ``1 - w`` with ``w ~ Beta(a, a)`` and ``a`` drawn once per batch from ``factor``
    (a number f means (0, f)), as Keras."""

    config_keys = ("factor", "seed")

    def __init__(self, factor=1.0, seed=None, data_format=None, *, input_shape=None,
                 name=None, trainable=True):
        super().__init__(data_format, seed, input_shape=input_shape, name=name,
                         trainable=trainable)
        self.factor = check_factor("factor", factor, (0.0, 1.0))

    def sample(self, n, height, width, device):
        alpha = float(self.uniform((), *self.factor, "cpu")) + 1e-6
        ratio = torch.sqrt(1.0 - self.beta(n, alpha, device))
        x0, x1 = self.crop_bounds(n, width, ratio, device)
        y0, y1 = self.crop_bounds(n, height, ratio, device)
        return {"batch_masks": box_masks(torch.stack([x0, x1, y0, y1], 1), height, width),
                "permutation_order": self.permutation(n, device)}

    def apply(self, images, params):
        return torch.where(params["batch_masks"], images[params["permutation_order"]], images)


class MixUp(ImagePreprocessingLayer):
    """Blends each image with another of the batch by ``w ~ Beta(alpha, alpha)``:
    ``w · image + (1 - w) · other``."""

    config_keys = ("alpha", "seed")

    def __init__(self, alpha=0.2, data_format=None, seed=None, *, input_shape=None,
                 name=None, trainable=True):
        super().__init__(data_format, seed, input_shape=input_shape, name=name,
                         trainable=trainable)
        self.alpha = check_float("alpha", alpha, minimum=0.0, strict_minimum=True)

    def sample(self, n, height, width, device):
        return {"mix_weight": self.beta(n, self.alpha, device),
                "permutation_order": self.permutation(n, device)}

    def apply(self, images, params):
        weight = params["mix_weight"].view(-1, 1, 1, 1).to(images.dtype)
        return weight * images + (1.0 - weight) * images[params["permutation_order"]]
