"""Merging layers: element-wise ``Add``, ``Subtract``, ``Multiply``, ``Average``,
``Maximum``, ``Minimum``; ``Concatenate``; ``Dot``; and their functional forms
(``add([a, b])``...). Each is called on a list of tensors."""

import functools

import torch

from kconv import config
from kconv.layers.layer import Layer
from kconv.layers.normalization import l2_normalize
from kconv.validation import check_float, invalid_type, invalid_value, is_int


class Merge(Layer):
    """Base of the merging layers: a list of inputs with matching (broadcastable) shapes
    and one batch size; inputs of lower rank get axes inserted after the batch axis."""

    min_inputs = 1

    def __init__(self, *, name=None, trainable=True):
        super().__init__(name=name, trainable=trainable)

    def _check_list(self, input_shape):
        if not isinstance(input_shape, list):
            raise ValueError("A merge layer should be called on a list of inputs. Received: "
                             f"input_shape={input_shape} (not a list of shapes)")
        if len(input_shape) < self.min_inputs:
            raise ValueError(f"A merge layer should be called on a list of at least "
                             f"{self.min_inputs} input. Received {len(input_shape)} inputs. "
                             f"Full input_shape received: {input_shape}")
        batches = {shape[0] for shape in input_shape if shape and shape[0] is not None}
        if len(batches) > 1:
            raise ValueError("Cannot merge tensors with different batch sizes. Received "
                             f"tensors with shapes {input_shape}")

    def build(self, input_shape):
        self._check_list(input_shape)
        self.compute_output_shape(input_shape)

    def compute_output_shape(self, input_shape):
        self._check_list(input_shape)
        batches = {shape[0] for shape in input_shape} - {None}
        sample = functools.reduce(_broadcast_shape, [shape[1:] for shape in input_shape])
        return (batches.pop() if batches else None,) + sample

    def channels_first_output(self, shapes):
        """Element-wise merges (and their broadcasting) work on any layout."""
        return True if self._merge is not None else None

    def call_channels_first(self, inputs):
        return self._merge(inputs)

    _merge = None  # the element-wise merges define it

    def call(self, inputs):
        rank = max(x.ndim for x in inputs)
        inputs = [x.reshape(x.shape[:1] + (1,) * (rank - x.ndim) + x.shape[1:])
                  if x.ndim < rank else x for x in inputs]
        return self._merge(inputs)


def _broadcast_shape(shape1, shape2):
    """Keras's element-wise output shape of two sample shapes (no batch axis): trailing
    axes broadcast, None stays unknown."""
    if len(shape2) > len(shape1):
        shape1, shape2 = shape2, shape1
    head, tail = shape1[:len(shape1) - len(shape2)], shape1[len(shape1) - len(shape2):]
    out = []
    for i, j in zip(tail, shape2):
        if i is None or j is None:
            out.append(None)
        elif i == 1 or j == 1:
            out.append(j if i == 1 else i)
        elif i != j:
            raise ValueError(f"Inputs have incompatible shapes. Received shapes {shape1} and "
                             f"{shape2}")
        else:
            out.append(i)
    return tuple(head) + tuple(out)


class Add(Merge):
    """The element-wise sum of its inputs.

    Example:
        >>> Add()([torch.ones(2, 3), torch.ones(2, 3)])
        tensor([[2., 2., 2.], [2., 2., 2.]])
    """

    def _merge(self, inputs):
        return functools.reduce(torch.add, inputs)


class Subtract(Merge):
    """``inputs[0] - inputs[1]`` (exactly two inputs)."""

    def _check_list(self, input_shape):
        super()._check_list(input_shape)
        if len(input_shape) != 2:
            raise ValueError("A `Subtract` layer should be called on exactly 2 inputs. "
                             f"Received: input_shape={input_shape}")

    def _merge(self, inputs):
        return inputs[0] - inputs[1]


class Multiply(Merge):
    """The element-wise product of its inputs."""

    def _merge(self, inputs):
        return functools.reduce(torch.mul, inputs)


class Average(Merge):
    """The element-wise mean of its inputs."""

    def _merge(self, inputs):
        return functools.reduce(torch.add, inputs) / len(inputs)


class Maximum(Merge):
    """The element-wise maximum of its inputs."""

    def _merge(self, inputs):
        return functools.reduce(torch.maximum, inputs)


class Minimum(Merge):
    """The element-wise minimum of its inputs."""

    def _merge(self, inputs):
        return functools.reduce(torch.minimum, inputs)


class Concatenate(Merge):
    """Joins its inputs along ``axis``; every other axis must match.

    Args:
        axis: the concatenation axis (default -1, the channels of channels_last maps).

    Example:
        >>> Concatenate()([torch.ones(2, 3), torch.zeros(2, 4)]).shape
        torch.Size([2, 7])
    """

    def __init__(self, axis=-1, *, name=None, trainable=True):
        super().__init__(name=name, trainable=trainable)
        if not is_int(axis):
            raise invalid_type("axis", "an int", axis)
        self.axis = int(axis)

    def _check_list(self, input_shape):
        super()._check_list(input_shape)
        message = ("A `Concatenate` layer requires inputs with matching shapes except for the "
                   f"concatenation axis. Received: input_shape={input_shape}")
        if len({len(shape) for shape in input_shape}) != 1:
            raise ValueError(message)
        rank = len(input_shape[0])
        if not -rank <= self.axis < rank:
            raise invalid_value("axis", f"an axis of inputs of rank {rank}", self.axis)
        axis = self.axis % rank
        for i in range(1, rank):
            sizes = {shape[i] for shape in input_shape if shape[i] is not None}
            if i != axis and len(sizes) > 1:
                raise ValueError(message)

    def compute_output_shape(self, input_shape):
        self._check_list(input_shape)
        axis = self.axis % len(input_shape[0])
        sizes = [shape[axis] for shape in input_shape]
        out = list(input_shape[0])
        for i in range(len(out)):
            known = [shape[i] for shape in input_shape if shape[i] is not None]
            out[i] = known[0] if known and i != axis else out[i]
        out[axis] = None if None in sizes else sum(sizes)
        return tuple(out)

    def call(self, inputs):
        return torch.cat(inputs, dim=self.axis)

    def channels_first_output(self, shapes):
        return True if self.axis % 4 == 3 else None

    def call_channels_first(self, inputs):
        return torch.cat(inputs, dim=1)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


class Dot(Merge):
    """The dot product of two batches of samples along ``axes`` (Keras's ``batch_dot``):
    the remaining axes of the first input, then of the second; a result with only the batch
    axis left gets a last axis of size 1.

    Args:
        axes: one axis for both inputs, or one per input (the batch axis is not allowed).
        normalize: L2-normalize both inputs along their axis first (cosine similarity).

    Example:
        >>> Dot(axes=1)([torch.ones(2, 3), torch.ones(2, 3)])
        tensor([[3.], [3.]])
    """

    min_inputs = 2

    def __init__(self, axes, normalize=False, *, name=None, trainable=True):
        super().__init__(name=name, trainable=trainable)
        if is_int(axes):
            self.axes = int(axes)
        elif isinstance(axes, (list, tuple)):
            if len(axes) != 2 or not all(is_int(a) for a in axes):
                raise invalid_value("axes", "an int or two ints", axes)
            self.axes = tuple(int(a) for a in axes)
        else:
            raise invalid_type("axes", "an int or a tuple of two ints", axes)
        if not isinstance(normalize, bool):
            raise invalid_type("normalize", "a bool", normalize)
        self.normalize = normalize

    def _axes_for(self, rank1, rank2):
        axes = (self.axes, self.axes) if isinstance(self.axes, int) else self.axes
        return axes[0] % rank1, axes[1] % rank2

    def _check_list(self, input_shape):
        super()._check_list(input_shape)
        if len(input_shape) != 2:
            raise ValueError("A `Dot` layer should be called on a list of 2 inputs. "
                             f"Received: input_shape={input_shape}")
        shape1, shape2 = input_shape
        if len(shape1) < 2 or len(shape2) < 2:
            raise ValueError(f"Cannot do batch_dot on inputs with rank < 2. Received inputs "
                             f"with shapes {shape1} and {shape2}.")
        a1, a2 = self._axes_for(len(shape1), len(shape2))
        if a1 == 0 or a2 == 0:
            raise invalid_value("axes", "axes other than the batch axis 0", self.axes)
        if None not in (shape1[a1], shape2[a2]) and shape1[a1] != shape2[a2]:
            raise ValueError(f"Incompatible input shapes: axis values {shape1[a1]} (at axis "
                             f"{a1}) != {shape2[a2]} (at axis {a2}). Full input shapes: "
                             f"{shape1}, {shape2}")

    def compute_output_shape(self, input_shape):
        self._check_list(input_shape)
        shape1, shape2 = input_shape
        a1, a2 = self._axes_for(len(shape1), len(shape2))
        out = [d for i, d in enumerate(shape1) if i != a1] + \
            [d for i, d in enumerate(shape2) if i not in (0, a2)]
        return tuple(out) if len(out) > 1 else tuple(out) + (1,)

    def call(self, inputs):
        x, y = inputs
        a1, a2 = self._axes_for(x.ndim, y.ndim)
        if self.normalize:
            x, y = (l2_normalize(x, a1, config.epsilon()),
                    l2_normalize(y, a2, config.epsilon()))
        # (batch, x's other axes, y's other axes), summed over the moved-last axes.
        summed = x.ndim + y.ndim
        out = torch.einsum(x.movedim(a1, -1), [0, *range(1, x.ndim - 1), summed],
                           y.movedim(a2, -1), [0, *range(x.ndim - 1, summed - 3), summed],
                           [0, *range(1, summed - 3)])
        return out.unsqueeze(-1) if out.ndim == 1 else out

    def get_config(self):
        return {**super().get_config(), "axes": self.axes, "normalize": self.normalize}


def _functional_form(cls):
    """``name(inputs, **kwargs)``: ``cls(**kwargs)(inputs)``, Keras's functional merge."""
    def merge(inputs, **kwargs):
        return cls(**kwargs)(inputs)

    merge.__name__ = merge.__qualname__ = cls.__name__.lower()
    merge.__doc__ = f"``{cls.__name__}(**kwargs)(inputs)``."
    return merge


add, subtract, multiply, average, maximum, minimum = map(
    _functional_form, (Add, Subtract, Multiply, Average, Maximum, Minimum))


def concatenate(inputs, axis=-1, **kwargs):
    """``Concatenate(axis, **kwargs)(inputs)``."""
    return Concatenate(axis=axis, **kwargs)(inputs)


def dot(inputs, axes=-1, **kwargs):
    """``Dot(axes, **kwargs)(inputs)``."""
    return Dot(axes=axes, **kwargs)(inputs)


class CustomScaleLayer(Merge):
    """``inputs[0] + inputs[1] * scale``: the Keras-internal layer of Keras Applications'
    InceptionResNetV2 (its residual scaling), so that network's files open."""

    min_inputs = 2

    def __init__(self, scale, *, name=None, trainable=True):
        super().__init__(name=name, trainable=trainable)
        self.scale = check_float("scale", scale)

    def _check_list(self, input_shape):
        super()._check_list(input_shape)
        if len(input_shape) != 2:
            raise ValueError(f"CustomScaleLayer takes exactly 2 inputs; received "
                             f"{len(input_shape)}")

    def _merge(self, inputs):
        return inputs[0] + inputs[1] * self.scale

    def get_config(self):
        return {**super().get_config(), "scale": self.scale}
