"""The one resolver behind ``initializers.get``, ``regularizers.get`` and ``constraints.get``.

Identifiers are None, a Keras name (exact, case-sensitive), a Keras config dict
(``{"class_name": ..., "config": {...}}``), a class or an instance.
"""

import inspect

from kconv.validation import invalid_type, invalid_value


class Configurable:
    """Base of objects whose ``get_config()`` mirrors ``__init__`` and round-trips."""

    _keras_module = None

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __eq__(self, other):
        return type(self) is type(other) and self.get_config() == other.get_config()

    __hash__ = object.__hash__

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


def serialize(obj):
    """A Keras-format dict for a kconv object (None stays None)."""
    if obj is None:
        return None
    if not isinstance(obj, Configurable):  # a plain callable: named, not round-trippable
        return {"module": None, "class_name": getattr(obj, "__name__", type(obj).__name__),
                "config": {}, "registered_name": None}
    return {"module": obj._keras_module, "class_name": type(obj).__name__,
            "config": obj.get_config(), "registered_name": None}


class Resolver:
    """``get(identifier)`` for one family of objects."""

    def __init__(self, family, base, objects):
        self.family = family
        self.base = base
        self.objects = objects

    def names(self):
        return sorted(self.objects)

    def get(self, identifier):
        if identifier is None:
            return None
        if isinstance(identifier, self.base):
            return identifier
        if isinstance(identifier, str):
            return self._lookup(identifier)()
        if isinstance(identifier, dict):
            return self.from_dict(identifier)
        if inspect.isclass(identifier) and issubclass(identifier, self.base):
            return identifier()
        if callable(identifier) and not inspect.isclass(identifier):
            return identifier
        raise invalid_type(self.family, "None, a name, a config dict or an instance of "
                           f"{self.base.__name__}", identifier)

    def from_dict(self, config):
        if "class_name" not in config:
            raise invalid_value(self.family, "a config dict with a 'class_name' key", config)
        cls = self._lookup(config["class_name"])
        return cls.from_config(dict(config.get("config") or {}))

    def _lookup(self, name):
        try:
            return self.objects[name]
        except KeyError:
            raise invalid_value(self.family, f"one of {tuple(self.names())}", name) from None
