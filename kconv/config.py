"""Global settings resolved like Keras: run-time value > ``keras.json`` > default.

The file is ``$KERAS_HOME/keras.json`` when ``KERAS_HOME`` is set, else
``~/.keras/keras.json`` (``/tmp/.keras`` when the home folder is not writable). kconv only
reads it, never writes it.
"""

import json
import os

from kconv.validation import check_choice, check_float

DATA_FORMATS = ("channels_first", "channels_last")
_overrides = {}
_DEFAULTS = {"image_data_format": "channels_last", "epsilon": 1e-7}


def config_path():
    """The path of the ``keras.json`` that kconv reads."""
    if "KERAS_HOME" in os.environ:
        base = os.environ["KERAS_HOME"]
    else:
        home = os.path.expanduser("~")
        base = os.path.join(home if os.access(home, os.W_OK) else "/tmp", ".keras")
    return os.path.join(base, "keras.json")


def _file_value(key):
    path = config_path()
    if not os.path.isfile(path):
        return _DEFAULTS[key]
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError) as e:
        raise ValueError(f"Invalid Keras configuration file {path}: {e}") from None
    if not isinstance(data, dict) or key not in data:
        return _DEFAULTS[key]
    try:
        return _validate(key, data[key])
    except (TypeError, ValueError) as e:
        raise ValueError(f"Invalid Keras configuration file {path}: {e}") from None


def _validate(key, value):
    if key == "image_data_format":
        return check_choice("image_data_format", value, DATA_FORMATS, lower=True)
    return check_float("epsilon", value, minimum=0.0, strict_minimum=True)


def image_data_format():
    """The default ``data_format``: 'channels_last' unless set or configured otherwise."""
    if "image_data_format" in _overrides:
        return _overrides["image_data_format"]
    return _file_value("image_data_format")


def set_image_data_format(data_format):
    """Set the default ``data_format`` for layers constructed from now on.

    ``None`` forgets the run-time value (the file or the default applies again).
    """
    _set("image_data_format", data_format)


def epsilon():
    """The fuzz factor used by constraints and losses (Keras default 1e-7)."""
    if "epsilon" in _overrides:
        return _overrides["epsilon"]
    return _file_value("epsilon")


def set_epsilon(value):
    """Set the fuzz factor; ``None`` forgets the run-time value."""
    _set("epsilon", value)


def _set(key, value):
    if value is None:
        _overrides.pop(key, None)
    else:
        _overrides[key] = _validate(key, value)


def standardize_data_format(data_format):
    """``None`` → the global default; otherwise lowercased and checked."""
    if data_format is None:
        return image_data_format()
    return check_choice("data_format", data_format, DATA_FORMATS, lower=True)


def channel_axis(data_format):
    """The channel axis of a batch: -1 for 'channels_last', 1 for 'channels_first'."""
    return -1 if data_format == "channels_last" else 1


def spatial_axes(data_format, ndim):
    """The spatial axes of an ``ndim``-dimensional batch: ``(1, ..., ndim - 2)`` for
    'channels_last', ``(2, ..., ndim - 1)`` for 'channels_first'."""
    start = 1 if data_format == "channels_last" else 2
    return tuple(range(start, start + ndim - 2))


def spatial_shape(shape, data_format):
    """The spatial sizes of a batch ``shape``: ``(H, W)`` of (N, H, W, C) or (N, C, H, W)."""
    return tuple(shape[axis] for axis in spatial_axes(data_format, len(shape)))


def batch_shape(batch, spatial, channels, data_format):
    """A batch shape from its parts: ``(N, *spatial, C)`` or ``(N, C, *spatial)``."""
    if data_format == "channels_last":
        return (batch, *spatial, channels)
    return (batch, channels, *spatial)


def to_channels_first(x, data_format):
    """A channels_first view of a batch: free for channels_last inputs, whose memory is
    then torch's ``channels_last`` format (what fast convolution kernels want)."""
    return x.movedim(-1, 1) if data_format == "channels_last" else x


def from_channels_first(y, data_format):
    """The inverse of :func:`to_channels_first` (a view)."""
    return y.movedim(1, -1) if data_format == "channels_last" else y


def check_padding(padding, allow_causal=False):
    """'valid' or 'same' (and 'causal' where allowed: Conv1D), case-insensitive, as Keras's
    ``standardize_padding``."""
    choices = ("valid", "same", "causal") if allow_causal else ("valid", "same")
    return check_choice("padding", padding, choices, lower=True)


__all__ = ["config_path", "image_data_format", "set_image_data_format", "epsilon",
           "set_epsilon", "standardize_data_format", "check_padding", "channel_axis",
           "spatial_axes", "spatial_shape", "batch_shape", "to_channels_first",
           "from_channels_first", "DATA_FORMATS"]


def set_dtype_policy(policy):
    """Keras 3's ``keras.config.set_dtype_policy``: the global dtype policy
    (:func:`kconv.mixed_precision.set_global_policy`)."""
    from kconv.mixed_precision import set_global_policy
    set_global_policy(policy)


def dtype_policy():
    """The global dtype policy (:func:`kconv.mixed_precision.global_policy`)."""
    from kconv.mixed_precision import global_policy
    return global_policy()
