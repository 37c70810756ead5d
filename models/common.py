"""Shared pieces of the network builders: input shapes in either data format."""

import kconv
from kconv import config
from kconv.validation import shape_tuple


def model_input(input_shape, data_format):
    """``(Input, data_format, channel_axis)`` for a (height, width, channels) shape."""
    data_format = config.standardize_data_format(data_format)
    h, w, c = shape_tuple("input_shape", input_shape)
    shape = config.batch_shape(None, (h, w), c, data_format)[1:]
    return kconv.Input(shape), data_format, config.channel_axis(data_format)
