"""Keras's convolutions of every rank (``Conv1D``, ``Conv2D``, ``Conv3D``) as one
rank-generic layer, with torch's ``nn.ConvNd`` parameter layout."""

import torch
import torch.nn.functional as F

from kconv import activations, config
from kconv import padding as pad_math
from kconv.layers.layer import KERNEL_BIAS_KEYS, Layer
from kconv.validation import check_bool, check_int, int_tuple, invalid_value

_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
_CONV_TRANSPOSE = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}


def kernel_to_torch(kernel):
    """Keras's kernel layout (*window, in, out) -> torch's (out, in, *window)."""
    n = kernel.ndim
    return kernel.permute(n - 1, n - 2, *range(n - 2))


def kernel_to_keras(weight):
    """torch's (out, in, *window) -> Keras's (*window, in, out)."""
    return weight.permute(*range(2, weight.ndim), 1, 0)


class BaseConv(Layer):
    """An N-D convolution with Keras arguments and TensorFlow-exact 'same' padding (the
    rank is the subclass's ``rank``).

    Parameters are stored like ``nn.ConvNd``: ``weight`` (filters, in/groups, *kernel_size)
    and ``bias`` (filters,). Inputs are (N, *spatial, C) for 'channels_last' (the default)
    and (N, C, *spatial) for 'channels_first'; channels_last inputs are convolved through a
    zero-copy channels-first view (torch's channels_last memory format), and a 2-D
    channels_last layer keeps its ``weight`` in that memory format too (as
    ``model.to(memory_format=torch.channels_last)`` would).

    Args:
        filters: number of output channels.
        kernel_size: an int or one int per spatial axis.
        strides: an int or one per axis; > 1 together with dilation > 1 is not allowed.
        padding: 'valid' or 'same' (case-insensitive; Conv1D also 'causal': all padding
            before, as Keras); 'same' gives ``ceil(n / s)`` outputs with the odd extra pad
            pixel at the end (bottom/right), as TensorFlow.
        data_format: 'channels_last', 'channels_first' or None (the global default).
        dilation_rate: an int or one per axis.
        groups: number of channel groups; divides ``filters`` and the input channels.
        activation: an activation name or callable; None is linear.
        use_bias: whether to add a bias.
        kernel_initializer, bias_initializer: initializer identifiers (Keras defaults
            'glorot_uniform' and 'zeros'), applied in Keras's (*window, in, out) layout.
        kernel_regularizer, bias_regularizer, activity_regularizer: regularizers.
        kernel_constraint, bias_constraint: constraints (axes refer to Keras's layout).
        input_shape, name, trainable: see :class:`~kconv.layers.Layer`.

    Raises:
        ValueError, TypeError: for invalid arguments, naming the argument.
    """

    rank = None
    output_kernel = "weight"  # the kernel whose first axis is the output channels

    @property
    def input_ndim(self):
        return self.rank + 2

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None,
                 dilation_rate=1, groups=1, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, *, input_shape=None, name=None,
                 trainable=True):
        super().__init__(activity_regularizer=activity_regularizer, input_shape=input_shape,
                         name=name, trainable=trainable)
        self._window(kernel_size, strides, padding, data_format, dilation_rate, activation,
                     use_bias)
        self._resolve(kernel_initializer=kernel_initializer, bias_initializer=bias_initializer,
                      kernel_regularizer=kernel_regularizer, bias_regularizer=bias_regularizer,
                      kernel_constraint=kernel_constraint, bias_constraint=bias_constraint)
        self.filters = check_int("filters", filters)
        self.groups = check_int("groups", groups)
        if self.filters % self.groups:
            raise invalid_value("filters", f"a multiple of groups={self.groups}", filters)

    def _window(self, kernel_size, strides, padding, data_format, dilation_rate, activation,
                use_bias):
        """The arguments every convolution shares, checked."""
        rank = self.rank
        self.kernel_size = int_tuple("kernel_size", kernel_size, rank)
        self.strides = int_tuple("strides", strides, rank)
        self.dilation_rate = int_tuple("dilation_rate", dilation_rate, rank)
        self.padding = config.check_padding(padding, allow_causal=rank == 1)
        self.data_format = config.standardize_data_format(data_format)
        self.activation = activations.get(activation)
        self.use_bias = check_bool("use_bias", use_bias)
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise invalid_value("dilation_rate", f"{(1,) * rank} when strides > 1",
                                dilation_rate)
        self.in_channels = None
        self.bias = None
        self._span = tuple(pad_math.effective_kernel(k, d)
                           for k, d in zip(self.kernel_size, self.dilation_rate))
        self._paddings = {}  # input spatial size -> (torch's padding, explicit F.pad or None)

    def build(self, input_shape):
        axis = config.channel_axis(self.data_format)
        channels = self._known_size(input_shape, axis)
        if channels % self.groups:
            raise self._error(f"the number of input channels must be evenly divisible by the "
                              f"number of groups. Received groups={self.groups}, but the input "
                              f"has {channels} channels (full input shape is "
                              f"{tuple(input_shape)}).")
        self._output_size(input_shape)
        self.in_channels = channels
        self._add_kernel((*self.kernel_size, channels // self.groups, self.filters))
        if self.rank == 2 and self.data_format == "channels_last":
            # In the memory format of the channels-first views it convolves, so that
            # oneDNN need not reorder it at every call (ResNet50 1.04-1.06x on a CPU).
            self.weight.data = self.weight.data.contiguous(memory_format=torch.channels_last)
        self._add_bias()
        self._pin_input_axes({axis: channels})

    def _add_kernel(self, keras_shape):
        """The kernel, ``weight`` in torch's layout, created in Keras's ``keras_shape``."""
        self.add_weight("weight", keras_shape, self.kernel_initializer,
                        regularizer=self.kernel_regularizer, constraint=self.kernel_constraint,
                        to_keras=kernel_to_keras, from_keras=kernel_to_torch)

    def _add_bias(self):
        if self.use_bias:
            self.add_weight("bias", (self.filters,), self.bias_initializer,
                            regularizer=self.bias_regularizer, constraint=self.bias_constraint)

    def _output_size(self, input_shape):
        return self._window_output_size(input_shape, self.kernel_size, self.strides,
                                        self.padding, self.dilation_rate)

    def compute_output_shape(self, input_shape):
        return config.batch_shape(input_shape[0], self._output_size(input_shape), self.filters,
                                  self.data_format)

    def call(self, x):
        return self.activation(self.pre_activation(x))

    def pre_activation(self, x):
        """The convolution output before the activation."""
        x = config.to_channels_first(x, self.data_format)  # a view (channels_last memory)
        return config.from_channels_first(self._convolve(x), self.data_format)

    def channels_first_output(self, shapes):
        if self.rank == 2 and self.data_format == "channels_last" and \
                activations.is_elementwise(self.activation):
            return True
        return None

    def call_channels_first(self, x):
        return self.activation(self._convolve(x))

    def _convolve(self, x, kernel=None, bias=None):
        """The convolution of a channels-first view, padded as TensorFlow pads; ``kernel``
        and ``bias`` replace the kernel named ``output_kernel`` (the one making the output
        channels, along its first axis) and ``bias`` where given (folding)."""
        x, native = self._padded(x)
        if kernel is None:
            kernel, bias = self.weight, self.bias
        return _CONV[self.rank](x, kernel, bias, self.strides, native, self.dilation_rate,
                                self.groups)

    def _padded(self, x):
        """``(x, native padding)``: ``x`` explicitly padded where torch's symmetric padding
        cannot give TensorFlow's (or Keras's causal) padding."""
        size = tuple(x.shape[2:])
        static = all(type(n) is int for n in size)  # not symbolic (torch.export's axes)
        padding = self._paddings.get(size) if static else None
        if padding is None:  # worked out once per input size
            if self.padding == "valid" and any(n < k for n, k in zip(size, self._span)):
                self._output_size(tuple(config.from_channels_first(x, self.data_format).shape))
            padding = (0,) * self.rank, None
            if self.padding == "same":
                padding = pad_math.same_conv_padding(size, self.kernel_size, self.strides,
                                                     self.dilation_rate)
            elif self.padding == "causal":
                padding = pad_math.torch_padding(
                    pad_math.causal_padding(self.kernel_size, self.dilation_rate))
            if static:
                self._paddings[size] = padding
        native, explicit = padding
        if explicit is not None:
            x = F.pad(x, explicit)
        return x, native

    def get_config(self):
        return {**super().get_config(), "filters": self.filters,
                "kernel_size": self.kernel_size, "strides": self.strides,
                "padding": self.padding, "data_format": self.data_format,
                "dilation_rate": self.dilation_rate, "groups": self.groups,
                "activation": activations.serialize(self.activation),
                "use_bias": self.use_bias,
                **self._serialized(*KERNEL_BIAS_KEYS)}

    def extra_repr(self):
        return (f"name={self.name!r}, filters={self.filters}, kernel_size={self.kernel_size}, "
                f"strides={self.strides}, padding={self.padding!r}, "
                f"data_format={self.data_format!r}")


def depthwise_to_torch(kernel):
    """Keras's depthwise kernel (*window, C, M) -> torch's grouped (C * M, 1, *window)."""
    n = kernel.ndim
    moved = kernel.permute(n - 2, n - 1, *range(n - 2))  # (C, M, *window)
    return moved.reshape(-1, 1, *moved.shape[2:])


def _depthwise_to_keras(channels):
    def convert(weight):
        moved = weight.reshape(channels, -1, *weight.shape[2:])  # (C, M, *window)
        return moved.permute(*range(2, moved.ndim), 0, 1)
    return convert


class BaseDepthwiseConv(BaseConv):
    """A depthwise convolution: each input channel convolved with its own
    ``depth_multiplier`` kernels (torch: groups = channels), Keras's arguments.

    Stored as torch's grouped convolution: ``weight`` (channels * depth_multiplier, 1,
    *kernel_size), ``bias`` (channels * depth_multiplier,).
    """

    def __init__(self, kernel_size, strides=1, padding="valid", depth_multiplier=1,
                 data_format=None, dilation_rate=1, activation=None, use_bias=True,
                 depthwise_initializer="glorot_uniform", bias_initializer="zeros",
                 depthwise_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 depthwise_constraint=None, bias_constraint=None, *, input_shape=None,
                 name=None, trainable=True):
        Layer.__init__(self, activity_regularizer=activity_regularizer,
                       input_shape=input_shape, name=name, trainable=trainable)
        self._window(kernel_size, strides, padding, data_format, dilation_rate, activation,
                     use_bias)
        self._resolve(depthwise_initializer=depthwise_initializer,
                      bias_initializer=bias_initializer,
                      depthwise_regularizer=depthwise_regularizer,
                      bias_regularizer=bias_regularizer,
                      depthwise_constraint=depthwise_constraint, bias_constraint=bias_constraint)
        self.depth_multiplier = check_int("depth_multiplier", depth_multiplier)
        self.filters = self.groups = None  # known at build: channels * depth_multiplier

    def build(self, input_shape):
        axis = config.channel_axis(self.data_format)
        channels = self._known_size(input_shape, axis)
        self._output_size(input_shape)
        self.in_channels, self.groups = channels, channels
        self.filters = channels * self.depth_multiplier
        self.add_weight("weight", (*self.kernel_size, channels, self.depth_multiplier),
                        self.depthwise_initializer, regularizer=self.depthwise_regularizer,
                        constraint=self.depthwise_constraint,
                        to_keras=_depthwise_to_keras(channels), from_keras=depthwise_to_torch)
        self._add_bias()
        self._pin_input_axes({axis: channels})

    def compute_output_shape(self, input_shape):
        channels = input_shape[config.channel_axis(self.data_format)]
        filters = None if channels is None else channels * self.depth_multiplier
        return config.batch_shape(input_shape[0], self._output_size(input_shape), filters,
                                  self.data_format)

    def get_config(self):
        return {**Layer.get_config(self), "kernel_size": self.kernel_size,
                "strides": self.strides, "padding": self.padding,
                "depth_multiplier": self.depth_multiplier, "data_format": self.data_format,
                "dilation_rate": self.dilation_rate,
                "activation": activations.serialize(self.activation),
                "use_bias": self.use_bias,
                **self._serialized("depthwise_initializer", "bias_initializer",
                                   "depthwise_regularizer", "bias_regularizer",
                                   "activity_regularizer", "depthwise_constraint",
                                   "bias_constraint")}


class BaseSeparableConv(BaseConv):
    """A depthwise convolution (no bias) followed by a pointwise (1x1) one to ``filters``
    channels with the bias, as Keras's SeparableConv; weights in Keras's order:
    ``depthwise_weight`` (C * M, 1, *kernel_size), ``pointwise_weight`` (filters, C * M,
    1, ...), ``bias``."""

    output_kernel = "pointwise_weight"

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None,
                 dilation_rate=1, depth_multiplier=1, activation=None, use_bias=True,
                 depthwise_initializer="glorot_uniform", pointwise_initializer="glorot_uniform",
                 bias_initializer="zeros", depthwise_regularizer=None,
                 pointwise_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 depthwise_constraint=None, pointwise_constraint=None, bias_constraint=None, *,
                 input_shape=None, name=None, trainable=True):
        Layer.__init__(self, activity_regularizer=activity_regularizer,
                       input_shape=input_shape, name=name, trainable=trainable)
        self._window(kernel_size, strides, padding, data_format, dilation_rate, activation,
                     use_bias)
        self._resolve(depthwise_initializer=depthwise_initializer,
                      pointwise_initializer=pointwise_initializer,
                      bias_initializer=bias_initializer,
                      depthwise_regularizer=depthwise_regularizer,
                      pointwise_regularizer=pointwise_regularizer,
                      bias_regularizer=bias_regularizer,
                      depthwise_constraint=depthwise_constraint,
                      pointwise_constraint=pointwise_constraint, bias_constraint=bias_constraint)
        self.filters = check_int("filters", filters)
        self.depth_multiplier = check_int("depth_multiplier", depth_multiplier)
        self.groups = None

    def build(self, input_shape):
        axis = config.channel_axis(self.data_format)
        channels = self._known_size(input_shape, axis)
        self._output_size(input_shape)
        self.in_channels, self.groups = channels, channels
        middle = channels * self.depth_multiplier
        self.add_weight("depthwise_weight", (*self.kernel_size, channels, self.depth_multiplier),
                        self.depthwise_initializer, regularizer=self.depthwise_regularizer,
                        constraint=self.depthwise_constraint,
                        to_keras=_depthwise_to_keras(channels), from_keras=depthwise_to_torch)
        self.add_weight("pointwise_weight", (1,) * self.rank + (middle, self.filters),
                        self.pointwise_initializer, regularizer=self.pointwise_regularizer,
                        constraint=self.pointwise_constraint, to_keras=kernel_to_keras,
                        from_keras=kernel_to_torch)
        self._add_bias()
        self._pin_input_axes({axis: channels})

    def _convolve(self, x, kernel=None, bias=None):
        x, native = self._padded(x)
        if kernel is None:
            kernel, bias = self.pointwise_weight, self.bias
        conv = _CONV[self.rank]
        y = conv(x, self.depthwise_weight, None, self.strides, native, self.dilation_rate,
                 self.groups)
        return conv(y, kernel, bias)

    def get_config(self):
        return {**Layer.get_config(self), "filters": self.filters,
                "kernel_size": self.kernel_size, "strides": self.strides,
                "padding": self.padding, "data_format": self.data_format,
                "dilation_rate": self.dilation_rate,
                "depth_multiplier": self.depth_multiplier,
                "activation": activations.serialize(self.activation),
                "use_bias": self.use_bias,
                **self._serialized("depthwise_initializer", "pointwise_initializer",
                                   "bias_initializer", "depthwise_regularizer",
                                   "pointwise_regularizer", "bias_regularizer",
                                   "activity_regularizer", "depthwise_constraint",
                                   "pointwise_constraint", "bias_constraint")}


def transpose_output_length(length, kernel, stride, padding, output_padding, dilation):
    """Keras/TensorFlow's output length of a transposed convolution along one axis."""
    if length is None:
        return None
    span = pad_math.effective_kernel(kernel, dilation)
    if padding == "valid":
        extra = max(span, stride) - span if output_padding is None else output_padding
        return (length - 1) * stride + span + extra
    if output_padding is None:
        return length * stride
    return (length - 1) * stride + span % 2 + output_padding


class BaseConvTranspose(BaseConv):
    """A transposed convolution (the gradient of a convolution), TensorFlow-exact.

    The full transposed result ((n - 1) * s + span per axis) is computed by torch, then
    cropped or zero-extended to TensorFlow's output size exactly as ``conv_transpose``
    places it ('same' crops ``(full - out) // 2`` before), and only then biased: any
    ``output_padding`` works (torch's own needs it below the stride and before no
    padding). Stored as ``nn.ConvTransposeNd``: ``weight`` (in, filters, *kernel_size).

    Args:
        filters, kernel_size, strides, padding ('valid' or 'same'), data_format,
        dilation_rate, activation, use_bias and the initializers, regularizers and
        constraints: as :class:`BaseConv`.
        output_padding: None, an int or one per axis: extra output length (Keras's).
    """

    def __init__(self, filters, kernel_size, strides=1, padding="valid", output_padding=None,
                 data_format=None, dilation_rate=1, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, *, input_shape=None, name=None,
                 trainable=True):
        super().__init__(filters, kernel_size, strides, padding, data_format, dilation_rate,
                         1, activation, use_bias, kernel_initializer, bias_initializer,
                         kernel_regularizer, bias_regularizer, activity_regularizer,
                         kernel_constraint, bias_constraint, input_shape=input_shape,
                         name=name, trainable=trainable)
        if self.padding == "causal":
            raise invalid_value("padding", "one of ('valid', 'same')", padding)
        self.output_padding = None if output_padding is None else \
            int_tuple("output_padding", output_padding, self.rank, minimum=0)

    def build(self, input_shape):
        axis = config.channel_axis(self.data_format)
        channels = self._known_size(input_shape, axis)
        self.in_channels = channels
        self._add_kernel((*self.kernel_size, self.filters, channels))
        self._add_bias()
        self._pin_input_axes({axis: channels})

    def _output_size(self, input_shape):
        spatial = config.spatial_shape(input_shape, self.data_format)
        extra = self.output_padding or (None,) * self.rank
        return tuple(transpose_output_length(n, k, s, self.padding, p, d) for n, k, s, p, d in
                     zip(spatial, self.kernel_size, self.strides, extra, self.dilation_rate))

    def _convolve(self, x):
        size = tuple(x.shape[2:])
        extra = self.output_padding or (None,) * self.rank
        y = _CONV_TRANSPOSE[self.rank](x, self.weight, None, self.strides, 0, 0, 1,
                                       self.dilation_rate)
        index, pads = [slice(None), slice(None)], []
        for axis, (n, k, s, p, d) in enumerate(zip(size, self.kernel_size, self.strides,
                                                   extra, self.dilation_rate)):
            out = transpose_output_length(n, k, s, self.padding, p, d)
            total = y.shape[2 + axis] - out
            before = total // 2 if self.padding == "same" and total > 0 else 0
            index.append(slice(before, before + out))
            pads.append((0, max(-total, 0)))
        y = y[tuple(index)]
        if any(after for _, after in pads):
            y = F.pad(y, [v for pair in reversed(pads) for v in pair])
        if self.bias is not None:
            y = y + self.bias.view((1, -1) + (1,) * self.rank)
        return y

    def channels_first_output(self, shapes):
        return None

    def get_config(self):
        config_ = {**super().get_config(), "output_padding": self.output_padding}
        config_.pop("groups")
        return config_


class Conv1D(BaseConv):
    """1-D convolution over (N, steps, C) sequences (see :class:`BaseConv`); ``padding`` may
    also be 'causal' (output t sees inputs up to t only).

    Example:
        >>> Conv1D(8, 3, padding="causal", dilation_rate=2)(torch.zeros(4, 50, 6)).shape
        torch.Size([4, 50, 8])
    """

    rank = 1


class Conv2D(BaseConv):
    """2-D convolution over (N, H, W, C) images (see :class:`BaseConv`).

    Example:
        >>> conv = Conv2D(32, 3, strides=2, padding="same", kernel_initializer="he_normal")
        >>> conv(torch.zeros(8, 45, 45, 16)).shape
        torch.Size([8, 23, 23, 32])
    """

    rank = 2


class Conv3D(BaseConv):
    """3-D convolution over (N, D, H, W, C) volumes (see :class:`BaseConv`).

    Example:
        >>> Conv3D(4, 3, padding="same")(torch.zeros(2, 5, 9, 9, 1)).shape
        torch.Size([2, 5, 9, 9, 4])
    """

    rank = 3


class DepthwiseConv1D(BaseDepthwiseConv):
    """Depthwise 1-D convolution over (N, steps, C)."""

    rank = 1


class DepthwiseConv2D(BaseDepthwiseConv):
    """Depthwise 2-D convolution (MobileNet's), one kernel set per input channel.

    Example:
        >>> DepthwiseConv2D(3, padding="same", depth_multiplier=2)(torch.zeros(1, 8, 8, 4)).shape
        torch.Size([1, 8, 8, 8])
    """

    rank = 2


class SeparableConv1D(BaseSeparableConv):
    """Depthwise then pointwise 1-D convolution over (N, steps, C)."""

    rank = 1


class SeparableConv2D(BaseSeparableConv):
    """Depthwise then pointwise 2-D convolution (Xception's)."""

    rank = 2


class Conv1DTranspose(BaseConvTranspose):
    """Transposed 1-D convolution over (N, steps, C)."""

    rank = 1


class Conv2DTranspose(BaseConvTranspose):
    """Transposed 2-D convolution (U-Net's up-convolution), TensorFlow-exact.

    Example:
        >>> Conv2DTranspose(8, 3, strides=2, padding="same")(torch.zeros(1, 7, 7, 4)).shape
        torch.Size([1, 14, 14, 8])
    """

    rank = 2


class Conv3DTranspose(BaseConvTranspose):
    """Transposed 3-D convolution over (N, D, H, W, C) volumes."""

    rank = 3
