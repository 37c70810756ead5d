"""TensorFlow-exact 'same'/'valid' (and Keras's 'causal') padding arithmetic: pure functions
on ints, for any number of spatial axes.

For 'same' the output size is ``ceil(n / s)``; the total padding needed to get it is split
``(total // 2, total - total // 2)``, so an odd extra pixel goes at the end (bottom/right).
"""


def effective_kernel(kernel, dilation=1):
    """The span of a dilated kernel: ``(k - 1) * d + 1``."""
    return (kernel - 1) * dilation + 1


def output_length(length, kernel, stride=1, padding="valid", dilation=1):
    """Output size along one axis; None for an unknown input size."""
    if length is None:
        return None
    if padding in ("same", "causal"):
        return (length + stride - 1) // stride
    return (length - effective_kernel(kernel, dilation)) // stride + 1


def same_padding(length, kernel, stride=1, dilation=1):
    """``(before, after)`` zero padding that TensorFlow's 'same' adds along one axis."""
    total = max(0, (output_length(length, kernel, stride, "same") - 1) * stride
                + effective_kernel(kernel, dilation) - length)
    return total // 2, total - total // 2


def same_padding_nd(size, kernel_size, strides, dilation_rate=None):
    """``((before, after), ...)`` per spatial axis for an input of spatial ``size``
    (e.g. ``((top, bottom), (left, right))`` for (H, W))."""
    dilation_rate = dilation_rate or (1,) * len(size)
    return tuple(same_padding(n, k, s, d)
                 for n, k, s, d in zip(size, kernel_size, strides, dilation_rate))


same_padding_2d = same_padding_nd  # the name of the 2-D era


def causal_padding(kernel_size, dilation_rate):
    """Keras's 'causal' (Conv1D): everything before, ``(k - 1) * d`` zeros, nothing after."""
    return tuple((effective_kernel(k, d) - 1, 0) for k, d in zip(kernel_size, dilation_rate))


def torch_padding(pads):
    """Split per-axis pads into (native symmetric padding for the op, F.pad tuple or None).

    Symmetric pads go to the op itself (no copy); any asymmetric axis needs an explicit
    ``F.pad``, whose tuple lists the last axis first: (left, right, top, bottom, ...).
    """
    if all(before == after for before, after in pads):
        return tuple(before for before, _ in pads), None
    return (0,) * len(pads), tuple(p for pair in reversed(pads) for p in pair)


def conv_output_shape(size, kernel_size, strides, padding, dilation_rate=None):
    """Spatial output size (one per axis) of a convolution or pooling window."""
    dilation_rate = dilation_rate or (1,) * len(size)
    return tuple(output_length(n, k, s, padding, d)
                 for n, k, s, d in zip(size, kernel_size, strides, dilation_rate))


def same_conv_padding(size, kernel_size, strides, dilation_rate=None):
    """:func:`torch_padding` of :func:`same_padding_nd`: what a 'same' conv or pool passes
    to torch for an input of spatial ``size``."""
    return torch_padding(same_padding_nd(size, kernel_size, strides, dilation_rate))
