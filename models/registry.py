"""The registry of networks: builders registered by name."""

from kconv.validation import check_int, invalid_value, is_int

_BUILDERS = {}


def register(name):
    """Decorator: register a keyword-only network builder under ``name``."""
    def wrap(builder):
        if name in _BUILDERS:
            raise ValueError(f"a model named {name!r} is already registered")
        _BUILDERS[name] = builder
        return builder
    return wrap


def list_models():
    """The registered names, sorted."""
    return sorted(_BUILDERS)


def get_model(name, **kwargs):
    """Build the network registered as ``name`` with the builder's keyword arguments.

    Raises:
        ValueError: for an unknown name, listing the valid ones.

    Example:
        >>> model = get_model("mnist_cnn", classes=10)
    """
    if name not in _BUILDERS:
        raise invalid_value("model", f"one of {tuple(list_models())}", name)
    if "classes" in kwargs:  # checked under its own name, not as the last Dense's units
        check_int("classes", kwargs["classes"], minimum=2)
    if kwargs.get("input_shape") is not None:
        shape = kwargs["input_shape"]
        if not (isinstance(shape, (tuple, list)) and len(shape) == 3
                and all(is_int(d) and d > 0 for d in shape)):
            raise invalid_value("input_shape", "(height, width, channels): three positive "
                                "ints", shape)
    return _BUILDERS[name](**kwargs)


def builder(name):
    """The builder function registered as ``name``."""
    if name not in _BUILDERS:
        raise invalid_value("model", f"one of {tuple(list_models())}", name)
    return _BUILDERS[name]


def describe(name):
    """What a network is, in one line: its builder's ``description`` (the ablation table's
    change of a variant) or the first line of its docstring."""
    build = builder(name)
    text = getattr(build, "description", None) or (build.__doc__ or name).strip()
    return text.splitlines()[0]
