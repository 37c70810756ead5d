"""``keras.ops``'s element-wise arithmetic: ``add``, ``subtract``, ``multiply``, ``divide``,
``true_divide``, ``maximum``, ``minimum``, ``power``, ``negative``; and, on tensors and
arrays only (outside graphs), the helpers keras.io's examples call on predictions:
``convert_to_tensor``, ``convert_to_numpy``, ``expand_dims``, ``squeeze``, ``sigmoid``,
``softmax``, ``argmax``.

On tensors (or numbers) they compute. On symbolic tensors they record one graph node, as
Keras records an operation, so functional code that writes ``x * (1.0 / 6.0)`` or
``keras.ops.add(x, 3.0)`` builds, saves and loads as in Keras (Keras Applications'
MobileNetV3 computes its hard-sigmoid so). A node's numeric operands are stored by position
on its :class:`Operation`; its tensor operands are its inputs, in order.
"""

import functools
import numbers
import operator

import numpy as np
import torch

from kconv.layers.layer import Layer
from kconv.symbolic import KerasTensor
from kconv.validation import invalid_type, invalid_value


class Operation(Layer):
    """One element-wise ``keras.ops`` call in a graph (Keras's ``keras.src.ops.numpy``
    operation of the same class name): no weights; called on the list of its tensor
    operands.

    Args:
        constants: one entry per operand, in order: None where a tensor comes in, else
            the number used there (Keras saves them in the node's arguments).
        name: the node name (default: the snake_case class name plus a counter, as Keras).
    """

    function = None  # the element-wise function of the operands
    arity = 2
    # whether a node with these constants computes the same bits on channels-first views
    exact_on_views = staticmethod(lambda constants: True)

    def __init__(self, constants=None, *, name=None):
        super().__init__(name=name)
        constants = (None,) * self.arity if constants is None else tuple(constants)
        if (len(constants) != self.arity or all(c is not None for c in constants)
                or not all(c is None or _is_number(c) for c in constants)):
            raise invalid_value("constants", f"{self.arity} entries, each None (a tensor "
                                "operand, at least one) or a number", constants)
        self.constants = constants

    @property
    def tensor_count(self):
        return self.constants.count(None)

    def _operands(self, tensors):
        it = iter(tensors)
        return [next(it) if c is None else c for c in self.constants]

    def compute_output_shape(self, input_shape):
        if len(input_shape) != self.tensor_count:
            raise self._error(f"takes {self.tensor_count} tensor operand(s); received "
                              f"shapes {input_shape}")
        return functools.reduce(broadcast_shapes, [tuple(s) for s in input_shape])

    def forward(self, inputs):
        if isinstance(inputs, (torch.Tensor, KerasTensor)):
            inputs = [inputs]
        return super().forward(inputs)

    def call(self, inputs):
        return type(self).function(*self._operands(inputs))

    def channels_first_output(self, shapes):
        """Numbers and same-rank tensors combine alike on any layout (where the bits agree:
        see ``exact_on_views``)."""
        return True if type(self).exact_on_views(self.constants) else None

    def call_channels_first(self, inputs):
        return self.call(inputs)

    def keras_args(self, tensors):
        """The node's arguments as Keras saves them: ``tensors`` (one per tensor operand,
        serialized) and the numbers, in operand order."""
        return self._operands(tensors)

    def get_config(self):
        return {"name": self.name}


def broadcast_shapes(shape1, shape2):
    """NumPy broadcasting of two shapes as ``keras.ops`` infers it: an unknown size (None)
    meeting a known one takes the known one, unless that is 1."""
    rank = max(len(shape1), len(shape2))
    shape1 = (1,) * (rank - len(shape1)) + tuple(shape1)
    shape2 = (1,) * (rank - len(shape2)) + tuple(shape2)
    out = []
    for a, b in zip(shape1, shape2):
        if a == 1 or (a is None and b != 1):
            out.append(b)
        elif b in (1, None, a):
            out.append(a)
        else:
            raise ValueError(f"Cannot broadcast shapes {shape1} and {shape2}: size {a} "
                             f"against {b}")
    return tuple(out)


def _is_number(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _maximum(x1, x2):
    if _is_number(x2):
        return torch.clamp(x1, min=x2)
    return torch.clamp(x2, min=x1) if _is_number(x1) else torch.maximum(x1, x2)


def _minimum(x1, x2):
    if _is_number(x2):
        return torch.clamp(x1, max=x2)
    return torch.clamp(x2, max=x1) if _is_number(x1) else torch.minimum(x1, x2)


def _operation(name, function, arity=2, exact_on_views=None):
    return type(name, (Operation,), {
        "function": staticmethod(function), "arity": arity,
        "exact_on_views": staticmethod(exact_on_views or Operation.exact_on_views),
        "__doc__": f"Keras's ``{name}`` operation (:func:`{_snake(name)}` in a graph).",
        "__module__": __name__})


def _snake(name):
    return {"TrueDivide": "true_divide"}.get(name, name.lower())


Add = _operation("Add", operator.add)
Subtract = _operation("Subtract", operator.sub)
Multiply = _operation("Multiply", operator.mul)
Divide = _operation("Divide", operator.truediv)
TrueDivide = _operation("TrueDivide", operator.truediv)
Maximum = _operation("Maximum", _maximum)
Minimum = _operation("Minimum", _minimum)
Power = _operation("Power", operator.pow,  # torch's x ** tensor differs on views by a bit
                   exact_on_views=lambda constants: constants[1] is not None)
Negative = _operation("Negative", operator.neg, arity=1)
OPERATIONS = {cls.__name__: cls for cls in (Add, Subtract, Multiply, Divide, TrueDivide,
                                            Maximum, Minimum, Power, Negative)}


def _apply(cls, *operands):
    """``cls``'s function of the operands, or, if one is symbolic, its graph node."""
    if not any(isinstance(x, KerasTensor) for x in operands):
        return cls.function(*[x if _is_number(x) or isinstance(x, torch.Tensor)
                              else torch.as_tensor(x) for x in operands])
    for i, x in enumerate(operands):
        if not (isinstance(x, KerasTensor) or _is_number(x)):
            raise invalid_type(f"x{i + 1}", "a KerasTensor or a number (in a functional "
                               "graph)", x)
    constants = [None if isinstance(x, KerasTensor) else x for x in operands]
    return cls(constants)([x for x in operands if isinstance(x, KerasTensor)])


def add(x1, x2):
    """``x1 + x2``."""
    return _apply(Add, x1, x2)


def subtract(x1, x2):
    """``x1 - x2``."""
    return _apply(Subtract, x1, x2)


def multiply(x1, x2):
    """``x1 * x2``."""
    return _apply(Multiply, x1, x2)


def divide(x1, x2):
    """``x1 / x2``."""
    return _apply(Divide, x1, x2)


def true_divide(x1, x2):
    """``x1 / x2`` (what Keras records for the ``/`` operator)."""
    return _apply(TrueDivide, x1, x2)


def maximum(x1, x2):
    """The element-wise maximum."""
    return _apply(Maximum, x1, x2)


def minimum(x1, x2):
    """The element-wise minimum."""
    return _apply(Minimum, x1, x2)


def power(x1, x2):
    """``x1 ** x2``."""
    return _apply(Power, x1, x2)


def negative(x):
    """``-x``."""
    return _apply(Negative, x)


# ----------------------------------------------------------------------------- eager helpers
def convert_to_tensor(x, dtype=None):
    """``x`` (an array, a number, a tensor) as a torch tensor (of ``dtype``)."""
    if isinstance(x, KerasTensor):
        raise invalid_type("x", "a tensor or an array (keras.ops helpers run outside graphs)",
                           x)
    tensor = x if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x))
    return tensor if dtype is None else tensor.to(getattr(torch, str(dtype)))


def convert_to_numpy(x):
    """``x`` as a NumPy array."""
    tensor = convert_to_tensor(x)
    return tensor.detach().cpu().numpy()


def expand_dims(x, axis):
    """``x`` with a new axis of size 1 at ``axis``."""
    return convert_to_tensor(x).unsqueeze(axis)


def squeeze(x, axis=None):
    """``x`` without its axes of size 1 (or without ``axis``)."""
    x = convert_to_tensor(x)
    return x.squeeze() if axis is None else x.squeeze(axis)


def sigmoid(x):
    """``1 / (1 + exp(-x))``."""
    return torch.sigmoid(convert_to_tensor(x).float())


def softmax(x, axis=-1):
    """The softmax along ``axis``."""
    return torch.softmax(convert_to_tensor(x).float(), dim=axis)


def argmax(x, axis=None, keepdims=False):
    """The index of the largest value (of the flattened ``x`` when ``axis`` is None)."""
    x = convert_to_tensor(x)
    return x.argmax() if axis is None else x.argmax(dim=axis, keepdim=keepdims)
