"""Max/average pooling of every rank (1D/2D/3D, one implementation) with TensorFlow-exact
'same' padding, and global pooling."""

import torch
import torch.nn.functional as F

from kconv import config
from kconv import padding as pad_math
from kconv.layers.layer import Layer
from kconv.validation import check_bool, int_tuple

_MAX = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}
_AVG = {1: F.avg_pool1d, 2: F.avg_pool2d, 3: F.avg_pool3d}


class _Pooling(Layer):
    """Shared arguments, shapes and layout handling of the pooling layers (rank from the
    subclass's ``rank``)."""

    rank = 2

    def __init__(self, pool_size, strides, padding, data_format, *, input_shape, name,
                 trainable):
        super().__init__(input_shape=input_shape, name=name, trainable=trainable)
        self.pool_size = int_tuple("pool_size", pool_size, self.rank)
        self.strides = self.pool_size if strides is None else \
            int_tuple("strides", strides, self.rank)
        self.padding = config.check_padding(padding)
        self.data_format = config.standardize_data_format(data_format)

    @property
    def input_ndim(self):
        return self.rank + 2

    def compute_output_shape(self, input_shape):
        spatial = self._window_output_size(input_shape, self.pool_size, self.strides,
                                           self.padding, window_name="pool_size")
        channels = input_shape[config.channel_axis(self.data_format)]
        return config.batch_shape(input_shape[0], spatial, channels, self.data_format)

    def call(self, x):
        y = self._pool(config.to_channels_first(x, self.data_format))
        return config.from_channels_first(y, self.data_format)

    def channels_first_output(self, shapes):
        return True if self.rank == 2 and self.data_format == "channels_last" else None

    def call_channels_first(self, x):
        return self._pool(x)

    def _pads(self, x):
        if self.padding == "valid":
            return (0,) * self.rank, None
        # 'same' pads at most (k - 1) / 2 per side when symmetric: within torch's limit.
        return pad_math.same_conv_padding(tuple(x.shape[2:]), self.pool_size, self.strides)

    def get_config(self):
        return {**super().get_config(), "pool_size": self.pool_size, "padding": self.padding,
                "strides": self.strides, "data_format": self.data_format}


class _MaxPooling(_Pooling):
    """Max pooling; 'same' pads with -inf, so padding never wins (TensorFlow semantics).

    Args:
        pool_size: an int or one per spatial axis (default 2 on each).
        strides: an int, one per axis, or None (= pool_size).
        padding: 'valid' or 'same' (case-insensitive).
        data_format: 'channels_last', 'channels_first' or None (global default).
    """

    def __init__(self, pool_size=2, strides=None, padding="valid", data_format=None, *,
                 input_shape=None, name=None, trainable=True):
        super().__init__(pool_size, strides, padding, data_format, input_shape=input_shape,
                         name=name, trainable=trainable)

    def _pool(self, x):
        native, explicit = self._pads(x)
        if explicit is not None:
            x = F.pad(x, explicit, value=float("-inf"))
        return _MAX[self.rank](x, self.pool_size, self.strides, native)


class _AveragePooling(_Pooling):
    """Average pooling; 'same' excludes the padding from each average, as TensorFlow does
    (Keras 3.15's torch backend counts replicated edges when the padding is asymmetric).

    Args:
        pool_size: an int or one per spatial axis (Keras: 2 for 1-D/3-D, required for 2-D).
        strides: an int, one per axis, or None (= pool_size).
        padding: 'valid' or 'same' (case-insensitive).
        data_format: 'channels_last', 'channels_first' or None (global default).
    """

    def __init__(self, pool_size=2, strides=None, padding="valid", data_format=None, *,
                 input_shape=None, name=None, trainable=True):
        super().__init__(pool_size, strides, padding, data_format, input_shape=input_shape,
                         name=name, trainable=trainable)

    def _pool(self, x):
        pool, native, explicit = _AVG[self.rank], *self._pads(x)
        if explicit is None and any(n < k for n, k in zip(x.shape[2:], self.pool_size)):
            # torch's 3-D average pooling checks the unpadded input against the window.
            explicit = tuple(p for pad in reversed(native) for p in (pad, pad))
        if explicit is None:
            return pool(x, self.pool_size, self.strides, native, count_include_pad=False)
        # Mean over zero-padded windows, divided by the share of real pixels in each window.
        ones = torch.ones((1, 1) + tuple(x.shape[2:]), dtype=x.dtype, device=x.device)
        return pool(F.pad(x, explicit), self.pool_size, self.strides) / \
            pool(F.pad(ones, explicit), self.pool_size, self.strides)


class MaxPooling1D(_MaxPooling):
    """Max pooling over the steps of (N, steps, C)."""

    rank = 1


class MaxPooling2D(_MaxPooling):
    """Max pooling over (N, H, W, C) images.

    Example:
        >>> MaxPooling2D(2)(torch.zeros(1, 26, 26, 32)).shape
        torch.Size([1, 13, 13, 32])
    """

    rank = 2


class MaxPooling3D(_MaxPooling):
    """Max pooling over (N, D, H, W, C) volumes."""

    rank = 3


class AveragePooling1D(_AveragePooling):
    """Average pooling over the steps of (N, steps, C)."""

    rank = 1


class AveragePooling2D(_AveragePooling):
    """Average pooling over (N, H, W, C) images (``pool_size`` required, as in Keras)."""

    rank = 2

    def __init__(self, pool_size, strides=None, padding="valid", data_format=None, *,
                 input_shape=None, name=None, trainable=True):
        super().__init__(pool_size, strides, padding, data_format, input_shape=input_shape,
                         name=name, trainable=trainable)


class AveragePooling3D(_AveragePooling):
    """Average pooling over (N, D, H, W, C) volumes."""

    rank = 3


class _GlobalPooling(Layer):
    rank = 2

    @property
    def input_ndim(self):
        return self.rank + 2

    def __init__(self, data_format=None, keepdims=False, *, input_shape=None, name=None,
                 trainable=True):
        super().__init__(input_shape=input_shape, name=name, trainable=trainable)
        self.data_format = config.standardize_data_format(data_format)
        self.keepdims = check_bool("keepdims", keepdims)

    @property
    def _axes(self):
        return config.spatial_axes(self.data_format, self.input_ndim)

    def compute_output_shape(self, input_shape):
        if self.keepdims:
            return tuple(1 if i in self._axes else d for i, d in enumerate(input_shape))
        return tuple(d for i, d in enumerate(input_shape) if i not in self._axes)

    def channels_first_output(self, shapes):
        if self.rank == 2 and self.data_format == "channels_last" and not self.keepdims:
            return False
        return None

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format,
                "keepdims": self.keepdims}


class _GlobalAveragePooling(_GlobalPooling):
    """Mean over the spatial axes: (N, *spatial, C) -> (N, C) (or keepdims)."""

    def call(self, x):
        return x.mean(dim=self._axes, keepdim=self.keepdims)

    def call_channels_first(self, x):
        return x.mean(dim=tuple(range(2, self.rank + 2)))


class _GlobalMaxPooling(_GlobalPooling):
    """Max over the spatial axes: (N, *spatial, C) -> (N, C) (or keepdims)."""

    def call(self, x):
        return x.amax(dim=self._axes, keepdim=self.keepdims)

    def call_channels_first(self, x):
        return x.amax(dim=tuple(range(2, self.rank + 2)))


class GlobalAveragePooling1D(_GlobalAveragePooling):
    """Mean over the steps: (N, steps, C) -> (N, C)."""

    rank = 1


class GlobalAveragePooling2D(_GlobalAveragePooling):
    """Mean over the spatial axes: (N, H, W, C) -> (N, C) (or keepdims)."""

    rank = 2


class GlobalAveragePooling3D(_GlobalAveragePooling):
    """Mean over the spatial axes of volumes: (N, D, H, W, C) -> (N, C)."""

    rank = 3


class GlobalMaxPooling1D(_GlobalMaxPooling):
    """Max over the steps: (N, steps, C) -> (N, C)."""

    rank = 1


class GlobalMaxPooling2D(_GlobalMaxPooling):
    """Max over the spatial axes: (N, H, W, C) -> (N, C) (or keepdims)."""

    rank = 2


class GlobalMaxPooling3D(_GlobalMaxPooling):
    """Max over the spatial axes of volumes: (N, D, H, W, C) -> (N, C)."""

    rank = 3


_ADAPTIVE = {"average": {1: F.adaptive_avg_pool1d, 2: F.adaptive_avg_pool2d,
                         3: F.adaptive_avg_pool3d},
             "max": {1: F.adaptive_max_pool1d, 2: F.adaptive_max_pool2d,
                     3: F.adaptive_max_pool3d}}


class _AdaptivePooling(Layer):
    """Pools each spatial axis into ``output_size`` bins whatever the input's size: bin i of
    n over length L spans [floor(i·L/n), ceil((i+1)·L/n)), as torch's adaptive pooling,
    which Keras's layers call."""

    rank, kind = 2, "average"

    @property
    def input_ndim(self):
        return self.rank + 2

    def __init__(self, output_size, data_format=None, *, input_shape=None, name=None,
                 trainable=True):
        super().__init__(input_shape=input_shape, name=name, trainable=trainable)
        self.output_size = int_tuple("output_size", output_size, self.rank)
        self.data_format = config.standardize_data_format(data_format)

    def compute_output_shape(self, input_shape):
        channels = input_shape[config.channel_axis(self.data_format)]
        return config.batch_shape(input_shape[0], self.output_size, channels,
                                  self.data_format)

    def call(self, x):
        y = self.call_channels_first(config.to_channels_first(x, self.data_format))
        return config.from_channels_first(y, self.data_format)

    def call_channels_first(self, x):
        return _ADAPTIVE[self.kind][self.rank](x, self.output_size)

    def get_config(self):
        return {**super().get_config(), "output_size": self.output_size,
                "data_format": self.data_format}


class AdaptiveAveragePooling1D(_AdaptivePooling):
    """Means over ``output_size`` adaptive bins of the steps."""

    rank, kind = 1, "average"


class AdaptiveAveragePooling2D(_AdaptivePooling):
    """Means over ``output_size`` (height, width) adaptive bins."""

    rank, kind = 2, "average"


class AdaptiveAveragePooling3D(_AdaptivePooling):
    """Means over ``output_size`` (depth, height, width) adaptive bins."""

    rank, kind = 3, "average"


class AdaptiveMaxPooling1D(_AdaptivePooling):
    """Maxima over ``output_size`` adaptive bins of the steps."""

    rank, kind = 1, "max"


class AdaptiveMaxPooling2D(_AdaptivePooling):
    """Maxima over ``output_size`` (height, width) adaptive bins."""

    rank, kind = 2, "max"


class AdaptiveMaxPooling3D(_AdaptivePooling):
    """Maxima over ``output_size`` (depth, height, width) adaptive bins."""

    rank, kind = 3, "max"
