"""Shared pieces of the network builders: input shapes in either data format, and the
logits of a network whose last layer applies softmax."""

import kconv
from kconv import activations, config
from kconv.validation import invalid_value, shape_tuple


def model_input(input_shape, data_format):
    """``(Input, data_format, channel_axis)`` for a (height, width, channels) shape."""
    data_format = config.standardize_data_format(data_format)
    h, w, c = shape_tuple("input_shape", input_shape)
    if data_format == "channels_last":
        return kconv.Input((h, w, c)), data_format, -1
    return kconv.Input((c, h, w)), data_format, 1


def logits(model, x):
    """The network's output before its final softmax, computed without the softmax (for a
    numerically stable cross-entropy). ``softmax(logits(model, x)) == model(x)``."""
    *body, head = model.layers
    if getattr(head, "activation", None) is not activations.softmax:
        raise invalid_value("model", "a network whose last layer applies softmax",
                            type(head).__name__)
    for layer in body:
        x = layer(x)
    return head.pre_activation(x)
