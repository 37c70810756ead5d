"""The base of every kconv layer: a ``torch.nn.Module`` with Keras's naming, lazy build,
weight bookkeeping (initializer, regularizer, constraint, Keras layout), input checks and
activity regularization.
"""

import functools
import inspect
import types
from dataclasses import dataclass
from typing import Callable, Optional

import torch
from torch import nn

from kconv import config
from kconv import constraints as constraints_lib
from kconv import initializers, naming, regularizers, serialization
from kconv import padding as pad_math
from kconv import symbolic
from kconv.mixed_precision import policy as policies
from kconv.validation import InputTooSmallError, check_bool, invalid_type, shape_tuple


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
    """How one weight of a layer maps to Keras.

    The tensor is stored in torch's layout under ``name`` (a parameter, or a buffer for
    statistics); Keras sees it through ``to_keras`` as an array of ``keras_shape``, and
    ``from_keras`` converts back. Initializers, regularizers and constraints act on the
    Keras view, so their axes and fans keep their Keras meaning; weight files convert with
    the same pair.

    Attributes:
        name: the attribute name of the tensor on the layer ('weight', 'bias', ...).
        keras_shape: the shape Keras gives this weight (a conv kernel is HWIO).
        initializer: draws the initial value in Keras layout.
        regularizer: penalty on the Keras view, or None.
        constraint: projection of the Keras view after each optimizer step, or None.
        to_keras, from_keras: layout converters between torch's and Keras's layouts.
    """

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
        dtype: its dtype policy (:mod:`kconv.mixed_precision`): 'mixed_float16',
            'mixed_bfloat16', 'float32' or a ``DTypePolicy``; default: the global policy.
            Every layer class takes it, as every Keras layer does.
    """

    input_ndim = None  # the exact input rank a subclass accepts, if any
    min_ndim = None

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        init = cls.__dict__.get("__init__")
        if init is not None and "dtype" not in inspect.signature(init).parameters:
            cls.__init__ = _taking_dtype(init)

    def __init__(self, *, activity_regularizer=None, input_shape=None, name=None,
                 trainable=True, dtype=None):
        super().__init__()
        if name is not None and not isinstance(name, str):
            raise invalid_type("name", "a string or None", name)
        self.name = name if name is not None else naming.unique_name(
            naming.to_snake_case(type(self).__name__))
        self.activity_regularizer = regularizers.get(activity_regularizer)
        self.input_shape_arg = None if input_shape is None else shape_tuple("input_shape",
                                                                            input_shape)
        self.built = False
        self.build_shape = None
        self.output_shape = None
        self._trainable = check_bool("trainable", trainable)
        self._weight_specs = {}
        self._activity_loss = None
        self._input_axes = {}  # {axis: size} pinned by build(), checked on every call
        self._inbound_nodes = []  # the graph nodes of its calls on symbolic tensors
        self._fixed_training = None  # a graph call's ``training=``: its mode whatever the model's
        self._set_policy(dtype)

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
        return [getattr(layer, spec.name) for layer, spec in self.weight_entries()]

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
        value = check_bool("trainable", value)
        for layer in self._layers():
            layer._trainable = value
            for p in layer.parameters(recurse=False):
                p.requires_grad_(value)

    def _layers(self):
        return [m for m in self.modules() if isinstance(m, Layer)]

    def count_params(self):
        """The number of scalars in all weights (Keras's ``count_params``)."""
        if not self.built:
            raise ValueError(f"You tried to call `count_params` on layer '{self.name}', "
                             "but the layer isn't built. Call it on data or build it first.")
        return sum(w.numel() for w in self.weights)

    @property
    def weight_specs(self):
        """This layer's own weights in Keras order, a read-only ``{name: WeightSpec}``
        (sublayers' are on the sublayers): the protocol saving, constraints and tests build
        on. A spec's hooks may be replaced (``spec.constraint = ...``)."""
        return types.MappingProxyType(self._weight_specs)

    def weight_entries(self):
        """``(layer, spec)`` for every weight of this layer and its sublayers, in Keras
        order (the order of :attr:`weights`)."""
        return self._entries(set())

    def _entries(self, seen):
        """:meth:`weight_entries` of this layer's subtree, skipping layers in ``seen`` (a
        layer shared by two parents is listed once, where first met): its own weights,
        then each sublayer's, as Keras lists a layer's variables. A layer whose own
        weights sit among its sublayer's in Keras's order overrides this."""
        seen.add(id(self))
        out = [(self, spec) for spec in self._weight_specs.values()]
        for child in _sublayers(self):
            if id(child) not in seen:
                out += child._entries(seen)
        return out

    def get_weights(self):
        """Keras's ``get_weights``: a copy of every weight as a NumPy array in Keras's
        layout and order."""
        return [spec.to_keras(getattr(layer, spec.name).detach())
                .to("cpu", memory_format=torch.contiguous_format, copy=True).numpy()
                for layer, spec in self.weight_entries()]

    def set_weights(self, weights):
        """Keras's ``set_weights``: arrays in Keras's layout and order (as
        :meth:`get_weights` returns them) are copied into the torch tensors.

        Raises:
            ValueError: the count or a shape does not match, naming the weight.
        """
        entries = self.weight_entries()
        weights = list(weights)
        if len(weights) != len(entries):
            raise self._error(f"set_weights received {len(weights)} arrays, but the layer has "
                              f"{len(entries)} weights")
        for (layer, spec), value in zip(entries, weights):
            if tuple(value.shape) != spec.keras_shape:
                raise self._error(f"weight '{layer.name}.{spec.name}' has Keras shape "
                                  f"{spec.keras_shape}; set_weights received shape "
                                  f"{tuple(value.shape)}")
        with torch.no_grad():
            for (layer, spec), value in zip(entries, weights):
                target = getattr(layer, spec.name)
                target.copy_(spec.from_keras(torch.as_tensor(value)).to(target.dtype))

    # ----------------------------------------------------------------- losses
    @property
    def losses(self):
        """Keras's ``layer.losses``: weight penalties of trainable weights, then the
        activity penalties of the last forward pass, for this layer and its sublayers."""
        out = []
        for layer, spec in self.weight_entries():
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
        # One shape, or a list of shapes for a layer called on a list (merging layers).
        input_shape = [tuple(shape) for shape in input_shape] \
            if isinstance(input_shape, list) else tuple(input_shape)
        self._check_shape(input_shape)
        if not self.built:
            self.build(input_shape)
            self.built = True
        self.build_shape = input_shape
        self.output_shape = self.compute_output_shape(input_shape)
        return self.output_shape

    @property
    def output(self):
        """The symbolic output of the layer's call in a graph (Keras's ``layer.output``).

        Raises:
            ValueError: the layer was never called on symbolic tensors, or more than once.
        """
        return self._only_node("output").output_tensors[0]

    @property
    def input(self):
        """The symbolic input(s) of the layer's call in a graph (Keras's ``layer.input``)."""
        node = self._only_node("input")
        return list(node.input_tensors) if node.as_list else node.input_tensors[0]

    def _only_node(self, what):
        if len(self._inbound_nodes) != 1:
            raise ValueError(f"Layer '{self.name}' has {len(self._inbound_nodes)} inbound "
                             f"nodes, so its {what} is not defined: it is defined for a layer "
                             "called exactly once on symbolic tensors")
        return self._inbound_nodes[0]

    def _pin_input_axes(self, axes):
        self._input_axes = dict(axes)

    def _check_shape(self, shape):
        """Keras's input-spec check: rank, then the axes pinned at build (layers called on
        lists check their inputs themselves)."""
        if isinstance(shape, list):
            return
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

    def _error(self, detail, error=ValueError):
        """The error template of everything a layer refuses once built or called."""
        return error(f"Layer '{self.name}' ({type(self).__name__}): {detail}")

    def _known_size(self, input_shape, axis):
        """The size of ``axis`` of ``input_shape``, which building the layer needs."""
        shape = tuple(input_shape)
        if not -len(shape) <= axis < len(shape):
            raise self._error(f"axis {axis} is out of range for an input of shape {shape}")
        if shape[axis] is None:
            raise self._error(f"axis {axis} of the input must be known to build the layer; "
                              f"received input shape {shape}")
        return shape[axis]

    def _window_output_size(self, input_shape, window, strides, padding, dilation=None,
                            window_name="kernel_size"):
        """The spatial output size of a sliding-window layer (convolution or pooling) on
        ``input_shape``, in the layer's ``data_format``.

        Raises:
            InputTooSmallError: the window does not fit into the input.
        """
        dilation = dilation or (1,) * len(window)
        spatial = config.spatial_shape(input_shape, self.data_format)
        out = pad_math.conv_output_shape(spatial, window, strides, padding, dilation)
        if any(d is not None and d <= 0 for d in out):
            details = f"{window_name}={window}, strides={strides}, padding={padding}"
            if any(d > 1 for d in dilation):
                details += f", dilation_rate={dilation}"
            raise self._error(f"computed output size would be zero or negative. Received "
                              f"inputs shape={tuple(input_shape)}, {details}.",
                              InputTooSmallError)
        return out

    # ----------------------------------------------------------------- calling
    def __call__(self, *args, training=None, **kwargs):
        """Keras's ``training`` argument: on symbolic tensors (in a graph) the layer runs in
        that mode whatever the model's (``base(inputs, training=False)`` keeps a frozen
        base's BatchNormalization in inference while the model fine-tunes, as tf.keras and
        keras.io's transfer-learning guide have it); on tensors, for this call only."""
        if training is None:
            return super().__call__(*args, **kwargs)
        training = check_bool("training", training)
        if args and symbolic.is_symbolic(args[0]):
            self._fixed_training = training
            self.train(self.training)
            return super().__call__(*args, **kwargs)
        modes = [(m, m.training) for m in self.modules()]
        nn.Module.train(self, training)
        try:
            return super().__call__(*args, **kwargs)
        finally:
            for module, mode in modes:
                module.training = mode

    def train(self, mode=True):
        """``nn.Module.train``, except a layer called with ``training=`` in a graph keeps
        that mode."""
        fixed = getattr(self, "_fixed_training", None)
        return super().train(mode if fixed is None else fixed)

    # ----------------------------------------------------------------- precision
    def _set_policy(self, dtype):
        """Keep an explicit policy (``dtype`` given, or a mixed global one); under the
        default float32 policy the layer leaves precision to its caller (None)."""
        policy = policies.get(dtype)
        if dtype is None and policy.name == "float32":
            self._dtype_policy = self._precision = None
        else:
            self._dtype_policy, self._precision = policy, policy.torch_compute_dtype

    @property
    def dtype_policy(self):
        """The layer's :class:`~kconv.mixed_precision.DTypePolicy`."""
        return self._dtype_policy or policies.DTypePolicy("float32")

    @dtype_policy.setter
    def dtype_policy(self, value):
        self._set_policy(policies.get(value))

    @property
    def compute_dtype(self):
        """The dtype it computes in ('float32', 'float16', 'bfloat16')."""
        return self.dtype_policy.compute_dtype

    @property
    def variable_dtype(self):
        return self.dtype_policy.variable_dtype

    def forward(self, x):
        if self._precision is not None:
            return _in_precision(self._precision, self._forward_inputs, x)
        return self._forward_inputs(x)

    def _forward_inputs(self, x):
        if not isinstance(x, torch.Tensor):
            return self._forward_structure(x)
        shape = tuple(x.shape)
        self._check_shape(shape)
        if not self.built:
            self._build_from(x)
        return self._regularize_activity(self._call_with_mode(self._cast_input(x)))

    def _call_with_mode(self, x):
        """``call(x)``, given Keras's ``training`` (the module's mode) when a subclass's
        ``call`` takes it (``def call(self, inputs, training=False)``)."""
        if _takes_training(type(self).call):
            return self.call(x, training=self.training)
        return self.call(x)

    def call_planned(self, x):
        """``forward`` inside a model's plan (:mod:`kconv.models.layout`), for a layer whose
        inputs the model has already checked: the graph fixed their shapes, so only the
        dtype conversion and the activity penalty remain (and no module hooks, which the
        models check for before using a plan)."""
        y = self.call(self._cast_input(x) if isinstance(x, torch.Tensor) else x)
        return y if self.activity_regularizer is None else self._regularize_activity(y)

    def call_planned_channels_first(self, x):
        """:meth:`call_channels_first` inside a model's plan, on the model's own (checked,
        channels_last) inputs: each converted as :meth:`call_planned` converts it, then
        viewed channels-first."""
        if isinstance(x, list):
            return self.call_channels_first([self._cast_input(t).movedim(-1, 1) for t in x])
        return self.call_channels_first(self._cast_input(x).movedim(-1, 1))

    def _cast_input(self, x):
        """Keras's input conversion: floating inputs take the dtype of the layer's weights
        (float64 NumPy data, say; not inside ``torch.autocast``, which picks its own);
        integer or bool inputs into a layer with weights are refused clearly."""
        weight = next(iter(self._parameters.values()), None)
        if weight is None or x.dtype == weight.dtype:
            return x
        if not (x.is_floating_point() or x.is_complex()):
            raise self._error(f"expects floating-point inputs; received {x.dtype} (scale "
                              f"integer images to floats first, e.g. x.float() / 255)",
                              TypeError)
        return self._in_dtype_of(x, weight)

    @staticmethod
    def _in_dtype_of(x, weight):
        """``x`` in ``weight``'s dtype, except inside ``torch.autocast`` (which picks the
        dtype of each op itself)."""
        if x.dtype == weight.dtype or torch.is_autocast_enabled(x.device.type):
            return x
        return x.to(weight.dtype)

    def _forward_structure(self, inputs):
        """A call on symbolic tensors (records a graph node) or on a list of tensors."""
        if symbolic.is_symbolic(inputs):
            return symbolic.call(self, inputs)
        if not (isinstance(inputs, (list, tuple)) and inputs
                and all(isinstance(t, torch.Tensor) for t in inputs)):
            raise invalid_type("inputs", "a tensor, a list of tensors, or KerasTensors (not a "
                               "mix)", inputs)
        inputs = list(inputs)
        if not self.built:
            self._build_from(inputs[0], [(None,) + tuple(t.shape[1:]) for t in inputs],
                             [tuple(t.shape) for t in inputs])
        return self._regularize_activity(self._call_with_mode(inputs))

    def logits(self, x):
        """For a layer with ``pre_activation`` (its output before the activation): that
        output, recording the activity penalty of ``activation(logits)``, the layer's real
        output, as a forward pass does. What a model's ``logits`` ends with."""
        if self._precision is not None:
            return _in_precision(self._precision, self._logits, x)
        return self._logits(x)

    def _logits(self, x):
        z = self.pre_activation(x)
        if self.activity_regularizer is not None:
            self._regularize_activity(self.activation(z))
        return z

    def _regularize_activity(self, y):
        if self.activity_regularizer is not None:
            penalty = self.activity_regularizer(y)
            self._activity_loss = penalty / y.shape[0] if y.ndim > 0 else penalty
        return y

    def _build_from(self, x, shape=None, received=None):
        """Build for a first batch ``x`` (or for ``shape``, the batch-free shapes of a list
        of inputs whose actual shapes are ``received``)."""
        shape = (None,) + tuple(x.shape[1:]) if shape is None else shape
        received = tuple(x.shape) if received is None else received
        try:
            self.build_for(shape)
        except ValueError as error:
            # Messages name the shapes received (as Keras's do), not the batch-free ones.
            message = str(error).replace(str(shape), str(received))
            if isinstance(shape, list):  # shapes named one by one
                for one, actual in zip(shape, received):
                    message = message.replace(str(one), str(actual))
            if message == str(error):
                raise
            raise type(error)(message) from None
        self.to(x.device)

    def call(self, x):
        raise NotImplementedError

    def channels_first_output(self, shapes):
        """For a model's layout pass (:mod:`kconv.models.layout`): None if this layer cannot
        run on channels-first views of channels_last inputs of these ``shapes``, else
        whether its output is then a channels-first view too."""
        return None

    def call_channels_first(self, x):
        """The layer on channels-first views (when :meth:`channels_first_output` allows)."""
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
        """Keras's config keys for this layer: name, trainable, an explicit dtype policy
        (as Keras serializes it) and the constructor args."""
        config = {"name": self.name, "trainable": self.trainable}
        if self._dtype_policy is not None:
            config["dtype"] = {"module": "keras", "class_name": "DTypePolicy",
                               "config": self._dtype_policy.get_config(),
                               "registered_name": None}
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def extra_repr(self):
        return f"name={self.name!r}"


def _taking_dtype(init):
    """A layer class's ``__init__`` that also takes Keras's base-layer ``dtype`` (the
    policy, set once the layer is made)."""
    @functools.wraps(init)
    def __init__(self, *args, dtype=None, **kwargs):
        init(self, *args, **kwargs)
        if dtype is not None:
            self._set_policy(dtype)

    params = list(inspect.signature(init).parameters.values())
    extra = inspect.Parameter("dtype", inspect.Parameter.KEYWORD_ONLY, default=None)
    at = next((i for i, p in enumerate(params) if p.kind is p.VAR_KEYWORD), len(params))
    __init__.__signature__ = inspect.Signature(params[:at] + [extra] + params[at:])
    return __init__


_AUTOCAST_DEVICES = ("cpu", "cuda", "xpu", "mps", "hpu")


def _in_precision(dtype, fn, x):
    """``fn(x)`` computed in ``dtype`` by a layer's policy: a mixed one's half type under
    ``torch.autocast`` (entered unless already on with that type), or float32 (half inputs
    cast up, autocast off)."""
    first = x if isinstance(x, torch.Tensor) else x[0] if isinstance(x, (list, tuple)) and \
        x and isinstance(x[0], torch.Tensor) else None
    if first is None or first.device.type not in _AUTOCAST_DEVICES:
        return fn(x)  # symbolic tensors: nothing is computed
    device = first.device.type
    enabled = torch.is_autocast_enabled(device)
    if dtype == torch.float32:
        x = policies.as_float32(x) if isinstance(x, torch.Tensor) else \
            [policies.as_float32(t) for t in x]
        if not enabled:
            return fn(x)
        with torch.autocast(device, enabled=False):
            return fn(x)
    if enabled and torch.get_autocast_dtype(device) == dtype:
        return fn(x)
    with torch.autocast(device, dtype=dtype):
        return fn(x)


def _sublayers(module):
    """The nearest :class:`Layer` modules below ``module`` (through plain containers such
    as ``ModuleList``), in registration order."""
    for child in module.children():
        if isinstance(child, Layer):
            yield child
        else:
            yield from _sublayers(child)


@functools.lru_cache(maxsize=None)
def _takes_training(call):
    try:
        return "training" in inspect.signature(call).parameters
    except (TypeError, ValueError):
        return False
