"""``Dense``: Keras's fully connected layer with ``nn.Linear``'s parameter layout."""

import torch.nn.functional as F

from kconv import activations
from kconv.layers.layer import KERNEL_BIAS_KEYS, Layer, transpose
from kconv.validation import check_bool, check_int


class Dense(Layer):
    """``activation(x @ kernel + bias)`` on the last axis of inputs of rank >= 2.

    Parameters are stored like ``nn.Linear``: ``weight`` (units, in) — the transpose of
    Keras's (in, units) kernel — and ``bias`` (units,).

    Args:
        units: output size.
        activation: an activation name or callable; None is linear.
        use_bias: whether to add a bias.
        kernel_initializer, bias_initializer: initializers (defaults 'glorot_uniform',
            'zeros'), applied in Keras's (in, units) layout.
        kernel_regularizer, bias_regularizer, activity_regularizer: regularizers.
        kernel_constraint, bias_constraint: constraints (axes refer to (in, units)).
        input_shape, name, trainable: see :class:`~kconv.layers.Layer`.

    Example:
        >>> Dense(10, activation="softmax")(torch.zeros(4, 64)).shape
        torch.Size([4, 10])
    """

    min_ndim = 2

    def __init__(self, units, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, *, input_shape=None, name=None,
                 trainable=True):
        super().__init__(activity_regularizer=activity_regularizer, input_shape=input_shape,
                         name=name, trainable=trainable)
        self.units = check_int("units", units)
        self.activation = activations.get(activation)
        self.use_bias = check_bool("use_bias", use_bias)
        self._resolve(kernel_initializer=kernel_initializer, bias_initializer=bias_initializer,
                      kernel_regularizer=kernel_regularizer, bias_regularizer=bias_regularizer,
                      kernel_constraint=kernel_constraint, bias_constraint=bias_constraint)
        self.in_features = None
        self.bias = None

    def build(self, input_shape):
        self.in_features = self._known_size(input_shape, -1)
        self.add_weight("weight", (self.in_features, self.units), self.kernel_initializer,
                        regularizer=self.kernel_regularizer, constraint=self.kernel_constraint,
                        to_keras=transpose, from_keras=transpose)
        if self.use_bias:
            self.add_weight("bias", (self.units,), self.bias_initializer,
                            regularizer=self.bias_regularizer, constraint=self.bias_constraint)
        self._pin_input_axes({-1: self.in_features})

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def pre_activation(self, x):
        """The output before the activation (logits when the activation is softmax)."""
        return F.linear(x, self.weight, self.bias)

    def call(self, x):
        return self.activation(self.pre_activation(x))

    def get_config(self):
        return {**super().get_config(), "units": self.units,
                "activation": activations.serialize(self.activation), "use_bias": self.use_bias,
                **self._serialized(*KERNEL_BIAS_KEYS)}

    def extra_repr(self):
        return f"name={self.name!r}, units={self.units}, in_features={self.in_features}"
