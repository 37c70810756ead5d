"""Keras's geometric augmentation layers: ``RandomFlip``, ``RandomRotation``,
``RandomTranslation``, ``RandomZoom``, ``RandomShear``, ``RandomPerspective`` and
``RandomElasticTransform``.

Rotation, translation, zoom, shear and perspective draw one affine (or projective) map per
image and resample the whole batch with :func:`affine_transform`, Keras's own resampling:
output pixel ``(x, y)`` (column, row) reads input point ``(a0·x + a1·y + a2, b0·x + b1·y +
b2)``; ``'bilinear'`` blends its four neighbours and ``'nearest'`` rounds (half to even); a
neighbour outside the image is moved in by ``fill_mode`` (``'reflect'``: d c b a | a b c d |
d c b a; ``'mirror'``: d c b | a b c d | c b a; ``'wrap'``; ``'nearest'``: the edge) or, with
``'constant'``, reads ``fill_value``. The elastic transform reads the same way at points
displaced by a smoothed random field (:func:`resample`).
"""

import math

import torch

from kconv.layers.preprocessing.base import (ImagePreprocessingLayer, check_factor,
                                             check_value_range, fix_index)
from kconv.layers.preprocessing.intensity import gaussian_blur
from kconv.validation import check_choice, check_float

FILL_MODES = ("reflect", "wrap", "constant", "nearest")
INTERPOLATIONS = ("nearest", "bilinear")


def affine_transform(images, transforms, interpolation="bilinear", fill_mode="reflect",
                     fill_value=0.0):
    """Resample a channels-first batch ``images`` (N, C, H, W) by ``transforms`` (N, 6),
    rows ``(a0, a1, a2, b0, b1, b2)`` (see the module docstring), in one batched gather;
    (N, 8) rows ``(..., c0, c1)`` are projective: both coordinates divided by
    ``c0·x + c1·y + 1``."""
    _, _, h, w = images.shape
    t = transforms.to(torch.float32)[:, :, None, None]
    xs = torch.arange(w, dtype=torch.float32, device=images.device)
    ys = torch.arange(h, dtype=torch.float32, device=images.device)[:, None]
    src_x = t[:, 0] * xs + t[:, 1] * ys + t[:, 2]
    src_y = t[:, 3] * xs + t[:, 4] * ys + t[:, 5]
    if transforms.shape[1] == 8:
        denominator = t[:, 6] * xs + t[:, 7] * ys + 1.0
        src_x, src_y = src_x / denominator, src_y / denominator
    return resample(images, src_x, src_y, interpolation, fill_mode, fill_value)


def resample(images, src_x, src_y, interpolation="bilinear", fill_mode="reflect",
             fill_value=0.0):
    """Keras's ``map_coordinates`` of a channels-first batch ``images`` (N, C, H, W): output
    pixel (row, column) of image i reads ``(src_y, src_x)[i, row, column]`` (both (N, H, W)),
    in one batched gather."""
    n, c, h, w = images.shape

    def nodes(coordinate):
        if interpolation == "nearest":
            return [(torch.round(coordinate).long(), None)]
        lower = torch.floor(coordinate)
        upper_weight = coordinate - lower
        lower = lower.long()
        return [(lower, 1 - upper_weight), (lower + 1, upper_weight)]

    flat = images.reshape(n, c, h * w)
    out = None
    for iy, wy in nodes(src_y):
        for ix, wx in nodes(src_x):
            index = fix_index(iy, h, fill_mode) * w + fix_index(ix, w, fill_mode)
            values = flat.gather(2, index.reshape(n, 1, h * w).expand(n, c, h * w))
            values = values.reshape(n, c, h, w)
            if fill_mode == "constant":
                inside = ((iy >= 0) & (iy < h) & (ix >= 0) & (ix < w)).unsqueeze(1)
                values = torch.where(inside, values, torch.as_tensor(
                    fill_value, dtype=values.dtype, device=values.device))
            if wy is not None:
                values = values * (wy * wx).unsqueeze(1).to(values.dtype)
            out = values if out is None else out + values
    return out


class _AffineLayer(ImagePreprocessingLayer):
    """A layer that draws an affine map per image: ``fill_mode``, ``interpolation`` and
    ``fill_value`` as Keras's."""

    def __init__(self, fill_mode="reflect", interpolation="bilinear", seed=None, fill_value=0.0,
                 data_format=None, *, input_shape=None, name=None, trainable=True):
        super().__init__(data_format, seed, input_shape=input_shape, name=name, trainable=trainable)
        self.fill_mode = check_choice("fill_mode", fill_mode, FILL_MODES)
        self.interpolation = check_choice("interpolation", interpolation, INTERPOLATIONS)
        self.fill_value = check_float("fill_value", fill_value)

    def apply(self, images, params):
        return affine_transform(images, params["transforms"], self.interpolation,
                                self.fill_mode, self.fill_value).to(images.dtype)

    config_keys = ("seed", "fill_mode", "interpolation", "fill_value")


class RandomFlip(ImagePreprocessingLayer):
    """Flips each image with probability ½ in training: ``mode`` 'horizontal', 'vertical'
    or 'horizontal_and_vertical' (Keras 3 flips both axes on one draw: a half turn)."""

    MODES = ("horizontal", "vertical", "horizontal_and_vertical")

    def __init__(self, mode="horizontal_and_vertical", seed=None, data_format=None, *,
                 input_shape=None, name=None, trainable=True):
        super().__init__(data_format, seed, input_shape=input_shape, name=name, trainable=trainable)
        self.mode = check_choice("mode", mode, self.MODES)

    def sample(self, n, height, width, device):
        return {"flips": self.uniform((n,), 0.0, 1.0, device) <= 0.5}

    def apply(self, images, params):
        dims = {"horizontal": (3,), "vertical": (2,), "horizontal_and_vertical": (2, 3)}
        flipped = images.flip(dims[self.mode])
        return torch.where(params["flips"].view(-1, 1, 1, 1), flipped, images)

    config_keys = ("seed", "mode")


class RandomRotation(_AffineLayer):
    """Rotates each image about its centre by ``factor`` of a full turn, drawn uniformly
    from ``(-factor, factor)`` (or the pair given), counter-clockwise for positive angles."""

    def __init__(self, factor, fill_mode="reflect", interpolation="bilinear", seed=None,
                 fill_value=0.0, data_format=None, *, input_shape=None, name=None, trainable=True):
        super().__init__(fill_mode, interpolation, seed, fill_value, data_format,
                         input_shape=input_shape, name=name, trainable=trainable)
        self.factor = check_factor("factor", factor)

    def sample(self, n, height, width, device):
        angles = self.uniform((n,), self.factor[0] * 360.0, self.factor[1] * 360.0, device)
        return {"angles": angles, "transforms": rotation_transforms(angles, height, width)}

    config_keys = _AffineLayer.config_keys + ("factor",)


def rotation_transforms(degrees, height, width):
    """Keras's maps for rotations by ``degrees`` (N,) about the image centre."""
    theta = degrees * (math.pi / 180.0)
    cos, sin = torch.cos(theta), torch.sin(theta)
    cx, cy = 0.5 * (width - 1), 0.5 * (height - 1)
    return torch.stack([cos, -sin, cx - cx * cos + cy * sin,
                        sin, cos, cy - cx * sin - cy * cos], dim=1)


class RandomTranslation(_AffineLayer):
    """Shifts each image by fractions of its height and width drawn uniformly from
    ``height_factor`` and ``width_factor`` (a number f means (-f, f))."""

    def __init__(self, height_factor, width_factor, fill_mode="reflect", interpolation="bilinear",
                 seed=None, fill_value=0.0, data_format=None, *, input_shape=None, name=None,
                 trainable=True):
        super().__init__(fill_mode, interpolation, seed, fill_value, data_format,
                         input_shape=input_shape, name=name, trainable=trainable)
        self.height_factor, self.width_factor = height_factor, width_factor
        self._height = check_factor("height_factor", height_factor)
        self._width = check_factor("width_factor", width_factor)

    def sample(self, n, height, width, device):
        dy = self.uniform((n,), *self._height, device) * height
        dx = self.uniform((n,), *self._width, device) * width
        one, zero = torch.ones_like(dx), torch.zeros_like(dx)
        return {"translations": torch.stack([dx, dy], dim=1),
                "transforms": torch.stack([one, zero, -dx, zero, one, -dy], dim=1)}

    config_keys = _AffineLayer.config_keys + ("height_factor", "width_factor")


class RandomZoom(_AffineLayer):
    """Zooms each image about its centre: the sampled area is ``1 + f`` times the image
    along each axis, ``f`` drawn from ``height_factor`` (and ``width_factor``; None keeps
    the aspect ratio), so positive factors zoom out, as in Keras."""

    def __init__(self, height_factor, width_factor=None, fill_mode="reflect",
                 interpolation="bilinear", seed=None, fill_value=0.0, data_format=None, *,
                 input_shape=None, name=None, trainable=True):
        super().__init__(fill_mode, interpolation, seed, fill_value, data_format,
                         input_shape=input_shape, name=name, trainable=trainable)
        self.height_factor, self.width_factor = height_factor, width_factor
        self._height = check_factor("height_factor", height_factor, open_low=True)
        self._width = None if width_factor is None else \
            check_factor("width_factor", width_factor, open_low=True)

    def sample(self, n, height, width, device):
        zy = 1.0 + self.uniform((n,), *self._height, device)
        zx = zy if self._width is None else 1.0 + self.uniform((n,), *self._width, device)
        zero = torch.zeros_like(zx)
        return {"zooms": torch.stack([zx, zy], dim=1), "transforms": torch.stack([
            zx, zero, (width - 1) / 2.0 * (1 - zx), zero, zy, (height - 1) / 2.0 * (1 - zy)],
            dim=1)}

    config_keys = _AffineLayer.config_keys + ("height_factor", "width_factor")


class RandomShear(_AffineLayer):
    """Shears each image along x and y by amounts drawn from ``x_factor`` and ``y_factor``
    (a number f in [0, 1] means (-f, f)), both negated together with probability ½; the
    map is Keras's, about the top-left corner."""

    config_keys = _AffineLayer.config_keys + ("x_factor", "y_factor")

    def __init__(self, x_factor=0.0, y_factor=0.0, interpolation="bilinear",
                 fill_mode="reflect", fill_value=0.0, data_format=None, seed=None, *,
                 input_shape=None, name=None, trainable=True):
        super().__init__(fill_mode, interpolation, seed, fill_value, data_format,
                         input_shape=input_shape, name=name, trainable=trainable)
        self.x_factor = _shear_factor("x_factor", x_factor)
        self.y_factor = _shear_factor("y_factor", y_factor)

    def sample(self, n, height, width, device):
        sign = torch.where(self.uniform((n,), 0.0, 1.0, device) > 0.5, -1.0, 1.0)
        shear_y = self.uniform((n,), *self.y_factor, device)
        shear_x = self.uniform((n,), *self.x_factor, device)
        shears = torch.stack([shear_x, shear_y], dim=1) * sign[:, None]
        one, zero = torch.ones_like(sign), torch.zeros_like(sign)
        return {"shear_factor": shears, "transforms": torch.stack(
            [one, shears[:, 0], zero, shears[:, 1], one, zero], dim=1)}


def _shear_factor(name, factor):
    """Keras's shear factors: a number f in [0, 1] gives (-f, f); a pair is taken in
    [-1, 1] (Keras's own configs hold (-f, f), which Keras 3.15 then refuses to load)."""
    if isinstance(factor, (tuple, list)):
        return check_factor(name, factor, (-1.0, 1.0))
    low, high = check_factor(name, factor, (0.0, 1.0))
    return -high, high


def homographies(start_points, end_points):
    """(N, 8) projective maps taking each of the four ``end_points`` (N, 4, 2) to its
    ``start_points`` (as Keras's ``compute_homography_matrix``)."""
    (sx, sy), (ex, ey) = start_points.unbind(-1), end_points.unbind(-1)
    zero, one = torch.zeros_like(ex), torch.ones_like(ex)
    rows = []
    for i in range(4):
        rows.append(torch.stack([ex[:, i], ey[:, i], one[:, i], zero[:, i], zero[:, i],
                                 zero[:, i], -sx[:, i] * ex[:, i], -sx[:, i] * ey[:, i]], -1))
        rows.append(torch.stack([zero[:, i], zero[:, i], zero[:, i], ex[:, i], ey[:, i],
                                 one[:, i], -sy[:, i] * ex[:, i], -sy[:, i] * ey[:, i]], -1))
    target = torch.stack([sx, sy], dim=-1).reshape(-1, 8, 1)
    return torch.linalg.solve(torch.stack(rows, dim=1), target).reshape(-1, 8)


class RandomPerspective(_AffineLayer):
    """With probability drawn from ``factor`` (a number f means (0, f)), moves each corner
    of an image by up to ``scale / 2`` of its coordinates and warps the image to match
    (constant ``fill_value`` outside), as Keras."""

    config_keys = ("factor", "scale", "interpolation", "fill_value", "seed")

    def __init__(self, factor=1.0, scale=1.0, interpolation="bilinear", fill_value=0.0,
                 seed=None, data_format=None, *, input_shape=None, name=None,
                 trainable=True):
        super().__init__("constant", interpolation, seed, fill_value, data_format,
                         input_shape=input_shape, name=name, trainable=trainable)
        self.factor = check_factor("factor", factor, (0.0, 1.0))
        self.scale = check_float("scale", scale, minimum=0.0, maximum=1.0)

    def sample(self, n, height, width, device):
        probability = self.uniform((n,), *self.factor, device)
        apply = self.uniform((n,), 0.0, 1.0, device) < probability
        shift = self.uniform((n, 4, 2), -0.5 * self.scale, 0.5 * self.scale, device)
        start = torch.tensor([[0.0, 0.0], [width - 1, 0.0], [0.0, height - 1],
                              [width - 1, height - 1]], device=device).expand(n, 4, 2)
        end = start + start * shift
        return {"apply_perspective": apply, "start_points": start, "end_points": end}

    def apply(self, images, params):
        if min(images.shape[2:]) < 2:  # one row or column: its corners fix no perspective
            return images
        warped = affine_transform(images, homographies(params["start_points"],
                                                       params["end_points"]),
                                  self.interpolation, "constant", self.fill_value)
        return torch.where(params["apply_perspective"].view(-1, 1, 1, 1),
                           warped.to(images.dtype), images)


class RandomElasticTransform(ImagePreprocessingLayer):
    """With probability drawn from ``factor`` (a number f means (0, f)) per image, moves
    every pixel by a random displacement field (unit normals, smoothed by a Gaussian of
    width ``sigma = 0.05·s·min(H, W)`` and scaled by ``alpha = 0.1·s·max(H, W)``, where the
    distortion ``s`` is drawn once per batch from ``scale``) and resamples the image there,
    as Keras; in training the result is clipped to ``value_range``."""

    config_keys = ("factor", "scale", "interpolation", "fill_mode", "fill_value",
                   "value_range", "seed")

    def __init__(self, factor=1.0, scale=1.0, interpolation="bilinear", fill_mode="reflect",
                 fill_value=0.0, value_range=(0, 255), seed=None, data_format=None, *,
                 input_shape=None, name=None, trainable=True):
        super().__init__(data_format, seed, input_shape=input_shape, name=name,
                         trainable=trainable)
        self.factor = check_factor("factor", factor, (0.0, 1.0))
        self.scale = check_factor("scale", scale, (0.0, 1.0))
        self.interpolation = check_choice("interpolation", interpolation, INTERPOLATIONS)
        self.fill_mode = check_choice("fill_mode", fill_mode, FILL_MODES + ("mirror",))
        self.fill_value = check_float("fill_value", fill_value)
        self.value_range = check_value_range(value_range)

    def sample(self, n, height, width, device):
        probability = self.uniform((n,), *self.factor, device)
        apply = self.uniform((n,), 0.0, 1.0, device) < probability
        generator = self._generator(device)
        return {"apply_transform": apply,
                "distortion_factor": self.uniform((), *self.scale, device),
                "displacements": torch.randn((2, n, height, width), generator=generator,
                                             device=device)}

    def apply(self, images, params):
        if self.scale[1] == 0 or self.factor[1] == 0:  # Keras draws no transformation
            return images
        _, _, height, width = images.shape
        distortion = params["distortion_factor"].to(images.dtype)
        alpha = max(height, width) * (0.1 * distortion)
        sigma = min(height, width) * (0.05 * distortion)
        size = int(6 * sigma) | 1
        dx, dy = (gaussian_blur(d.to(images.dtype).unsqueeze(1) * sigma, (size, size),
                                torch.stack([sigma, sigma])).squeeze(1)
                  for d in params["displacements"])
        xs = torch.arange(width, device=images.device)
        ys = torch.arange(height, device=images.device)[:, None]
        moved = resample(images, xs + alpha * dx, ys + alpha * dy, self.interpolation,
                         self.fill_mode, self.fill_value).to(images.dtype)
        moved = torch.where(params["apply_transform"].view(-1, 1, 1, 1), moved, images)
        return moved.clamp(*self.value_range)
