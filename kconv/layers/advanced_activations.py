"""Keras's activation layers: ``ReLU``, ``LeakyReLU``, ``PReLU``, ``ELU`` and ``Softmax``
(also Keras 2's ``keras.layers.advanced_activations`` import path)."""

import torch.nn.functional as F

from kconv import activations
from kconv.layers.layer import Layer
from kconv.validation import check_float, invalid_type, invalid_value, is_int


class _Elementwise(Layer):
    """An activation acting on each value alone (so on any layout)."""

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def channels_first_output(self, shapes):
        return True

    def call_channels_first(self, x):
        return self.call(x)


class ReLU(_Elementwise):
    """Keras's ReLU: ``x`` above ``threshold`` (capped at ``max_value``), below it
    ``negative_slope * (x - threshold)``."""

    def __init__(self, max_value=None, negative_slope=0.0, threshold=0.0, *, input_shape=None,
                 name=None, trainable=True):
        super().__init__(input_shape=input_shape, name=name, trainable=trainable)
        self.max_value = None if max_value is None else check_float("max_value", max_value,
                                                                    minimum=0.0)
        self.negative_slope = check_float("negative_slope", negative_slope, minimum=0.0)
        self.threshold = check_float("threshold", threshold)

    def call(self, x):
        return activations.relu(x, self.negative_slope, self.max_value, self.threshold)

    def get_config(self):
        return {**super().get_config(), "max_value": self.max_value,
                "negative_slope": self.negative_slope, "threshold": self.threshold}


class LeakyReLU(_Elementwise):
    """``x`` for x >= 0, ``negative_slope * x`` below (Keras's default slope 0.3; Keras 2's
    ``alpha`` is accepted)."""

    def __init__(self, negative_slope=0.3, *, alpha=None, input_shape=None, name=None,
                 trainable=True):
        super().__init__(input_shape=input_shape, name=name, trainable=trainable)
        self.negative_slope = check_float("negative_slope",
                                          negative_slope if alpha is None else alpha,
                                          minimum=0.0)

    def call(self, x):
        return F.leaky_relu(x, self.negative_slope)

    def get_config(self):
        return {**super().get_config(), "negative_slope": self.negative_slope}


class ELU(_Elementwise):
    """``x`` for x > 0, ``alpha * (exp(x) - 1)`` below."""

    def __init__(self, alpha=1.0, *, input_shape=None, name=None, trainable=True):
        super().__init__(input_shape=input_shape, name=name, trainable=trainable)
        self.alpha = check_float("alpha", alpha)

    def call(self, x):
        return F.elu(x, self.alpha)

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha}


class Softmax(Layer):
    """Softmax along ``axis`` (an int or a tuple of ints, as Keras)."""

    def __init__(self, axis=-1, *, input_shape=None, name=None, trainable=True):
        super().__init__(input_shape=input_shape, name=name, trainable=trainable)
        if not (is_int(axis) or isinstance(axis, (list, tuple)) and axis and
                all(is_int(a) for a in axis)):
            raise invalid_type("axis", "an int or a tuple of ints", axis)
        self.axis = int(axis) if is_int(axis) else tuple(int(a) for a in axis)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def call(self, x):
        if isinstance(self.axis, int):
            return F.softmax(x, dim=self.axis)
        # Keras: exp(x - logsumexp over the axes)
        return (x - x.logsumexp(dim=self.axis, keepdim=True)).exp()

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


class PReLU(Layer):
    """``x`` for x >= 0, a learned ``alpha * x`` below; ``alpha`` has one value per input
    position except along ``shared_axes`` (e.g. (1, 2) for one slope per channel of
    (N, H, W, C) images)."""

    def __init__(self, alpha_initializer="zeros", alpha_regularizer=None,
                 alpha_constraint=None, shared_axes=None, *, input_shape=None, name=None,
                 trainable=True):
        super().__init__(input_shape=input_shape, name=name, trainable=trainable)
        self._resolve(alpha_initializer=alpha_initializer, alpha_regularizer=alpha_regularizer,
                      alpha_constraint=alpha_constraint)
        if shared_axes is None:
            shared = ()
        elif is_int(shared_axes):
            shared = (int(shared_axes),)
        elif isinstance(shared_axes, (list, tuple)) and all(is_int(a) for a in shared_axes):
            shared = tuple(int(a) for a in shared_axes)
        else:
            raise invalid_type("shared_axes", "None, an int or a tuple of ints", shared_axes)
        if any(a < 1 for a in shared):
            raise invalid_value("shared_axes", "axes >= 1 (the batch axis is never shared)",
                                shared_axes)
        self.shared_axes = shared or None
        self.alpha = None

    def build(self, input_shape):
        shape = list(input_shape[1:])
        for axis in self.shared_axes or ():
            if axis > len(shape):
                raise self._error(f"shared_axes {self.shared_axes} is out of range for "
                                  f"inputs of shape {tuple(input_shape)}")
            shape[axis - 1] = 1
        if None in shape:
            raise self._error(f"PReLU needs every non-shared axis known; received inputs of "
                              f"shape {tuple(input_shape)}")
        self.add_weight("alpha", tuple(shape), self.alpha_initializer,
                        regularizer=self.alpha_regularizer, constraint=self.alpha_constraint)
        self._pin_input_axes({i + 1: d for i, d in enumerate(input_shape[1:])
                              if i + 1 not in (self.shared_axes or ())})

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def call(self, x):
        return F.relu(x) - self.alpha * F.relu(-x)

    def get_config(self):
        return {**super().get_config(), "shared_axes": self.shared_axes,
                **self._serialized("alpha_initializer", "alpha_regularizer",
                                   "alpha_constraint")}


__all__ = ["ReLU", "LeakyReLU", "PReLU", "ELU", "Softmax"]
