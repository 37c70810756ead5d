"""Keras ``ImageDataGenerator`` geometric augmentation, on whole batches on the device.

Parameters are drawn per sample exactly as Keras 3's legacy ``ImageDataGenerator`` draws
them (rotation and shear in degrees, shifts as fractions of the image size or pixels, two
independent zoom factors, flips with probability ½), and the transform is Keras's matrix
``R(theta) · T(tx, ty) · Sh(shear) · Z(zx, zy)`` about the image centre with its axis swap,
so — as in Keras 3 — ``tx``, drawn from ``height_shift_range``, moves content along the
width. The warp is bilinear (Keras's ``interpolation_order=1``): the sampling grid of the whole
batch is built by broadcasting the matrices over pixel coordinates (cheaper than
``affine_grid``), with the flips folded into the same matrices, and resampled by one
``grid_sample`` call; ``fill_mode='nearest'`` replicates edge pixels, ``'constant'`` fills
with ``cval``.
"""

import numbers

import torch
import torch.nn.functional as F
from torch import nn

from kconv import config
from kconv.random import SeededGenerators
from kconv.validation import check_bool, check_choice, check_float, is_int

FILL_MODES = ("nearest", "constant")


def _shift_range(name, value):
    if is_int(value) and value >= 0:
        return int(value)
    if isinstance(value, (list, tuple)) and value and all(
            isinstance(v, numbers.Real) for v in value):
        return [float(v) for v in value]
    return check_float(name, value, minimum=0.0)


def _zoom_range(value):
    if isinstance(value, (list, tuple)) and len(value) == 2:
        low, high = (check_float("zoom_range", v, minimum=0.0, strict_minimum=True)
                     for v in value)
        return low, high
    z = check_float("zoom_range", value, minimum=0.0, maximum=1.0)
    return 1.0 - z, 1.0 + z


def affine_matrices(size, theta, tx, ty, shear, zx, zy):
    """Keras's per-sample 3x3 matrices mapping output pixel (col, row) to input pixel, for
    images of ``size`` (H, W); every argument but ``size`` is a (N,) tensor, angles in
    degrees."""
    n = theta.shape[0]
    eye = torch.eye(3, dtype=theta.dtype, device=theta.device).expand(n, 3, 3)

    def matrix(entries):
        m = eye.clone()
        for (i, j), v in entries.items():
            m[:, i, j] = v
        return m

    t, s = torch.deg2rad(theta), torch.deg2rad(shear)
    m = matrix({(0, 0): torch.cos(t), (0, 1): -torch.sin(t), (1, 0): torch.sin(t),
                (1, 1): torch.cos(t)})
    m = m @ matrix({(0, 2): tx, (1, 2): ty})
    m = m @ matrix({(0, 1): -torch.sin(s), (1, 1): torch.cos(s)})
    m = m @ matrix({(0, 0): zx, (1, 1): zy})
    # Keras centres on (H/2 - 0.5, W/2 - 0.5) and then swaps axes before scipy's (row, col)
    # indexing, so the centred matrix acts on (col, row): what grid_sample's (x, y) wants.
    h, w = size
    centre = {(0, 2): torch.full_like(t, h / 2 - 0.5), (1, 2): torch.full_like(t, w / 2 - 0.5)}
    return matrix(centre) @ m @ matrix({key: -v for key, v in centre.items()})


def warp(images, matrices, fill_mode="nearest", cval=0.0):
    """Resample (N, C, H, W) ``images`` so output pixel p takes input pixel ``M · p`` in
    (col, row) coordinates, bilinearly."""
    _, _, h, w = images.shape
    # Pixel (col, row) <-> normalized [-1, 1] coordinates (align_corners=True).
    sx, sy = (2.0 / (w - 1) if w > 1 else 1.0), (2.0 / (h - 1) if h > 1 else 1.0)
    to_norm = torch.tensor([[sx, 0, -1.0], [0, sy, -1.0], [0, 0, 1]], dtype=matrices.dtype,
                           device=matrices.device)
    theta = (to_norm @ matrices @ torch.linalg.inv(to_norm)).to(images.dtype)
    # The sampling grid as broadcast multiply-adds; F.affine_grid's batched matmul costs
    # twice the whole grid_sample on CPU (benchmarks/augmentation.py).
    xs = torch.linspace(-1, 1, w, dtype=images.dtype, device=images.device) if w > 1 else \
        torch.zeros(1, dtype=images.dtype, device=images.device)
    ys = torch.linspace(-1, 1, h, dtype=images.dtype, device=images.device)[:, None] if h > 1 \
        else torch.zeros(1, 1, dtype=images.dtype, device=images.device)
    t = theta[:, :2, :, None, None]  # (N, 2, 3, 1, 1)
    grid = torch.stack([t[:, 0, 0] * xs + t[:, 0, 1] * ys + t[:, 0, 2],
                        t[:, 1, 0] * xs + t[:, 1, 1] * ys + t[:, 1, 2]], dim=-1)
    out = F.grid_sample(images, grid, "bilinear", "border", align_corners=True)
    if fill_mode == "nearest":
        return out
    # scipy's 'constant': a source point outside the image is cval, with no blending.
    inside = (grid.abs() <= 1 + 1e-6).all(dim=-1).unsqueeze(1)
    return torch.where(inside, out, torch.full_like(out, cval))


class ImageAugmentation(nn.Module):
    """Random geometric augmentation with ``ImageDataGenerator``'s arguments and meaning.

    Active in ``train()`` mode only; each sample of a batch gets its own parameters.

    Args:
        rotation_range: degrees; theta ~ U(-r, r).
        width_shift_range, height_shift_range: a float < 1 is a fraction of the width
            (height), >= 1 pixels, drawn from U(-r, r); an int draws from {0..r-1} with a
            random sign; a list draws one of its values with a random sign.
        shear_range: shear angle in degrees; U(-s, s).
        zoom_range: float z for [1 - z, 1 + z], or [low, high]; x and y drawn
            independently; values > 1 zoom out.
        horizontal_flip, vertical_flip: flip with probability ½.
        fill_mode: 'nearest' (replicate edges) or 'constant' (``cval``).
        cval: fill value for 'constant'.
        data_format: layout of the batches (None: the global default).
        seed: optional int for a reproducible stream of parameters.

    Example:
        >>> augment = ImageAugmentation(rotation_range=20, zoom_range=0.15,
        ...                             width_shift_range=0.2, height_shift_range=0.2,
        ...                             shear_range=0.15, horizontal_flip=True)
        >>> batch = augment(batch)          # (N, H, W, C) floats, on any device
    """

    def __init__(self, rotation_range=0.0, width_shift_range=0.0, height_shift_range=0.0,
                 shear_range=0.0, zoom_range=0.0, horizontal_flip=False, vertical_flip=False,
                 fill_mode="nearest", cval=0.0, data_format=None, seed=None):
        super().__init__()
        self.rotation_range = check_float("rotation_range", rotation_range, minimum=0.0)
        self.width_shift_range = _shift_range("width_shift_range", width_shift_range)
        self.height_shift_range = _shift_range("height_shift_range", height_shift_range)
        self.shear_range = check_float("shear_range", shear_range, minimum=0.0)
        self.zoom_range = _zoom_range(zoom_range)
        self.horizontal_flip = check_bool("horizontal_flip", horizontal_flip)
        self.vertical_flip = check_bool("vertical_flip", vertical_flip)
        self.fill_mode = check_choice("fill_mode", fill_mode, FILL_MODES)
        self.cval = check_float("cval", cval)
        self.data_format = config.standardize_data_format(data_format)
        self._rng = SeededGenerators(seed)
        self.seed = seed

    def _uniform(self, n, low, high, device, gen):
        return torch.rand(n, generator=gen, device=device) * (high - low) + low

    def _shift(self, value, n, size, device, gen):
        if not value:
            return torch.zeros(n, device=device)
        if isinstance(value, float):
            shift = self._uniform(n, -value, value, device, gen)
        else:
            choices = torch.arange(value, device=device, dtype=torch.float32) \
                if isinstance(value, int) else torch.tensor(value, device=device)
            pick = torch.randint(len(choices), (n,), generator=gen, device=device)
            sign = torch.randint(2, (n,), generator=gen, device=device) * 2.0 - 1.0
            shift = choices[pick] * sign
        limit = max(value) if isinstance(value, list) else value
        return shift * size if limit < 1 else shift

    def sample(self, n, size, device="cpu"):
        """Draw the parameters of ``n`` transforms for images of ``size`` (H, W)."""
        gen = self._rng.get(device)
        h, w = size
        zeros = torch.zeros(n, device=device)
        low, high = self.zoom_range
        zoomed = not (low == 1 and high == 1)
        return {
            "theta": self._uniform(n, -self.rotation_range, self.rotation_range, device, gen)
            if self.rotation_range else zeros,
            "tx": self._shift(self.height_shift_range, n, h, device, gen),
            "ty": self._shift(self.width_shift_range, n, w, device, gen),
            "shear": self._uniform(n, -self.shear_range, self.shear_range, device, gen)
            if self.shear_range else zeros,
            "zx": self._uniform(n, low, high, device, gen) if zoomed else zeros + 1,
            "zy": self._uniform(n, low, high, device, gen) if zoomed else zeros + 1,
            "flip_horizontal": (torch.rand(n, generator=gen, device=device) < 0.5)
            & self.horizontal_flip,
            "flip_vertical": (torch.rand(n, generator=gen, device=device) < 0.5)
            & self.vertical_flip,
        }

    @property
    def active(self):
        """Whether any random transform is configured at all."""
        return bool(self.rotation_range or self.width_shift_range or self.height_shift_range
                    or self.shear_range or self.zoom_range != (1.0, 1.0)
                    or self.horizontal_flip or self.vertical_flip)

    def apply(self, images, params):
        """Apply drawn ``params`` to a batch in this module's data format."""
        x = config.to_channels_first(images, self.data_format)
        h, w = x.shape[-2:]
        m = affine_matrices((h, w), *(params[k].to(torch.float64) for k in (
            "theta", "tx", "ty", "shear", "zx", "zy")))
        # Keras flips after the warp: out(c, r) = warped(W - 1 - c, r), i.e. M · F, so the
        # flips ride along in the same resampling.
        flip = torch.eye(3, dtype=m.dtype, device=m.device).repeat(len(m), 1, 1)
        fh, fv = params["flip_horizontal"].to(m.dtype), params["flip_vertical"].to(m.dtype)
        flip[:, 0, 0], flip[:, 0, 2] = 1 - 2 * fh, fh * (w - 1)
        flip[:, 1, 1], flip[:, 1, 2] = 1 - 2 * fv, fv * (h - 1)
        x = warp(x, m @ flip, self.fill_mode, self.cval)
        return config.from_channels_first(x, self.data_format)

    def forward(self, images):
        if not self.training or not self.active:
            return images
        size = config.spatial_shape(images.shape, self.data_format)
        return self.apply(images, self.sample(images.shape[0], size, images.device))

    def get_config(self):
        return {key: getattr(self, key) for key in (
            "rotation_range", "width_shift_range", "height_shift_range", "shear_range",
            "zoom_range", "horizontal_flip", "vertical_flip", "fill_mode", "cval",
            "data_format", "seed")}
