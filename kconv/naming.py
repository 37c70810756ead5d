"""Keras-style automatic layer names: snake_case class name plus a per-session counter."""

import collections
import re

_counts = collections.Counter()


def to_snake_case(name):
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def unique_name(base):
    """``base`` the first time, then ``base_1``, ``base_2``... (as Keras)."""
    n = _counts[base]
    _counts[base] += 1
    return base if n == 0 else f"{base}_{n}"


def clear_session():
    """Reset the automatic name counters, like ``keras.backend.clear_session()``."""
    _counts.clear()
