"""``Sequential``: a Keras-style stack of kconv layers that is a plain ``nn.Module``."""

import torch

from kconv import legacy
from kconv import summary as summary_lib
from kconv.layers.input_layer import InputLayer
from kconv.layers.layer import Layer
from kconv.models import folding, layout
from kconv.models.model import FINAL_ACTIVATIONS, Model, _layer_entry
from kconv.symbolic import KerasTensor
from kconv.validation import invalid_type


class Sequential(Model):
    """A linear stack of layers, built at once when its input shape is known.

    Submodules are registered under their index ("0", "1", ...), like ``nn.Sequential``,
    so ``state_dict`` keys do not depend on automatic layer names.

    Args:
        layers: optional list of layers; it may start with an :class:`Input`.
        name: the model name (default 'sequential', 'sequential_1', ...).

    Example:
        >>> model = Sequential([Input((28, 28, 1)), Conv2D(32, 3, activation="relu"),
        ...                     Flatten(), Dense(10, activation="softmax")])
        >>> model.count_params()
        216650
    """

    def __init__(self, layers=None, *, name=None, trainable=True):
        super().__init__(name=name, trainable=trainable)  # a Model without a graph
        self._input_layers = []  # the InputLayer it starts with, if any (not a submodule)
        self._output = None  # the symbolic output of the last layer, with an Input
        # (layers, {(all but the last, trusted): (layout plan, folded plan)}, their hook
        # dicts, the input shape the layers were built for), made at the first built call
        self._layout = None
        for layer in layers or ():
            self.add(layer)

    @property
    def layers(self):
        return list(self._modules.values())

    def __getitem__(self, index):
        return self.layers[index]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self.layers)

    def add(self, layer):
        """Append a layer (or set the input with an :class:`Input` first)."""
        if isinstance(layer, KerasTensor):
            source = layer._keras_history[0]
            if not isinstance(source, InputLayer):
                raise ValueError(f"Sequential '{self.name}': a symbolic tensor can only be "
                                 f"an Input; received the output of layer '{source.name}'")
            layer = source
        if isinstance(layer, InputLayer):
            if len(self) or self._input_layers:
                raise ValueError(f"Sequential '{self.name}': an Input can only come first; "
                                 f"received it after {len(self)} layer(s)")
            self._input_layers.append(layer)
            self._output = layer.output
            self.build_for(layer.batch_shape)
            return
        if not isinstance(layer, Layer):
            raise invalid_type("layer", "a kconv Layer or Input", layer)
        if not len(self) and layer.input_shape_arg is not None and not self.built:
            # Keras 3 makes a first layer's input_shape the model's InputLayer.
            self.add(InputLayer(batch_shape=(None,) + tuple(layer.input_shape_arg)))
        # Built (and checked) before it joins: a layer that does not fit leaves no trace.
        if self._input_layers:  # record the graph, as Keras does, so layer.output exists
            self._output = layer(self._output)
            self.output_shape = layer.output_shape
        elif self.built:
            previous = self.layers[-1].output_shape if len(self) else self.build_shape
            self.output_shape = layer.build_for(previous)
        self.add_module(str(len(self)), layer)

    @property
    def input(self):
        """The symbolic tensor of its Input (Keras's ``model.input``)."""
        return self._symbolic("input", self._input_layers[0].output)

    @property
    def output(self):
        """The symbolic output of its last layer (Keras's ``model.output``)."""
        return self._symbolic("output", self._output)

    @property
    def inputs(self):
        return [self.input]

    @property
    def outputs(self):
        return [self.output]

    def _symbolic(self, what, value):
        if not self._input_layers:
            raise ValueError(f"Sequential '{self.name}' has no {what} tensor: it was not "
                             "given an Input")
        return value

    def build(self, input_shape):
        shape = tuple(input_shape)
        for layer in self.layers:
            shape = layer.build_for(shape)

    def compute_output_shape(self, input_shape):
        shape = tuple(input_shape)
        for layer in self.layers:
            shape = layer.output_shape if layer.built else layer.compute_output_shape(shape)
        return shape

    def call(self, x):
        planned = self._planned(x, body=False)
        if planned is not None:
            return layout.run_plan(planned, [x])[0]
        for layer in self.layers:
            x = layer(x)
        return x

    def _planned(self, x, body):
        """The layout plan to run on ``x`` now (of every layer, or with ``body`` of all but
        the last; BatchNormalization folded where that is on), made at the first call once
        every layer is built; None when a plain loop over the layers is what to run (a
        hook watches, a layer is unbuilt, or no layer would run on views). An input of
        exactly the shape the layers were built for takes the trusted plan (the layers
        skip their checks, the first runs on views of the input); any other, the plan in
        which each layer checks what it receives."""
        layers = self.layers
        current = self._layout is not None and self._layout[0] == layers
        if not current and all(layer.built for layer in layers):
            plans = {}
            for key in ((False, False), (False, True), (True, False), (True, True)):
                chain, trusted = (layers[:-1] if key[0] else layers), key[1]
                planned = layout.chain_plan(chain, trusted=trusted)
                plans[key] = (planned if planned and layout.rewrites(planned) else None,
                              folding.fold_plan(planned) if planned else None)
            built = tuple(layers[0].build_shape[1:]) if layers else (None,)
            self._layout = (layers, plans, layout.hook_dicts((self, *layers)),
                            None if None in built else torch.Size(built))
            current = True
        if not current or layout.hooked(self._layout[2]):
            return None
        trusted = isinstance(x, torch.Tensor) and x.shape[1:] == self._layout[3]
        planned, folded = self._layout[1][body, trusted]
        if folded is not None and self.fold_batch_norm and folding.active():
            return folded
        return planned

    def logits(self, x):
        """The output before the final softmax (or sigmoid), computed without it: what a
        numerically stable cross-entropy takes. ``softmax(model.logits(x)) == model(x)``.

        Raises:
            ValueError: the last layer does not apply a softmax.
        """
        *body, head = self.layers or [None]
        if self._final_activation() not in FINAL_ACTIVATIONS:
            last = "no layers" if head is None else \
                f"last layer '{head.name}' ({type(head).__name__})"
            raise self._error(f"logits needs a last layer that applies softmax or sigmoid; "
                              f"the model has {last}")
        if isinstance(x, torch.Tensor):
            x = self._cast_input(x)  # as the forward converts it (to the weights' dtype)
        planned = self._planned(x, body=True)  # as the forward runs them
        if planned is not None:
            return head.logits(layout.run_plan(planned, [x])[0])
        for layer in body:
            x = layer(x)
        return head.logits(x)

    def _final_activation(self):
        head = self.layers[-1] if len(self) else None
        return getattr(head, "activation", None) if hasattr(head, "pre_activation") else None

    def predict_classes(self, x, batch_size=32, verbose=0):
        """Keras 2's (removed in TensorFlow 2.6; with a warning): the arg-max of the outputs,
        (N,), or for one output unit ``output > 0.5`` as int32, (N, 1), as Keras 2."""
        legacy.keras2("model.predict_classes(x)", "np.argmax(model.predict(x), axis=-1) "
                      "(or (model.predict(x) > 0.5).astype('int32') for one sigmoid unit)")
        probabilities = self.predict(x, batch_size=batch_size, verbose=verbose)
        if probabilities.shape[-1] > 1:
            return probabilities.argmax(axis=-1)
        return (probabilities > 0.5).astype("int32")

    def predict_proba(self, x, batch_size=32, verbose=0):
        """Keras 2's name of :meth:`predict` (with a warning)."""
        legacy.keras2("model.predict_proba(x)", "model.predict(x)")
        return self.predict(x, batch_size=batch_size, verbose=verbose)

    def summary(self, line_length=None, print_fn=None, return_string=False,
                receptive_field=False):
        """Print Keras's summary table (or return it as text with ``return_string``).

        With ``receptive_field=True`` three columns are added per layer: the receptive field
        of one output unit, its jump (effective stride) and the share of the input it sees.
        """
        if receptive_field:
            text = summary_lib.render_with_receptive_field(self, line_length or 120)
        else:
            text = summary_lib.render(self, line_length=line_length or 88)
        if return_string:
            return text
        (print_fn or print)(text)
        return None

    def get_config(self):
        """Keras's Sequential config: the InputLayer first when the model has an Input."""
        layers = [_layer_entry(layer) for layer in self._input_layers + self.layers]
        return {"name": self.name, "trainable": self.trainable, "layers": layers}
