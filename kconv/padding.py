"""TensorFlow-exact 'same'/'valid' padding arithmetic: pure functions on ints.

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
    if padding == "same":
        return (length + stride - 1) // stride
    return (length - effective_kernel(kernel, dilation)) // stride + 1


def same_padding(length, kernel, stride=1, dilation=1):
    """``(before, after)`` zero padding that TensorFlow's 'same' adds along one axis."""
    total = max(0, (output_length(length, kernel, stride, "same") - 1) * stride
                + effective_kernel(kernel, dilation) - length)
    return total // 2, total - total // 2


def same_padding_2d(size, kernel_size, strides=(1, 1), dilation_rate=(1, 1)):
    """``((top, bottom), (left, right))`` for an input of spatial ``size`` (H, W)."""
    return tuple(same_padding(n, k, s, d)
                 for n, k, s, d in zip(size, kernel_size, strides, dilation_rate))


def torch_padding(pads):
    """Split 2-D pads into (native symmetric padding for the op, F.pad tuple or None).

    Symmetric pads go to the op itself (no copy); any asymmetric axis needs an explicit
    ``F.pad`` with the (left, right, top, bottom) order torch expects.
    """
    (top, bottom), (left, right) = pads
    if top == bottom and left == right:
        return (top, left), None
    return (0, 0), (left, right, top, bottom)


def conv_output_shape(size, kernel_size, strides, padding, dilation_rate=(1, 1)):
    """Spatial output size ``(H, W)`` of a convolution or pooling window."""
    return tuple(output_length(n, k, s, padding, d)
                 for n, k, s, d in zip(size, kernel_size, strides, dilation_rate))


def same_conv_padding(size, kernel_size, strides, dilation_rate=(1, 1)):
    """:func:`torch_padding` of :func:`same_padding_2d`: what a 'same' conv or pool passes
    to torch for an input of spatial ``size``."""
    return torch_padding(same_padding_2d(size, kernel_size, strides, dilation_rate))
