"""``Model``: Keras's functional API (``Model(inputs, outputs)``) as a plain ``nn.Module``,
and the base of subclassed models (``class MyModel(Model)`` with a ``call`` method).

A functional model walks its graph once, at construction, into a flat list of steps
(layer, where its inputs are, where its outputs go); ``forward`` runs that list in a loop,
which ``torch.compile`` and ``torch.export`` unroll without graph breaks.
"""

import collections
import os

import torch

from kconv import activations, naming, symbolic
from kconv import summary as summary_lib
from kconv.layers.input_layer import InputLayer
from kconv.layers.layer import Layer
from kconv.models import folding, layout
from kconv.models.training import Trainer
from kconv.ops import Operation
from kconv.symbolic import KerasTensor
from kconv.validation import check_bool, check_choice, invalid_type, invalid_value


FINAL_ACTIVATIONS = (activations.softmax, activations.sigmoid)


class Model(Trainer, Layer):
    """A network of layers: a functional graph from ``inputs`` to ``outputs``, or (with no
    arguments, in a subclass) whatever the subclass's ``call`` computes.

    Args:
        inputs: the graph's input(s): a symbolic tensor from :func:`~kconv.Input`, a list of
            them, or a dict of them (the model is then called with a dict of the same keys).
        outputs: the symbolic output(s): a tensor, a list or a dict.
        name: the model name (default 'functional', 'functional_1', ...; a subclass's
            snake_case class name).
        trainable: False freezes every weight.

    Attributes:
        fold_batch_norm: run each convolution followed by a BatchNormalization as one
            convolution when autograd is off and the BatchNormalization uses its moving
            statistics (see :mod:`kconv.models.folding`): equal outputs to float32 rounding,
            faster inference. Default True; set False for bit-equal unfolded outputs.

    Raises:
        ValueError: the outputs do not depend on the inputs alone (a disconnected graph), or
            two layers share a name.

    Example:
        >>> inputs = kconv.Input((28, 28, 1))
        >>> x = Conv2D(32, 5, activation="relu")(inputs)
        >>> x = Dense(10, activation="softmax")(Flatten()(MaxPooling2D()(x)))
        >>> model = kconv.Model(inputs=inputs, outputs=x)
        >>> model(torch.rand(8, 28, 28, 1)).shape
        torch.Size([8, 10])
    """

    _fold_batch_norm = True

    @property
    def fold_batch_norm(self):
        return self._fold_batch_norm

    @fold_batch_norm.setter
    def fold_batch_norm(self, value):
        self._fold_batch_norm = check_bool("fold_batch_norm", value)

    def __new__(cls, *args, **kwargs):
        # As in Keras, Model(inputs, outputs) is a Functional (its class name in summaries
        # and configs); Model() and subclasses stay what they are.
        if cls is Model and (args or "inputs" in kwargs or "outputs" in kwargs):
            cls = Functional
        return super().__new__(cls)

    def __init__(self, inputs=None, outputs=None, name=None, trainable=True):
        functional = inputs is not None or outputs is not None
        if functional and type(self) is Functional and name is None:
            name = naming.unique_name("functional")
        super().__init__(name=name, trainable=trainable)
        self._steps = None  # set for a functional model
        if not functional:
            return
        if inputs is None or outputs is None:
            raise invalid_value("outputs" if outputs is None else "inputs",
                                "symbolic tensors (a functional model needs inputs and "
                                "outputs)", None)
        self._inputs_structure, self._inputs = _flatten("inputs", inputs)
        self._outputs_structure, self._outputs = _flatten("outputs", outputs)
        for tensor in self._inputs:
            if not isinstance(tensor._keras_history[0], InputLayer):
                raise invalid_value("inputs", "tensors made by kconv.Input", tensor)
        # (name, Keras's InputSpec shape, it without a trailing 1) of each input
        self._input_specs = [_input_spec(t) for t in self._inputs]
        self._nodes, self._graph_layers = _map_graph(self._inputs, self._outputs)
        names = collections.Counter(layer.name for layer in self._graph_layers)
        repeated = sorted(name for name, count in names.items() if count > 1)
        if repeated:
            raise ValueError(f"All layer names in model '{self.name}' should be unique; "
                             f"found {repeated} more than once")
        for index, layer in enumerate(self._graph_layers):
            self.add_module(str(index), layer)
        self._steps = self._compile_steps()
        self.build_shape = [t.shape for t in self._inputs]
        self.output_shape = [t.shape for t in self._outputs]
        if self._inputs_structure is None:
            self.build_shape = self.build_shape[0]
        if self._outputs_structure is None:
            self.output_shape = self.output_shape[0]
        self.built = True

    # ----------------------------------------------------------------- graph
    def _compile_steps(self):
        slots = {id(t): i for i, t in enumerate(self._inputs)}
        shapes = [t.shape for t in self._inputs]
        steps = []
        for node in self._nodes:
            if isinstance(node.layer, InputLayer):
                continue
            in_ids = tuple(slots[id(t)] for t in node.input_tensors)
            out_ids = []
            for t in node.output_tensors:
                slots[id(t)] = len(slots)
                out_ids.append(slots[id(t)])
                shapes.append(t.shape)
            steps.append((node.layer, in_ids, node.as_list, tuple(out_ids)))
        self._output_ids = tuple(slots[id(t)] for t in self._outputs)
        self._slot_count = len(slots)
        self._plans = self._make_plans(steps, shapes, self._output_ids)
        # ``logits``: every step but the last (the one output's layer), planned as well,
        # returning that layer's input; None when the output is not the last step's only.
        head_in = steps[-1][1] if steps and steps[-1][3] == self._output_ids and \
            len(steps[-1][1]) == 1 else None
        self._body_plans = None if head_in is None else \
            self._make_plans(steps[:-1], shapes, head_in)
        return steps

    def _make_plans(self, steps, shapes, output_ids):
        """(as written: every layer checks its inputs; the trusted layout plan; that plan
        with BatchNormalization folded) for ``steps`` returning the slots ``output_ids``."""
        raw = layout.finish(steps, output_ids, self._slot_count)
        trusted = layout.plan(steps, shapes, len(self._inputs), output_ids, trusted=True)
        return raw, trusted, folding.fold_plan(trusted) or trusted

    @property
    def inputs(self):
        """The symbolic input tensors (a list)."""
        return list(self._inputs) if self._steps is not None else None

    @property
    def outputs(self):
        """The symbolic output tensors (a list)."""
        return list(self._outputs) if self._steps is not None else None

    @property
    def input(self):
        """The graph's input(s), structured as given (a subclassed model: as for a layer)."""
        if self._steps is None:
            return Layer.input.fget(self)
        return _pack(self._inputs_structure, self._inputs)

    @property
    def output(self):
        """The graph's output(s), structured as given (a subclassed model: as for a layer)."""
        if self._steps is None:
            return Layer.output.fget(self)
        return _pack(self._outputs_structure, self._outputs)

    @property
    def layers(self):
        """Its layers, in Keras's order (InputLayers first for a functional model); the
        ``keras.ops`` nodes of a graph are in :attr:`operations` only, as in Keras."""
        if self._steps is not None:
            return [layer for layer in self._graph_layers if not isinstance(layer, Operation)]
        return [m for m in self.children() if isinstance(m, Layer)]

    @property
    def operations(self):
        """Its layers and ``keras.ops`` nodes, in Keras's order (what summary lists)."""
        return list(self._graph_layers) if self._steps is not None else self.layers

    def get_layer(self, name=None, index=None):
        """A layer by name or by index in :attr:`layers`.

        Raises:
            ValueError: neither or both given, or no such layer.
        """
        if (name is None) == (index is None):
            raise ValueError("Provide either a layer name or a layer index at `get_layer`.")
        layers = self.layers
        if index is not None:
            if not -len(layers) <= index < len(layers):
                raise invalid_value("index", f"an index below {len(layers)}", index)
            return layers[index]
        for layer in layers:
            if layer.name == name:
                return layer
        raise invalid_value("name", f"one of {tuple(layer.name for layer in layers)}", name)

    # ----------------------------------------------------------------- calling
    def forward(self, inputs):
        if self._steps is None:  # a subclassed model
            return super().forward(inputs)
        if symbolic.is_symbolic(inputs):
            return symbolic.call(self, inputs)  # nested in another graph
        return _pack(self._outputs_structure, self._run_plans(inputs, self._plans))

    def _run_plans(self, inputs, plans):
        """The output values (a list) of one of ``plans`` (:meth:`_make_plans`) run on
        ``inputs``: the layout plan on checked inputs, BatchNormalization folded where that
        is on, the plan as written when the inputs need every layer's checks or a hook
        watches."""
        raw, trusted, folded = plans
        flat = self._flat_inputs(inputs)
        checked = self._checked_inputs(flat)
        if checked is None or self._hooked():
            # Every layer checks its inputs as it runs (hooks see Keras's layout).
            planned = raw
        elif self.fold_batch_norm and folding.active():
            planned = folded
        else:
            planned = trusted
        flat = flat if checked is None else [self._cast_input(x) for x in checked]
        return layout.run_plan(planned, flat)

    def _hooked(self):
        """:func:`~kconv.models.layout.hooked` for the model and its graph's layers, their
        hook dicts gathered at the first call (a copy or a pickle maps them to its own)."""
        dicts = self.__dict__.get("_hook_dicts")
        if dicts is None:
            dicts = layout.hook_dicts((self, *self._graph_layers))
            self.__dict__["_hook_dicts"] = dicts
        return layout.hooked(dicts)

    def _cast_input(self, x):
        """Keras's conversion of a model's inputs to their ``Input``'s dtype: a floating
        input takes the dtype of the model's weights (float32 unless the model was cast, by
        ``.double()`` say; not inside ``torch.autocast``), so layers without weights pass
        no other dtype on. Integer inputs are left to the layers (``Rescaling`` converts
        them, layers with weights refuse them clearly)."""
        if not x.is_floating_point():
            return x
        weight = self._first_weight()
        return x if weight is None else self._in_dtype_of(x, weight)

    def _first_weight(self):
        """The model's first weight, found once (walking the modules costs more than a whole
        planned forward) and looked up by its module and name after that."""
        holder = self.__dict__.get("_weight_holder")  # (module, name): not a submodule
        weight = None if holder is None else holder[0]._parameters.get(holder[1])
        if weight is None:
            holder = next(((m, name) for m in self.modules()
                           for name, p in m._parameters.items() if p is not None), None)
            if holder is None:
                return None
            self.__dict__["_weight_holder"] = holder
            weight = holder[0]._parameters[holder[1]]
        return weight

    def _checked_inputs(self, flat):
        """Keras's check of the inputs against the graph's ``Input`` shapes (the batch axis
        free, a trailing axis of size 1 ignored), then its rank adjustment (that axis
        squeezed or added); None if an input is not a tensor.

        Raises:
            ValueError: an input's shape does not fit, in Keras's words.
        """
        out = []
        for index, (x, tensor, (name, spec, wanted, sample)) in enumerate(
                zip(flat, self._inputs, self._input_specs)):
            if not isinstance(x, torch.Tensor):
                return None
            if x.shape[1:] == sample:  # exactly the Input's shape (a None never equals)
                out.append(x)
                continue
            shape, expected = tuple(x.shape), tensor.shape
            found = shape[:-1] if shape and shape[-1] == 1 else shape
            for want, got in zip(wanted[1:], found[1:]):
                if want is not None and want != got:
                    raise ValueError(f"Input {index} with name '{name}' of layer "
                                     f"'{self.name}' is incompatible with the layer: "
                                     f"expected shape={spec}, found shape={found}")
            if len(shape) == len(expected) + 1 and shape[-1] == 1:
                x = x.squeeze(-1)
            elif len(shape) == len(expected) - 1 and expected[-1] == 1:
                x = x.unsqueeze(-1)
            elif len(shape) != len(expected):
                raise ValueError(f"Invalid input shape for input {index} with name "
                                 f"'{name}': expected shape {tuple(expected)}, but the "
                                 f"input has incompatible shape {shape}")
            out.append(x)
        return out

    def _evaluate(self, inputs, steps, slot_count=None):
        """Run ``steps`` on the inputs: the list of every value computed, by slot."""
        values = [None] * (slot_count or self._slot_count)
        for i, x in enumerate(self._flat_inputs(inputs)):
            values[i] = x
        return layout.run(steps, values)

    def logits(self, inputs):
        """The output before the final softmax (or sigmoid), computed without it (what a
        numerically stable cross-entropy takes), for a model whose one output comes from a
        layer that applies it. ``softmax(model.logits(x)) == model(x)``.

        Raises:
            ValueError: a subclassed model, several outputs, or no final softmax.
        """
        if self._steps is None:
            raise self._error("logits needs a functional model or a Sequential")
        last = self._outputs[0]._keras_history[0]
        if self._final_activation() not in FINAL_ACTIVATIONS or self._body_plans is None:
            raise self._error(f"logits needs one output made by a layer that applies "
                              f"softmax or sigmoid; the model has {len(self._outputs)} "
                              f"output(s), the first from layer '{last.name}' "
                              f"({type(last).__name__})")
        # With one output, its node is the only one of depth 0: the last step, whose input
        # the body's plans return (planned as the whole model's forward is).
        return self._steps[-1][0].logits(self._run_plans(inputs, self._body_plans)[0])

    def _final_activation(self):
        if self._steps is None or len(self._outputs) != 1:
            return None
        last = self._outputs[0]._keras_history[0]
        return getattr(last, "activation", None) if hasattr(last, "pre_activation") else None

    def _flat_inputs(self, inputs):
        expected = len(self._inputs)
        if isinstance(self._inputs_structure, tuple):  # the keys of a dict of inputs
            if not isinstance(inputs, dict) or set(inputs) != set(self._inputs_structure):
                raise invalid_value("inputs", f"a dict with keys "
                                    f"{sorted(self._inputs_structure)}", inputs)
            return [inputs[key] for key in self._inputs_structure]
        if isinstance(inputs, dict):  # Keras also matches a dict to the inputs' names
            names = [t._keras_history[0].name for t in self._inputs]
            if set(inputs) != set(names):
                raise invalid_value("inputs", f"a dict with keys {sorted(names)}", inputs)
            return [inputs[name] for name in names]
        flat = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
        if len(flat) != expected:
            raise ValueError(f"Model '{self.name}' expects {expected} input(s), but it "
                             f"received {len(flat)}")
        return flat

    def compute_output_shape(self, input_shape):
        if self._steps is None:
            return super().compute_output_shape(input_shape)
        first = input_shape[0] if isinstance(input_shape, list) else input_shape
        shapes = [(first[0],) + tuple(t.shape[1:]) for t in self._outputs]
        return shapes if self._outputs_structure is not None else shapes[0]

    # ----------------------------------------------------------------- summary
    def summary(self, line_length=None, print_fn=None, return_string=False):
        """Print Keras's summary table (or return it with ``return_string``): a functional
        model with branches gets Keras's "Connected to" column."""
        if self._steps is None or _sequential_like(self):
            text = summary_lib.render(self, line_length=line_length or 88)
        else:
            text = summary_lib.render_connected(self, self._nodes, line_length or 108)
        if return_string:
            return text
        (print_fn or print)(text)
        return None

    def load_weights(self, path):
        """Load Keras weights: ``.weights.h5``, ``.keras`` or legacy ``.h5``."""
        from kconv import saving
        saving.load_weights(self, path)

    def save_weights(self, path):
        """Write the weights as a Keras 3 ``.weights.h5``."""
        from kconv import saving
        saving.save_weights(self, path)

    def get_config(self):
        config = {"name": self.name, "trainable": self.trainable}
        if self._steps is None:
            return config
        return {**config, **_graph_config(self)}

    def export(self, filepath, format="tf_saved_model", verbose=None, input_signature=None,
               **kwargs):
        """Keras's ``model.export``: the inference graph as an ONNX file
        (``format='onnx'``) or torch.export's ExportedProgram (``format='torch'``, a
        ``.pt2``), batch axis dynamic; Keras's default 'tf_saved_model' is refused with the
        ONNX route named. See :func:`kconv.export.export`."""
        from kconv import export as export_lib
        export_lib.export(self, filepath, format=format, verbose=verbose,
                          input_signature=input_signature, **kwargs)

    def save(self, filepath, overwrite=True, *args, zipped=None, **kwargs):
        """Write the model as a Keras 3 ``.keras`` archive (config and weights) that
        ``keras.models.load_model`` and :func:`kconv.models.load_model` open, or a legacy
        ``.h5``. ``overwrite=False`` refuses an existing file. Keras 2's keywords are
        accepted with a warning: ``save_format`` ('h5' or 'tf', the latter a ``.keras``
        archive), and ``include_optimizer``, ``signatures``, ``options``, ``save_traces``
        (nothing to do: kconv's files hold no optimizer state or TensorFlow graph)."""
        from kconv import legacy, saving
        if args:
            raise TypeError(f"model.save takes filepath and overwrite positionally; received "
                            f"{len(args)} more (Keras 2's include_optimizer or Keras 3's "
                            f"zipped?): pass them by keyword")
        if zipped is False:
            raise ValueError("model.save(zipped=False) (an unzipped .keras folder) is not "
                             "supported by kconv; received zipped=False")
        file_format = None
        unknown = sorted(set(kwargs) - {"save_format", "include_optimizer", "signatures",
                                        "options", "save_traces"})
        if unknown:
            raise TypeError(f"model.save got unexpected argument(s) {unknown}")
        for key in sorted(kwargs):
            if key == "save_format":
                file_format = check_choice("save_format", kwargs[key], ("h5", "tf", "keras"))
                file_format = "h5" if file_format == "h5" else "keras"
                legacy.keras2(f"model.save(save_format={kwargs[key]!r})",
                              "the file's extension (model.save('model.keras') or "
                              "'model.h5')", "" if file_format == "h5" else
                              "; kconv writes a .keras archive")
            else:
                legacy.keras2(f"model.save({key}=...)", "model.save(filepath)",
                              "; kconv's files hold no optimizer state or TensorFlow graph, "
                              "so it changes nothing")
        if not check_bool("overwrite", overwrite) and os.path.exists(os.fspath(filepath)):
            raise FileExistsError(f"model.save(overwrite=False): {os.fspath(filepath)} "
                                  "exists")
        saving.save_model(self, filepath, file_format)


class Functional(Model):
    """What ``Model(inputs, outputs)`` returns, as in Keras: a model defined by its graph."""


def _flatten(argument, structure):
    """``(structure, flat list)``: None for one tensor, 'list', or a dict's keys (a tuple)."""
    if isinstance(structure, KerasTensor):
        return None, [structure]
    if isinstance(structure, dict):
        flat, keys = list(structure.values()), tuple(structure)
    elif isinstance(structure, (list, tuple)):
        flat, keys = list(structure), "list"
    else:
        flat, keys = [structure], None
    if not flat or not all(isinstance(t, KerasTensor) for t in flat):
        raise invalid_type(argument, "a KerasTensor (from kconv.Input or a layer called on "
                           "one), or a list or dict of them", structure)
    return keys, flat


def _input_spec(tensor):
    """What :meth:`Model._checked_inputs` compares an input with: (its ``Input``'s name,
    Keras's InputSpec shape (batch axis None), that shape without a trailing 1, the
    sample shape)."""
    spec = (None,) + tuple(tensor.shape[1:])
    return tensor._keras_history[0].name, spec, spec[:-1] if spec[-1] == 1 else spec, spec[1:]


def _pack(structure, flat):
    if structure is None:
        return flat[0]
    if structure == "list":
        return list(flat)
    return dict(zip(structure, flat))


def _map_graph(inputs, outputs):
    """Keras's ``map_graph``: the nodes between ``inputs`` and ``outputs`` in execution
    order (deepest first) and the layers in Keras's order."""
    input_ids = {id(t) for t in inputs}
    finished, in_progress, post_order, layer_index = set(), set(), [], {}

    def visit(tensor):
        layer, node_index, _ = tensor._keras_history
        node = layer._inbound_nodes[node_index]
        if id(node) in finished:
            return
        if id(node) in in_progress:
            raise ValueError(f"Tensor {tensor} is part of a cycle")
        layer_index.setdefault(layer, len(layer_index))
        in_progress.add(id(node))
        if id(tensor) not in input_ids:
            if isinstance(layer, InputLayer):
                raise ValueError(f"Graph disconnected: the model's outputs need input "
                                 f"'{layer.name}' {tensor.shape}, which is not one of its "
                                 "inputs")
            for parent in node.input_tensors:
                visit(parent)
        in_progress.discard(id(node))
        finished.add(id(node))
        post_order.append(node)

    for tensor in outputs:
        visit(tensor)
    node_depth, layer_depth = {}, {}
    for node in reversed(post_order):
        depth = max(node_depth.setdefault(id(node), 0), layer_depth.get(node.layer, 0))
        layer_depth[node.layer] = node_depth[id(node)] = depth
        for parent in node.parent_nodes:
            node_depth[id(parent)] = max(depth + 1, node_depth.get(id(parent), 0))
    for tensor in inputs:
        layer = tensor._keras_history[0]
        if layer not in layer_depth:  # an input the outputs do not use
            layer_depth[layer], layer_index[layer] = 0, -1
    by_id = {id(node): node for node in post_order}
    nodes = [by_id[i] for i, _ in sorted(node_depth.items(), key=lambda item: -item[1])
             if i in by_id]
    layers = sorted(layer_depth, key=lambda layer: (-layer_depth[layer], layer_index[layer]))
    return nodes, layers


def _sequential_like(model):
    """Keras prints a chain of single-input layers without the "Connected to" column."""
    seen = set()
    for node in model._nodes:
        if len(node.input_tensors) > 1 or node.layer in seen:
            return False
        seen.add(node.layer)
    return len(model._inputs) == 1 and len(model._outputs) == 1


def _layer_entry(layer):
    """A layer's (or a model's) entry in a Keras 3 config, as Keras serializes it."""
    kind = type(layer).__name__
    if isinstance(layer, Operation):
        module, registered = "keras.src.ops.numpy", kind
    elif isinstance(layer, Functional):
        module, registered = "keras.src.models.functional", "Functional"
    else:
        module, registered = ("keras" if kind == "Sequential" else "keras.layers"), None
    return {"module": module, "class_name": kind, "config": layer.get_config(),
            "registered_name": registered}


def _graph_config(model):
    """Keras 3's functional config: layers with their inbound nodes, inputs and outputs.
    Node indices count only the calls inside this model, as Keras numbers them."""
    renumber = {}
    for layer in model.operations:
        kept = [node for node in layer._inbound_nodes if node in model._nodes]
        renumber.update({id(node): i for i, node in enumerate(kept)})

    def history(tensor):
        layer, index, position = tensor._keras_history
        return [layer.name, renumber[id(layer._inbound_nodes[index])], position]

    def keras_tensor(tensor):
        return {"class_name": "__keras_tensor__", "config": {
            "shape": list(tensor.shape), "dtype": tensor.dtype, "keras_history": history(tensor)}}

    def args(layer, node):
        tensors = [keras_tensor(t) for t in node.input_tensors]
        if isinstance(layer, Operation):
            return layer.keras_args(tensors)
        return [tensors if node.as_list else tensors[0]]

    layers = []
    for layer in model.operations:
        nodes = [] if isinstance(layer, InputLayer) else [
            {"args": args(layer, node), "kwargs": {} if layer._fixed_training is None
             else {"training": layer._fixed_training}}
            for node in layer._inbound_nodes if node in model._nodes]
        layers.append({**_layer_entry(layer), "name": layer.name, "inbound_nodes": nodes})

    def ends(tensors, structure):
        refs = [history(t) for t in tensors]
        if isinstance(structure, tuple):  # a dict's keys
            return dict(zip(structure, refs))
        return refs[0] if structure is None else refs

    return {"layers": layers, "input_layers": ends(model._inputs, model._inputs_structure),
            "output_layers": ends(model._outputs, model._outputs_structure)}
