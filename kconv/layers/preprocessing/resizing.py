"""Keras's size-changing image layers: ``Resizing``, ``CenterCrop`` and ``RandomCrop``.

Resizing follows Keras on torch: half-pixel centres for 'bilinear' and 'bicubic' (torch's
cubic kernel), 'nearest' as torch's 'nearest-exact'; ``crop_to_aspect_ratio`` first takes
the largest centred window of the target's aspect ratio, ``pad_to_aspect_ratio`` first pads
both sides with ``fill_value``.
"""

import torch
import torch.nn.functional as F

from kconv.layers.preprocessing.base import ImagePreprocessingLayer
from kconv.validation import check_bool, check_choice, check_float, check_int

INTERPOLATIONS = {"bilinear": "bilinear", "nearest": "nearest-exact", "bicubic": "bicubic"}


def aspect_window(height, width, target_height, target_width):
    """``(top, left, height, width)``: the largest centred window of the target's aspect
    ratio (Keras's ``crop_to_aspect_ratio`` and ``smart_resize``)."""
    crop_height = max(min(height, int(float(width * target_height) / target_width)), 1)
    crop_width = max(min(width, int(float(height * target_width) / target_height)), 1)
    return (int(float(height - crop_height) / 2), int(float(width - crop_width) / 2),
            crop_height, crop_width)


def resize(images, size, interpolation="bilinear", antialias=False,
           crop_to_aspect_ratio=False, pad_to_aspect_ratio=False, fill_value=0.0):
    """A channels-first float batch (N, C, H, W) resized to ``size`` (height, width)."""
    height, width = images.shape[-2:]
    target_height, target_width = size
    if crop_to_aspect_ratio:
        top, left, h, w = aspect_window(height, width, target_height, target_width)
        images = images[:, :, top:top + h, left:left + w]
    elif pad_to_aspect_ratio:
        pad_height = max(height, int(float(width * target_height) / target_width))
        pad_width = max(width, int(float(height * target_width) / target_height))
        top, left = int(float(pad_height - height) / 2), int(float(pad_width - width) / 2)
        if top > 0 or left > 0:  # both sides padded by the same amount, as Keras
            images = F.pad(images, (left, left, top, top), value=fill_value)
    mode = INTERPOLATIONS[interpolation]
    return F.interpolate(images, size=tuple(size), mode=mode,
                         align_corners=False if mode != "nearest-exact" else None,
                         antialias=antialias and mode != "nearest-exact")


class _SizedLayer(ImagePreprocessingLayer):
    """A layer whose output images are ``height`` x ``width``."""

    def __init__(self, height, width, data_format=None, seed=None, *, input_shape=None, name=None,
                 trainable=True):
        super().__init__(data_format, seed, input_shape=input_shape, name=name, trainable=trainable)
        self.height = check_int("height", height)
        self.width = check_int("width", width)

    def compute_output_shape(self, input_shape):
        shape = list(input_shape)
        axes = (-3, -2) if self.data_format == "channels_last" else (-2, -1)
        shape[axes[0]], shape[axes[1]] = self.height, self.width
        return tuple(shape)

    config_keys = ("height", "width")


class Resizing(_SizedLayer):
    """Resizes images to ``height`` x ``width`` (in training and inference alike); integer
    images are rounded back to their dtype, as Keras does."""

    def __init__(self, height, width, interpolation="bilinear", crop_to_aspect_ratio=False,
                 pad_to_aspect_ratio=False, fill_mode="constant", fill_value=0.0, antialias=False,
                 data_format=None, *, input_shape=None, name=None, trainable=True):
        super().__init__(height, width, data_format, input_shape=input_shape, name=name,
                         trainable=trainable)
        self.interpolation = check_choice("interpolation", interpolation,
                                          tuple(INTERPOLATIONS))
        self.crop_to_aspect_ratio = check_bool("crop_to_aspect_ratio", crop_to_aspect_ratio)
        self.pad_to_aspect_ratio = check_bool("pad_to_aspect_ratio", pad_to_aspect_ratio)
        if self.crop_to_aspect_ratio and self.pad_to_aspect_ratio:
            raise ValueError("Only one of pad_to_aspect_ratio and crop_to_aspect_ratio can be "
                             "True; received both")
        self.fill_mode = check_choice("fill_mode", fill_mode, ("constant",))
        self.fill_value = check_float("fill_value", fill_value)
        self.antialias = check_bool("antialias", antialias)

    def call(self, x):
        out = super().call(x)
        if x.is_floating_point() or x.is_complex():
            return out
        info = torch.iinfo(x.dtype)
        return out.round().clamp(info.min, info.max).to(x.dtype)

    def transform(self, images):
        return resize(images, (self.height, self.width), self.interpolation, self.antialias,
                      self.crop_to_aspect_ratio, self.pad_to_aspect_ratio, self.fill_value)

    config_keys = _SizedLayer.config_keys + (
        "interpolation", "crop_to_aspect_ratio", "pad_to_aspect_ratio", "fill_mode",
        "fill_value", "antialias")


def _center_or_resize(images, height, width):
    """The centred ``height`` x ``width`` window, or (where the image is smaller) the
    largest centred window of that aspect ratio resized bilinearly (``smart_resize``)."""
    h, w = images.shape[-2:]
    if h >= height and w >= width:
        top, left = (h - height) // 2, (w - width) // 2
        return images[:, :, top:top + height, left:left + width]
    return resize(images, (height, width), crop_to_aspect_ratio=True)


class CenterCrop(_SizedLayer):
    """Crops the centre ``height`` x ``width`` of each image (smaller images: the largest
    centred window of that aspect ratio, resized)."""

    def __init__(self, height, width, data_format=None, *, input_shape=None, name=None,
                 trainable=True):
        super().__init__(height, width, data_format, input_shape=input_shape, name=name,
                         trainable=trainable)

    def transform(self, images):
        return _center_or_resize(images, self.height, self.width)


class RandomCrop(_SizedLayer):
    """Crops a random ``height`` x ``width`` window in training, at one offset for the
    whole batch (as Keras); in inference, or when an image is not larger than the target
    along both axes, the largest centred window of the target's aspect ratio, resized (as
    Keras documents; Keras 3.15 on torch returns its input unchanged in inference)."""

    def __init__(self, height, width, seed=None, data_format=None, *, input_shape=None, name=None,
                 trainable=True):
        super().__init__(height, width, data_format, seed, input_shape=input_shape, name=name,
                         trainable=trainable)

    def sample(self, n, height, width, device):
        top = int(self.uniform((), 0.0, float(height - self.height + 1), "cpu"))
        left = int(self.uniform((), 0.0, float(width - self.width + 1), "cpu"))
        return top, left

    def apply(self, images, params):
        top, left = params
        return images[:, :, top:top + self.height, left:left + self.width]

    def transform(self, images):
        h, w = images.shape[-2:]
        if self.training and h > self.height and w > self.width:
            return super().transform(images)
        return resize(images, (self.height, self.width), crop_to_aspect_ratio=True)

    config_keys = _SizedLayer.config_keys + ("seed",)
