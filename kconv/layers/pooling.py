"""Max/average pooling with TensorFlow-exact 'same' padding, and global pooling."""

import torch
import torch.nn.functional as F

from kconv import config
from kconv import padding as pad_math
from kconv.layers.layer import Layer
from kconv.validation import check_bool, int_tuple


class _Pooling2D(Layer):
    """Shared arguments, shapes and layout handling of the 2-D pooling layers."""

    def __init__(self, pool_size, strides, padding, data_format, *, input_shape, name,
                 trainable):
        super().__init__(input_shape=input_shape, name=name, trainable=trainable)
        self.pool_size = int_tuple("pool_size", pool_size, 2)
        self.strides = self.pool_size if strides is None else int_tuple("strides", strides, 2)
        self.padding = config.check_padding(padding)
        self.data_format = config.standardize_data_format(data_format)

    input_ndim = 4

    def compute_output_shape(self, input_shape):
        spatial = self._window_output_size(input_shape, self.pool_size, self.strides,
                                           self.padding, window_name="pool_size")
        channels = input_shape[config.channel_axis(self.data_format)]
        return config.batch_shape(input_shape[0], spatial, channels, self.data_format)

    def call(self, x):
        y = self._pool(config.to_channels_first(x, self.data_format))
        return config.from_channels_first(y, self.data_format)

    def channels_first_output(self, shapes):
        return True if self.data_format == "channels_last" else None

    def call_channels_first(self, x):
        return self._pool(x)

    def _pads(self, x):
        if self.padding == "valid":
            return (0, 0), None
        # 'same' pads at most (k - 1) / 2 per side when symmetric: within torch's limit.
        return pad_math.same_conv_padding(tuple(x.shape[-2:]), self.pool_size, self.strides)

    def get_config(self):
        return {**super().get_config(), "pool_size": self.pool_size, "padding": self.padding,
                "strides": self.strides, "data_format": self.data_format}


class MaxPooling2D(_Pooling2D):
    """Max pooling; 'same' pads with -inf, so padding never wins (TensorFlow semantics).

    Args:
        pool_size: int or (ph, pw); default (2, 2).
        strides: int, (sh, sw) or None (= pool_size).
        padding: 'valid' or 'same' (case-insensitive).
        data_format: 'channels_last', 'channels_first' or None (global default).

    Example:
        >>> MaxPooling2D(2)(torch.zeros(1, 26, 26, 32)).shape
        torch.Size([1, 13, 13, 32])
    """

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", data_format=None, *,
                 input_shape=None, name=None, trainable=True):
        super().__init__(pool_size, strides, padding, data_format, input_shape=input_shape,
                         name=name, trainable=trainable)

    def _pool(self, x):
        native, explicit = self._pads(x)
        if explicit is not None:
            x = F.pad(x, explicit, value=float("-inf"))
        return F.max_pool2d(x, self.pool_size, self.strides, native)


class AveragePooling2D(_Pooling2D):
    """Average pooling; 'same' excludes the padding from each average, as TensorFlow does
    (Keras 3.15's torch backend counts replicated edges when the padding is asymmetric).

    Args:
        pool_size: int or (ph, pw) (required, as in Keras).
        strides: int, (sh, sw) or None (= pool_size).
        padding: 'valid' or 'same' (case-insensitive).
        data_format: 'channels_last', 'channels_first' or None (global default).
    """

    def __init__(self, pool_size, strides=None, padding="valid", data_format=None, *,
                 input_shape=None, name=None, trainable=True):
        super().__init__(pool_size, strides, padding, data_format, input_shape=input_shape,
                         name=name, trainable=trainable)

    def _pool(self, x):
        native, explicit = self._pads(x)
        if explicit is None:
            return F.avg_pool2d(x, self.pool_size, self.strides, native, count_include_pad=False)
        # Sum over zero-padded windows, then divide by how many real pixels each window saw.
        sums = F.avg_pool2d(F.pad(x, explicit), self.pool_size, self.strides, divisor_override=1)
        ones = torch.ones((1, 1) + tuple(x.shape[-2:]), dtype=x.dtype, device=x.device)
        counts = F.avg_pool2d(F.pad(ones, explicit), self.pool_size, self.strides,
                              divisor_override=1)
        return sums / counts


class _GlobalPooling2D(Layer):
    input_ndim = 4

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
        return False if self.data_format == "channels_last" and not self.keepdims else None

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format,
                "keepdims": self.keepdims}


class GlobalAveragePooling2D(_GlobalPooling2D):
    """Mean over the spatial axes: (N, H, W, C) -> (N, C) (or keepdims)."""

    def call(self, x):
        return x.mean(dim=self._axes, keepdim=self.keepdims)

    def call_channels_first(self, x):
        return x.mean(dim=(2, 3))


class GlobalMaxPooling2D(_GlobalPooling2D):
    """Max over the spatial axes: (N, H, W, C) -> (N, C) (or keepdims)."""

    def call(self, x):
        return x.amax(dim=self._axes, keepdim=self.keepdims)

    def call_channels_first(self, x):
        return x.amax(dim=(2, 3))
