"""The base of every kconv layer: a ``torch.nn.Module`` with Keras's naming, lazy build,
weight bookkeeping (initializer, regularizer, constraint, Keras layout), input checks and
activity regularization.
"""

from dataclasses import dataclass
from typing import Callable, Optional

import torch
from torch import nn

from kconv import constraints as constraints_lib
from kconv import initializers, naming, regularizers, serialization
from kconv.validation import shape_tuple


_RESOLVERS = {"initializer": initializers.get, "regularizer": regularizers.get,
              "constraint": constraints_lib.get}


KERNEL_BIAS_KEYS = ("kernel_initializer", "bias_initializer", "kernel_regularizer",
                    "bias_regularizer", "activity_regularizer", "kernel_constraint",
                    "bias_constraint")


def identity(t):
    return t


def oihw_to_hwio(t):
    return t.permute(2, 3, 1, 0)


def hwio_to_oihw(t):
    return t.permute(3, 2, 0, 1)


def transpose(t):
    return t.t()


@dataclass
class WeightSpec:
    """How one weight maps to Keras: its Keras shape, layout converters and hooks."""

    name: str
    keras_shape: tuple
    initializer: Callable
    regularizer: Optional[Callable] = None
    constraint: Optional[Callable] = None
    to_keras: Callable = identity
    from_keras: Callable = identity


class Layer(nn.Module):
    """Base class of kconv layers.

    Subclasses implement ``build(input_shape)`` (create weights with :meth:`add_weight`),
    ``call(x)`` and ``compute_output_shape(input_shape)``. Shapes are Keras batch shapes:
    the batch axis included, ``None`` where unknown.

    Args:
        activity_regularizer: penalty on the layer's output, divided by the batch size.
        input_shape: optional shape without the batch axis; lets a ``Sequential`` build
            at once.
        name: the layer name; by default the snake_case class name plus a counter.
        trainable: False freezes the layer's weights (and BatchNormalization statistics).
    """

    input_ndim = None  # the exact input rank a subclass accepts, if any
    min_ndim = None

    def __init__(self, *, activity_regularizer=None, input_shape=None, name=None,
                 trainable=True):
        super().__init__()
        self.name = name if name is not None else naming.unique_name(
            naming.to_snake_case(type(self).__name__))
        self.activity_regularizer = regularizers.get(activity_regularizer)
        self.input_shape_arg = None if input_shape is None else shape_tuple("input_shape",
                                                                            input_shape)
        self.built = False
        self.build_shape = None
        self.output_shape = None
        self._trainable = bool(trainable)
        self._weight_specs = {}
        self._activity_loss = None
        self._input_axes = {}  # {axis: size} pinned by build(), checked on every call

    # ----------------------------------------------------------------- weights
    def add_weight(self, name, keras_shape, initializer, *, regularizer=None, constraint=None,
                   trainable=True, to_keras=identity, from_keras=identity):
        """Create a parameter (or, if not trainable, a buffer) initialized in Keras layout.

        ``to_keras``/``from_keras`` convert between the stored torch layout and Keras's; the
        initializer runs on ``keras_shape`` so fans and axes keep their Keras meaning.
        """
        spec = WeightSpec(name, tuple(keras_shape), initializers.get(initializer),
                          regularizers.get(regularizer), constraints_lib.get(constraint),
                          to_keras, from_keras)
        value = self._initial_value(spec)
        if name in self.__dict__:  # a ``None`` placeholder set before build
            delattr(self, name)
        if trainable:
            self.register_parameter(name, nn.Parameter(value, requires_grad=self._trainable))
        else:
            self.register_buffer(name, value)
        self._weight_specs[name] = spec
        return getattr(self, name)

    @staticmethod
    def _initial_value(spec):
        return spec.from_keras(spec.initializer(spec.keras_shape)).contiguous()

    def reset_parameters(self):
        """Re-draw every weight from its initializer (torch's convention)."""
        with torch.no_grad():
            for spec in self._weight_specs.values():
                tensor = getattr(self, spec.name)
                tensor.copy_(self._initial_value(spec))

    @property
    def weights(self):
        """All weights in Keras order: trainable parameters, then statistics buffers."""
        return [getattr(m, s.name) for m in self._layers() for s in m._weight_specs.values()]

    @property
    def trainable_weights(self):
        return [w for w in self.weights if isinstance(w, nn.Parameter) and w.requires_grad]

    @property
    def non_trainable_weights(self):
        trainable = {id(w) for w in self.trainable_weights}
        return [w for w in self.weights if id(w) not in trainable]

    @property
    def trainable(self):
        return self._trainable

    @trainable.setter
    def trainable(self, value):
        for layer in self._layers():
            layer._trainable = bool(value)
            for p in layer.parameters(recurse=False):
                p.requires_grad_(bool(value))

    def _layers(self):
        return [m for m in self.modules() if isinstance(m, Layer)]

    def count_params(self):
        """The number of scalars in all weights (Keras's ``count_params``)."""
        if not self.built:
            raise ValueError(f"You tried to call `count_params` on layer '{self.name}', "
                             "but the layer isn't built. Call it on data or build it first.")
        return sum(w.numel() for w in self.weights)

    # ----------------------------------------------------------------- losses
    @property
    def losses(self):
        """Keras's ``layer.losses``: weight penalties of trainable weights, then the
        activity penalties of the last forward pass, for this layer and its sublayers."""
        out = []
        for layer in self._layers():
            for spec in layer._weight_specs.values():
                weight = getattr(layer, spec.name)
                if spec.regularizer is not None and weight.requires_grad:
                    out.append(spec.regularizer(spec.to_keras(weight)))
        for layer in self._layers():
            if layer._activity_loss is not None:
                out.append(layer._activity_loss)
        return out

    # ----------------------------------------------------------------- building
    def build(self, input_shape):
        """Create weights for inputs of ``input_shape`` (batch axis included, may be None)."""
        self.built = True

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def build_for(self, input_shape):
        """Build once (if needed) and record the input and output shapes; returns the
        output shape."""
        input_shape = tuple(input_shape)
        self._check_shape(input_shape)
        if not self.built:
            self.build(input_shape)
            self.built = True
        self.build_shape = input_shape
        self.output_shape = self.compute_output_shape(input_shape)
        return self.output_shape

    def _pin_input_axes(self, axes):
        self._input_axes = dict(axes)

    def _check_shape(self, shape):
        """Keras's input-spec check: rank, then the axes pinned at build."""
        if self.input_ndim is not None and len(shape) != self.input_ndim:
            raise self._incompatible(f"expected ndim={self.input_ndim}, found "
                                     f"ndim={len(shape)}. Full shape received: {shape}")
        if self.min_ndim is not None and len(shape) < self.min_ndim:
            raise self._incompatible(f"expected min_ndim={self.min_ndim}, found "
                                     f"ndim={len(shape)}. Full shape received: {shape}")
        for axis, size in self._input_axes.items():
            if shape[axis] != size:
                raise self._incompatible(f"expected axis {axis} of input shape to have value "
                                         f"{size}, but received input with shape {shape}")

    def _incompatible(self, detail):
        return ValueError(f"Input 0 of layer '{self.name}' ({type(self).__name__}) is "
                          f"incompatible with the layer: {detail}")

    # ----------------------------------------------------------------- calling
    def forward(self, x):
        shape = tuple(x.shape)
        self._check_shape(shape)
        if not self.built:
            self._build_from(x)
        y = self.call(x)
        if self.activity_regularizer is not None:
            penalty = self.activity_regularizer(y)
            self._activity_loss = penalty / y.shape[0] if y.ndim > 0 else penalty
        return y

    def _build_from(self, x):
        self.build_for((None,) + tuple(x.shape[1:]))
        self.to(x.device)

    def call(self, x):
        raise NotImplementedError

    # ----------------------------------------------------------------- config
    def _resolve(self, **identifiers):
        """Set ``*_initializer``/``*_regularizer``/``*_constraint`` attributes from Keras
        identifiers, resolved (and so validated) at construction."""
        for key, value in identifiers.items():
            setattr(self, key, _RESOLVERS[key.rsplit("_", 1)[1]](value))

    def _serialized(self, *keys):
        return {key: serialization.serialize(getattr(self, key)) for key in keys}

    def get_config(self):
        """Keras's config keys for this layer: name, trainable and the constructor args."""
        return {"name": self.name, "trainable": self.trainable}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def extra_repr(self):
        return f"name={self.name!r}"

