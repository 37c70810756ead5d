"""``Conv2D``: Keras's 2-D convolution with torch's ``nn.Conv2d`` parameter layout."""

import torch.nn.functional as F

from kconv import activations, config
from kconv import padding as pad_math
from kconv.layers.layer import KERNEL_BIAS_KEYS, Layer, hwio_to_oihw, oihw_to_hwio
from kconv.validation import check_bool, check_int, int_tuple, invalid_value


class Conv2D(Layer):
    """2-D convolution with Keras arguments and TensorFlow-exact 'same' padding.

    Parameters are stored like ``nn.Conv2d``: ``weight`` (filters, in/groups, kh, kw) and
    ``bias`` (filters,). Inputs are (N, H, W, C) for 'channels_last' (the default) and
    (N, C, H, W) for 'channels_first'; channels_last inputs are convolved through a
    zero-copy NCHW view in torch's channels_last memory format.

    Args:
        filters: number of output channels.
        kernel_size: int or (kh, kw).
        strides: int or (sh, sw); > 1 together with dilation > 1 is not allowed.
        padding: 'valid' or 'same' (case-insensitive); 'same' gives ``ceil(n / s)``
            outputs with the odd extra pad pixel at the bottom/right, as TensorFlow.
        data_format: 'channels_last', 'channels_first' or None (the global default).
        dilation_rate: int or (dh, dw).
        groups: number of channel groups; divides ``filters`` and the input channels.
        activation: an activation name or callable; None is linear.
        use_bias: whether to add a bias.
        kernel_initializer, bias_initializer: initializer identifiers (Keras defaults
            'glorot_uniform' and 'zeros'), applied in Keras's HWIO layout.
        kernel_regularizer, bias_regularizer, activity_regularizer: regularizers.
        kernel_constraint, bias_constraint: constraints (axes refer to HWIO).
        input_shape, name, trainable: see :class:`~kconv.layers.Layer`.

    Raises:
        ValueError, TypeError: for invalid arguments, naming the argument.

    Example:
        >>> conv = Conv2D(32, 3, strides=2, padding="same", kernel_initializer="he_normal")
        >>> conv(torch.zeros(8, 45, 45, 16)).shape
        torch.Size([8, 23, 23, 32])
    """

    input_ndim = 4

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", data_format=None,
                 dilation_rate=(1, 1), groups=1, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, *, input_shape=None, name=None,
                 trainable=True):
        super().__init__(activity_regularizer=activity_regularizer, input_shape=input_shape,
                         name=name, trainable=trainable)
        self.kernel_size = int_tuple("kernel_size", kernel_size, 2)
        self.strides = int_tuple("strides", strides, 2)
        self.dilation_rate = int_tuple("dilation_rate", dilation_rate, 2)
        self.padding = config.check_padding(padding)
        self.data_format = config.standardize_data_format(data_format)
        self.activation = activations.get(activation)
        self._resolve(kernel_initializer=kernel_initializer, bias_initializer=bias_initializer,
                      kernel_regularizer=kernel_regularizer, bias_regularizer=bias_regularizer,
                      kernel_constraint=kernel_constraint, bias_constraint=bias_constraint)
        self.filters = check_int("filters", filters)
        self.groups = check_int("groups", groups)
        self.use_bias = check_bool("use_bias", use_bias)
        if self.filters % self.groups:
            raise invalid_value("filters", f"a multiple of groups={self.groups}", filters)
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise invalid_value("dilation_rate", "(1, 1) when strides > 1", dilation_rate)
        self.in_channels = None
        self.bias = None
        self._span = tuple(pad_math.effective_kernel(k, d)
                           for k, d in zip(self.kernel_size, self.dilation_rate))

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
        kh, kw = self.kernel_size
        self.add_weight("weight", (kh, kw, channels // self.groups, self.filters),
                        self.kernel_initializer, regularizer=self.kernel_regularizer,
                        constraint=self.kernel_constraint, to_keras=oihw_to_hwio,
                        from_keras=hwio_to_oihw)
        if self.use_bias:
            self.add_weight("bias", (self.filters,), self.bias_initializer,
                            regularizer=self.bias_regularizer, constraint=self.bias_constraint)
        self._pin_input_axes({axis: channels})

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
        x = config.to_channels_first(x, self.data_format)  # NHWC -> channels_last NCHW view
        return config.from_channels_first(self._convolve(x), self.data_format)

    def channels_first_output(self, shapes):
        if self.data_format == "channels_last" and activations.is_elementwise(self.activation):
            return True
        return None

    def call_channels_first(self, x):
        return self.activation(self._convolve(x))

    def _convolve(self, x):
        """The convolution of a channels-first view, padded as TensorFlow pads."""
        size = tuple(x.shape[-2:])
        if self.padding == "valid" and (size[0] < self._span[0] or size[1] < self._span[1]):
            self._output_size(tuple(config.from_channels_first(x, self.data_format).shape))
        native, explicit = (0, 0), None
        if self.padding == "same":
            native, explicit = pad_math.same_conv_padding(size, self.kernel_size, self.strides,
                                                          self.dilation_rate)
            if explicit is not None:
                x = F.pad(x, explicit)
        return F.conv2d(x, self.weight, self.bias, self.strides, native, self.dilation_rate,
                        self.groups)

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
