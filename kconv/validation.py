"""Argument validation with one message template for the whole library.

Every user-facing check raises ``ValueError`` (bad value) or ``TypeError`` (bad type)
with the text ``Invalid value for argument `x`: expected ... Received: x=...``.
"""

import math
import numbers

import numpy as np


class InputTooSmallError(ValueError):
    """An input smaller than a layer's window (kernel or pool): the layer's output would
    have no positions. Raised by every convolution and pooling layer."""


def invalid_value(name, expected, value):
    """The ValueError for argument ``name``: what was expected and what was received."""
    return ValueError(f"Invalid value for argument `{name}`: expected {expected}. "
                      f"Received: {name}={value!r}")


def invalid_type(name, expected, value):
    """The TypeError for argument ``name``, naming the type that was received."""
    return TypeError(f"Invalid type for argument `{name}`: expected {expected}. "
                     f"Received: {name}={value!r} of type {type(value).__name__}")


def is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def check_int(name, value, minimum=1):
    """An int >= ``minimum`` (bools are rejected)."""
    if not is_int(value):
        raise invalid_type(name, "an int", value)
    if value < minimum:
        raise invalid_value(name, f"an int >= {minimum}", value)
    return int(value)


def check_bool(name, value):
    """A bool (NumPy's too), not a truthy string or number: ``use_bias='False'`` is an
    error, not True."""
    if not isinstance(value, (bool, np.bool_)):
        raise invalid_type(name, "a bool (True or False)", value)
    return bool(value)


def check_optional_function(name, value, expected):
    """None, or a callable; ``expected`` words what the function takes."""
    if value is not None and not callable(value):
        raise invalid_type(name, expected, value)
    return value


def check_float(name, value, minimum=None, maximum=None, strict_minimum=False):
    """A finite real number within optional bounds, returned as float."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise invalid_type(name, "a number", value)
    value = float(value)
    too_low = minimum is not None and (value <= minimum if strict_minimum else value < minimum)
    if not math.isfinite(value) or too_low or (maximum is not None and value > maximum):
        if minimum is not None and maximum is not None:
            expected = f"a number in [{minimum}, {maximum}]"
        elif minimum is not None:
            expected = f"a number {'>' if strict_minimum else '>='} {minimum}"
        else:
            expected = "a finite number"
        raise invalid_value(name, expected, value)
    return value


def check_choice(name, value, choices, lower=False):
    """One of ``choices``; with ``lower`` the value is matched case-insensitively."""
    if not isinstance(value, str):
        raise invalid_type(name, f"one of {tuple(choices)}", value)
    key = value.lower() if lower else value
    if key not in choices:
        raise invalid_value(name, f"one of {tuple(choices)}", value)
    return key


def int_tuple(name, value, n, minimum=1):
    """An int or a sequence of ``n`` ints, each >= ``minimum``, as a tuple (Keras's
    ``standardize_tuple``)."""
    if is_int(value):
        items = (value,) * n
    elif isinstance(value, (tuple, list)):
        items = tuple(value)
    else:
        raise invalid_type(name, f"an int or a tuple of {n} ints", value)
    if len(items) != n or not all(is_int(v) for v in items):
        raise invalid_value(name, f"an int or a tuple of {n} ints", value)
    if any(v < minimum for v in items):
        raise invalid_value(name, f"ints >= {minimum}", value)
    return tuple(int(v) for v in items)


def shape_tuple(name, value):
    """A shape without the batch axis: a tuple of positive ints or None."""
    if is_int(value):
        value = (value,)
    if not isinstance(value, (tuple, list)) or not all(
            v is None or (is_int(v) and v > 0) for v in value):
        raise invalid_value(name, "a tuple of positive ints or None", value)
    return tuple(None if v is None else int(v) for v in value)
