"""Keras's reshaping layers: ``ZeroPadding1D/2D/3D``, ``Cropping1D/2D/3D`` and
``UpSampling1D/2D/3D`` (one rank-generic implementation each), ``Reshape``, ``Permute`` and
``RepeatVector``."""

import math

import torch.nn.functional as F

from kconv import config
from kconv.layers.layer import Layer
from kconv.validation import check_choice, int_tuple, invalid_type, invalid_value, is_int


def _pairs(name, value, rank):
    """Keras's padding/cropping spec: an int, one int per axis (symmetric), or one
    (before, after) pair per axis -> a tuple of ``rank`` pairs of non-negative ints."""
    if is_int(value):
        value = (value,) * rank
    if not isinstance(value, (list, tuple)) or len(value) != rank:
        raise invalid_value(name, f"an int, {rank} ints or {rank} (before, after) pairs",
                            value)
    pairs = []
    for item in value:
        pair = (item, item) if is_int(item) else item
        if not (isinstance(pair, (list, tuple)) and len(pair) == 2
                and all(is_int(v) and v >= 0 for v in pair)):
            raise invalid_value(name, f"an int, {rank} ints or {rank} (before, after) pairs "
                                "of non-negative ints", value)
        pairs.append((int(pair[0]), int(pair[1])))
    return tuple(pairs)


class _Spatial(Layer):
    """A layer acting on the spatial axes of (N, *spatial, C) or (N, C, *spatial) inputs."""

    rank = None
    has_data_format = True

    def __init__(self, data_format=None, *, input_shape=None, name=None, trainable=True):
        super().__init__(input_shape=input_shape, name=name, trainable=trainable)
        # 1-D layers act on (N, steps, C) only, as Keras's.
        self.data_format = config.standardize_data_format(data_format) \
            if self.has_data_format else "channels_last"

    @property
    def input_ndim(self):
        return self.rank + 2

    def compute_output_shape(self, input_shape):
        spatial = config.spatial_shape(input_shape, self.data_format)
        channels = input_shape[config.channel_axis(self.data_format)]
        return config.batch_shape(input_shape[0], tuple(
            None if n is None else self._size(i, n) for i, n in enumerate(spatial)),
            channels, self.data_format)

    def call(self, x):
        y = self._spatial_call(config.to_channels_first(x, self.data_format))
        return config.from_channels_first(y, self.data_format)

    def channels_first_output(self, shapes):
        return True if self.rank == 2 and self.data_format == "channels_last" else None

    def call_channels_first(self, x):
        return self._spatial_call(x)

    def get_config(self):
        extra = {"data_format": self.data_format} if self.has_data_format else {}
        return {**super().get_config(), **extra}


class _ZeroPadding(_Spatial):
    def __init__(self, padding=1, data_format=None, *, input_shape=None, name=None,
                 trainable=True):
        super().__init__(data_format, input_shape=input_shape, name=name, trainable=trainable)
        self.padding = _pairs("padding", padding, self.rank)

    def _size(self, axis, n):
        return n + sum(self.padding[axis])

    def _spatial_call(self, x):
        return F.pad(x, [p for pair in reversed(self.padding) for p in pair])

    def get_config(self):
        return {**super().get_config(), "padding": self.padding}


class _Cropping(_Spatial):
    def __init__(self, cropping=1, data_format=None, *, input_shape=None, name=None,
                 trainable=True):
        super().__init__(data_format, input_shape=input_shape, name=name, trainable=trainable)
        self.cropping = _pairs("cropping", cropping, self.rank)

    def _size(self, axis, n):
        size = n - sum(self.cropping[axis])
        if size <= 0:
            raise self._error(f"cropping {self.cropping[axis]} leaves nothing of an axis of "
                              f"size {n}")
        return size

    def _spatial_call(self, x):
        index = [slice(None), slice(None)]
        for axis, (before, after) in enumerate(self.cropping):
            self._size(axis, x.shape[2 + axis])
            index.append(slice(before, x.shape[2 + axis] - after))
        return x[tuple(index)]

    def get_config(self):
        return {**super().get_config(), "cropping": self.cropping}


class _UpSampling(_Spatial):
    interpolations = ("nearest",)

    def __init__(self, size=2, data_format=None, interpolation="nearest", *, input_shape=None,
                 name=None, trainable=True):
        super().__init__(data_format, input_shape=input_shape, name=name, trainable=trainable)
        self.size = int_tuple("size", size, self.rank)
        self.interpolation = check_choice("interpolation", interpolation, self.interpolations)

    def _size(self, axis, n):
        return n * self.size[axis]

    def _spatial_call(self, x):
        if self.interpolation == "bilinear":  # TensorFlow's half-pixel centres
            return F.interpolate(x, scale_factor=self.size, mode="bilinear",
                                 align_corners=False)
        for axis, factor in enumerate(self.size):
            if factor > 1:
                x = x.repeat_interleave(factor, dim=2 + axis)
        return x

    def get_config(self):
        config_ = {**super().get_config(), "size": self.size}
        if self.rank == 2:
            config_["interpolation"] = self.interpolation
        return config_


class ZeroPadding1D(_ZeroPadding):
    """Zeros before/after the steps of (N, steps, C) (or (N, C, steps) with
    ``data_format='channels_first'``, as Keras 3); ``padding`` an int or (before, after).
    """

    rank = 1

    def __init__(self, padding=1, data_format=None, *, input_shape=None, name=None,
                 trainable=True):
        super().__init__((padding,) if not is_int(padding) else padding, data_format,
                         input_shape=input_shape, name=name, trainable=trainable)

    def get_config(self):
        return {**super().get_config(), "padding": self.padding[0]}


class ZeroPadding2D(_ZeroPadding):
    """Zero rows/columns around images; ``padding`` an int, (h, w) or
    ((top, bottom), (left, right))."""

    rank = 2


class ZeroPadding3D(_ZeroPadding):
    """Zeros around the three spatial axes of (N, D, H, W, C) volumes."""

    rank = 3


class Cropping1D(_Cropping):
    """Drops steps at the start/end of (N, steps, C); ``cropping`` an int or (start, end)."""

    rank, has_data_format = 1, False

    def __init__(self, cropping=(1, 1), *, input_shape=None, name=None, trainable=True):
        super().__init__((cropping,) if not is_int(cropping) else cropping, None,
                         input_shape=input_shape, name=name, trainable=trainable)

    def get_config(self):
        return {**super().get_config(), "cropping": self.cropping[0]}


class Cropping2D(_Cropping):
    """Crops rows/columns of images; ``cropping`` as ZeroPadding2D's ``padding``."""

    rank = 2

    def __init__(self, cropping=((0, 0), (0, 0)), data_format=None, *, input_shape=None,
                 name=None, trainable=True):
        super().__init__(cropping, data_format, input_shape=input_shape, name=name,
                         trainable=trainable)


class Cropping3D(_Cropping):
    """Crops the three spatial axes of volumes."""

    rank = 3

    def __init__(self, cropping=((1, 1), (1, 1), (1, 1)), data_format=None, *,
                 input_shape=None, name=None, trainable=True):
        super().__init__(cropping, data_format, input_shape=input_shape, name=name,
                         trainable=trainable)


class UpSampling1D(_UpSampling):
    """Repeats each step of (N, steps, C) ``size`` times."""

    rank, has_data_format = 1, False

    def __init__(self, size=2, *, input_shape=None, name=None, trainable=True):
        super().__init__(size, None, "nearest", input_shape=input_shape, name=name,
                         trainable=trainable)

    def get_config(self):
        return {**super().get_config(), "size": self.size[0]}


class UpSampling2D(_UpSampling):
    """Scales images up by ``size``: 'nearest' repeats pixels, 'bilinear' interpolates with
    TensorFlow's half-pixel centres."""

    rank = 2
    interpolations = ("nearest", "bilinear")


class UpSampling3D(_UpSampling):
    """Repeats voxels ``size`` times along each spatial axis."""

    rank = 3

    def __init__(self, size=(2, 2, 2), data_format=None, *, input_shape=None, name=None,
                 trainable=True):
        super().__init__(size, data_format, "nearest", input_shape=input_shape, name=name,
                         trainable=trainable)


class Reshape(Layer):
    """Reshapes each sample to ``target_shape`` (one entry may be -1), as Keras."""

    def __init__(self, target_shape, *, input_shape=None, name=None, trainable=True):
        super().__init__(input_shape=input_shape, name=name, trainable=trainable)
        if not isinstance(target_shape, (list, tuple)) or not all(
                is_int(d) and (d > 0 or d == -1) for d in target_shape) or \
                list(target_shape).count(-1) > 1:
            raise invalid_value("target_shape", "a tuple of positive ints (one may be -1)",
                                target_shape)
        self.target_shape = tuple(int(d) for d in target_shape)

    def compute_output_shape(self, input_shape):
        known = input_shape[1:]
        if -1 not in self.target_shape:
            if None not in known and math.prod(known) != math.prod(self.target_shape):
                raise self._error(f"total size of new array must be unchanged, "
                                  f"input_shape = {tuple(known)}, output_shape = "
                                  f"{self.target_shape}")
            return (input_shape[0],) + self.target_shape
        if None in known:
            return (input_shape[0],) + tuple(None if d == -1 else d for d in self.target_shape)
        rest = math.prod(d for d in self.target_shape if d != -1)
        if math.prod(known) % rest:
            raise self._error(f"total size of new array must be unchanged, input_shape = "
                              f"{tuple(known)}, output_shape = {self.target_shape}")
        return (input_shape[0],) + tuple(math.prod(known) // rest if d == -1 else d
                                         for d in self.target_shape)

    def call(self, x):
        return x.reshape((x.shape[0],) + self.target_shape)

    def get_config(self):
        return {**super().get_config(), "target_shape": self.target_shape}


class Permute(Layer):
    """Permutes the non-batch axes: ``dims`` is 1-indexed, e.g. (2, 1) swaps them."""

    def __init__(self, dims, *, input_shape=None, name=None, trainable=True):
        super().__init__(input_shape=input_shape, name=name, trainable=trainable)
        if not isinstance(dims, (list, tuple)) or sorted(dims) != list(range(1, len(dims) + 1)):
            raise invalid_value("dims", "a permutation of 1..n (the batch axis stays first)",
                                dims)
        self.dims = tuple(int(d) for d in dims)

    @property
    def input_ndim(self):
        return len(self.dims) + 1

    def compute_output_shape(self, input_shape):
        return (input_shape[0],) + tuple(input_shape[d] for d in self.dims)

    def call(self, x):
        return x.permute(0, *self.dims)

    def get_config(self):
        return {**super().get_config(), "dims": self.dims}


class RepeatVector(Layer):
    """(N, features) -> (N, n, features)."""

    input_ndim = 2

    def __init__(self, n, *, input_shape=None, name=None, trainable=True):
        super().__init__(input_shape=input_shape, name=name, trainable=trainable)
        if not is_int(n) or n < 1:
            raise (invalid_type if not is_int(n) else invalid_value)("n", "an int >= 1", n)
        self.n = int(n)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.n, input_shape[1])

    def call(self, x):
        return x.unsqueeze(1).expand(-1, self.n, -1)

    def get_config(self):
        return {**super().get_config(), "n": self.n}


__all__ = ["ZeroPadding1D", "ZeroPadding2D", "ZeroPadding3D", "Cropping1D", "Cropping2D",
           "Cropping3D", "UpSampling1D", "UpSampling2D", "UpSampling3D", "Reshape", "Permute",
           "RepeatVector"]
