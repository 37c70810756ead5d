"""``Input`` and ``InputLayer``: where a functional graph (or a Sequential) starts."""

from kconv import symbolic
from kconv.layers.layer import Layer
from kconv.validation import invalid_value, is_int, shape_tuple


class InputLayer(Layer):
    """The layer behind :func:`Input`: it holds the input's batch shape and produces the
    graph's first symbolic tensor (``layer.output``). Called on data it is the identity.

    Args:
        shape: the shape of one sample, e.g. (28, 28, 1); None for an unknown size.
        batch_size: optional fixed batch size.
        dtype: the input's dtype name (default 'float32').
        batch_shape: the whole shape instead of ``shape`` and ``batch_size``.
        name: the layer name (default 'input_layer', 'input_layer_1', ...).
    """

    def __init__(self, shape=None, batch_size=None, dtype=None, sparse=None, batch_shape=None,
                 input_tensor=None, optional=False, name=None, *, ragged=None):
        super().__init__(name=name)
        _refuse(sparse=sparse, ragged=ragged, input_tensor=input_tensor, optional=optional)
        if batch_shape is not None:
            if shape is not None or batch_size is not None:
                raise invalid_value("batch_shape", "None when shape or batch_size is given",
                                    batch_shape)
            if not isinstance(batch_shape, (list, tuple)) or not batch_shape:
                raise invalid_value("batch_shape", "a tuple with the batch axis first",
                                    batch_shape)
            batch_size, shape = batch_shape[0], batch_shape[1:]
        if shape is None:
            raise invalid_value("shape", "a tuple of positive ints or None", shape)
        if batch_size is not None and not (is_int(batch_size) and batch_size > 0):
            raise invalid_value("batch_size", "None or a positive int", batch_size)
        self.batch_shape = (batch_size,) + shape_tuple("shape", shape)
        self.dtype = symbolic.dtype_name(dtype)
        self.build_for(self.batch_shape)
        output = symbolic.KerasTensor(self.batch_shape, self.dtype, name=name,
                                      history=(self, 0, 0))
        self._inbound_nodes.append(symbolic.Node(self, [], False, [output]))

    @property
    def shape(self):
        """The shape of one sample (without the batch axis)."""
        return self.batch_shape[1:]

    def call(self, x):
        return x

    def get_config(self):
        return {"batch_shape": self.batch_shape, "dtype": self.dtype, "sparse": False,
                "ragged": False, "name": self.name, "optional": False}


def _refuse(**arguments):
    """Keras's arguments for inputs kconv does not have, accepted at their defaults only."""
    for key, value in arguments.items():
        if value is not None and value is not False:
            raise invalid_value(key, "None or False (kconv has no sparse, ragged, optional or "
                                "tensor-backed inputs)", value)


def Input(shape=None, batch_size=None, dtype=None, sparse=None, batch_shape=None, name=None,
          tensor=None, optional=False):
    """A symbolic input: the start of a functional graph, or the first item of a
    ``Sequential``. Keras's signature; sparse, ragged and optional inputs are not supported.

    Args:
        shape: the shape of one sample, e.g. (28, 28, 1); None for an unknown size.
        batch_size: optional fixed batch size.
        dtype: the input's dtype name (default 'float32').
        batch_shape: the whole shape, batch axis first, instead of shape and batch_size.
        name: the input's name (default 'input_layer', 'input_layer_1', ...).

    Returns:
        A :class:`~kconv.symbolic.KerasTensor` of shape ``(batch_size, *shape)``.

    Example:
        >>> inputs = Input((28, 28, 1))
        >>> outputs = Dense(10)(Flatten()(inputs))
        >>> model = kconv.Model(inputs, outputs)
    """
    layer = InputLayer(shape, batch_size, dtype, sparse, batch_shape, tensor, optional, name)
    return layer.output
