"""Symbolic tensors and the nodes of functional graphs.

Calling a kconv layer on a :class:`KerasTensor` (what ``Input`` returns) computes nothing:
the layer is built for the input's shape, a :class:`Node` records which tensors went in and
which came out, and the output is a new ``KerasTensor`` of the inferred shape. A functional
``Model`` walks these nodes once, at construction, into a flat list of steps.
"""

import torch

from kconv import naming
from kconv.validation import invalid_type, invalid_value


class KerasTensor:
    """A value a functional graph will compute: its shape (batch axis first, None where
    unknown) and dtype, and where it comes from (``(layer, node_index, tensor_index)``).

    Example:
        >>> x = kconv.Input((28, 28, 1))
        >>> x.shape
        (None, 28, 28, 1)
    """

    def __init__(self, shape, dtype="float32", name=None, history=None):
        self.shape = tuple(shape)
        self.dtype = dtype
        self.name = name if name is not None else naming.unique_name("keras_tensor")
        self._keras_history = history

    @property
    def ndim(self):
        return len(self.shape)

    @property
    def node(self):
        """The node that produced this tensor."""
        layer, node_index, _ = self._keras_history
        return layer._inbound_nodes[node_index]

    def __repr__(self):
        return (f"<KerasTensor shape={self.shape}, dtype={self.dtype}, "
                f"name={self.name}>")

    # Arithmetic records a keras.ops node, as Keras's KerasTensor operators do.
    def __add__(self, other):
        return _ops().add(self, other)

    def __radd__(self, other):
        return _ops().add(other, self)

    def __sub__(self, other):
        return _ops().subtract(self, other)

    def __rsub__(self, other):
        return _ops().subtract(other, self)

    def __mul__(self, other):
        return _ops().multiply(self, other)

    def __rmul__(self, other):
        return _ops().multiply(other, self)

    def __truediv__(self, other):
        return _ops().true_divide(self, other)

    def __rtruediv__(self, other):
        return _ops().true_divide(other, self)

    def __pow__(self, other):
        return _ops().power(self, other)

    def __rpow__(self, other):
        return _ops().power(other, self)

    def __neg__(self):
        return _ops().negative(self)

    def __bool__(self):
        raise TypeError("A symbolic KerasTensor has no value: it cannot be used as a Python "
                        "boolean (call the model on data instead)")


def _ops():
    from kconv import ops  # ops builds on layers, which build on this module
    return ops


class Node:
    """One call of a layer in a graph: the tensors that went in (flat, and whether they were
    passed as a list) and the tensors that came out."""

    def __init__(self, layer, inputs, as_list, outputs):
        self.layer = layer
        self.input_tensors = list(inputs)
        self.as_list = as_list
        self.output_tensors = list(outputs)

    @property
    def parent_nodes(self):
        return [t.node for t in self.input_tensors]


def is_symbolic(x):
    """Whether ``x`` is a KerasTensor or a non-empty list/tuple of them."""
    if isinstance(x, KerasTensor):
        return True
    return isinstance(x, (list, tuple)) and len(x) > 0 and all(
        isinstance(t, KerasTensor) for t in x)


def call(layer, inputs):
    """Record ``layer(inputs)`` on symbolic inputs (see :func:`is_symbolic`): build the
    layer for their shapes and return the symbolic output(s)."""
    as_list = isinstance(inputs, (list, tuple))
    flat = list(inputs) if as_list else [inputs]
    shape = [t.shape for t in flat] if as_list else flat[0].shape
    output_shape = layer.build_for(shape)
    node_index = len(layer._inbound_nodes)
    shapes = output_shape if isinstance(output_shape, list) else [output_shape]
    dtype, precision = flat[0].dtype, getattr(layer, "_precision", None)
    if precision is not None and "float" in dtype:  # Keras: a policy's compute dtype
        dtype = dtype_name(precision)
    outputs = [KerasTensor(s, dtype, history=(layer, node_index, i))
               for i, s in enumerate(shapes)]
    layer._inbound_nodes.append(Node(layer, flat, as_list, outputs))
    return outputs if isinstance(output_shape, list) else outputs[0]


def dtype_name(dtype):
    """A Keras dtype name ('float32', ...) from None, a name or a ``torch.dtype``."""
    if dtype is None:
        return "float32"
    if isinstance(dtype, torch.dtype):
        return str(dtype).replace("torch.", "")
    if not isinstance(dtype, str):
        raise invalid_type("dtype", "None, a dtype name such as 'float32', or a torch.dtype",
                           dtype)
    if not isinstance(getattr(torch, dtype, None), torch.dtype):
        raise invalid_value("dtype", "a dtype name such as 'float32'", dtype)
    return dtype
