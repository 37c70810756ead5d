"""Keras's wrappers, layers that hold another layer: ``TimeDistributed`` (one layer applied
to every step of a sequence, as one batched call) and ``SpectralNormalization`` (a kernel
divided by its largest singular value, estimated by power iteration in training)."""

import torch

from kconv import initializers
from kconv.layers.layer import Layer
from kconv.layers.normalization import l2_normalize
from kconv.validation import check_int, invalid_value


class Wrapper(Layer):
    """A layer around ``layer`` (a kconv layer or a saved Keras config of one). Keras files
    keep a wrapper's variables in two groups, its own (``vars``) and its layer's
    (``layer/vars``): :meth:`split_keras_vars` and :meth:`join_keras_vars` map between
    those groups and :meth:`get_weights`'s order."""

    def __init__(self, layer, *, input_shape=None, name=None, trainable=True):
        super().__init__(input_shape=input_shape, name=name, trainable=trainable)
        if isinstance(layer, dict):  # a saved config
            from kconv.models.deserialization import layer_from_config
            layer = layer_from_config(layer, 0)
        if not isinstance(layer, Layer):
            raise invalid_value("layer", "a kconv layer", layer)
        self.layer = layer

    def split_keras_vars(self, values):
        """``(own, layer's)`` arrays of a Keras file, from :meth:`get_weights`'s list."""
        return [], list(values)

    def join_keras_vars(self, own, inner):
        """:meth:`get_weights`'s list from a Keras file's two groups."""
        return list(inner)

    def compute_output_shape(self, input_shape):
        return self.layer.build_for(input_shape)

    def get_config(self):
        from kconv.models.model import _layer_entry
        return {**super().get_config(), "layer": _layer_entry(self.layer)}


class TimeDistributed(Wrapper):
    """Applies ``layer`` to each slice along axis 1 of inputs (N, T, ...), with ``layer``'s
    weights. The steps are folded into the batch, so ``TimeDistributed(Conv2D(...))`` on
    (N, T, H, W, C) is one convolution of N·T images; in training, a layer whose result
    depends on the batch (BatchNormalization's statistics, the preprocessing layers' shared
    draws) is called once per step instead, as Keras 3 calls it.

    Example:
        >>> frames = TimeDistributed(Conv2D(8, 3))(kconv.Input((10, 32, 32, 3)))
    """

    min_ndim = 3

    def build(self, input_shape):
        self.layer.build_for((None,) + tuple(input_shape[2:]))

    def compute_output_shape(self, input_shape):
        inner = self.layer.build_for((None,) + tuple(input_shape[2:]))
        return (input_shape[0], input_shape[1]) + tuple(inner[1:])

    def call(self, x):
        n, steps = x.shape[:2]
        if self.training and self._batch_dependent:
            return torch.stack([self.layer(x[:, t]) for t in range(steps)], dim=1)
        y = self.layer(x.reshape((n * steps,) + tuple(x.shape[2:])))
        return y.reshape((n, steps) + tuple(y.shape[1:]))

    @property
    def _batch_dependent(self):
        from kconv.layers.normalization import BatchNormalization
        from kconv.layers.preprocessing.base import ImagePreprocessingLayer
        return any(isinstance(m, (BatchNormalization, ImagePreprocessingLayer))
                   for m in self.layer.modules())


class SpectralNormalization(Wrapper):
    """Keras's ``SpectralNormalization``: in training, each call first divides ``layer``'s
    kernel by its spectral norm, estimated by ``power_iterations`` steps of power iteration
    from the stored vector ``vector_u``, and stores both back (Keras's update, with no
    gradient through the estimate); in inference the layer runs on its stored kernel. The
    layer is one with a kernel: Dense, a convolution, a transposed or depthwise one.

    Example:
        >>> critic = SpectralNormalization(Conv2D(64, 4, strides=2, padding="same"))
    """

    min_ndim = 1

    def __init__(self, layer, power_iterations=1, *, input_shape=None, name=None,
                 trainable=True):
        super().__init__(layer, input_shape=input_shape, name=name, trainable=trainable)
        from kconv.layers.conv import BaseConv, BaseSeparableConv
        from kconv.layers.dense import Dense
        if not isinstance(self.layer, (Dense, BaseConv)) or \
                isinstance(self.layer, BaseSeparableConv):
            raise invalid_value("layer", "a layer with a kernel (Dense, a convolution, a "
                                "transposed or depthwise convolution)", self.layer)
        self.power_iterations = check_int("power_iterations", power_iterations)

    def build(self, input_shape):
        self.layer.build_for(input_shape)
        out = self._kernel_spec.keras_shape[-1]
        self.add_weight("vector_u", (1, out), initializers.TruncatedNormal(stddev=0.02),
                        trainable=False)
        self._pin_input_axes({-1: self._known_size(input_shape, -1)})

    @property
    def _kernel_spec(self):
        return self.layer.weight_specs["weight"]

    def _entries(self, seen):
        seen.add(id(self))  # Keras's order: kernel, vector_u, the layer's other weights
        inner = self.layer._entries(seen)
        return inner[:1] + [(self, spec) for spec in self._weight_specs.values()] + inner[1:]

    def split_keras_vars(self, values):
        return list(values[:2]), [values[0]] + list(values[2:])

    def join_keras_vars(self, own, inner):
        return list(inner[:1]) + list(own[1:2]) + list(inner[1:])

    def call(self, x):
        if self.training:
            self._normalize_kernel()
        return self.layer(x).to(x.dtype)

    @torch.no_grad()
    def _normalize_kernel(self):
        """Keras's update: ``kernel /= sigma`` and the new ``vector_u`` (skipped for an
        all-zero kernel), on the kernel's Keras view reshaped to (-1, its last axis)."""
        spec = self._kernel_spec
        kernel = self.layer.weight
        weights = spec.to_keras(kernel).reshape(-1, spec.keras_shape[-1])
        if not weights.any():
            return
        u = self.vector_u.to(weights.dtype)
        for _ in range(self.power_iterations):
            v = l2_normalize(u @ weights.T, None, 1e-7)  # Keras's normalize(axis=None)
            u = l2_normalize(v @ weights, None, 1e-7)
        sigma = (v @ weights) @ u.T
        kernel.div_(sigma.reshape(()))
        self.vector_u.copy_(u)

    def get_config(self):
        return {**super().get_config(), "power_iterations": self.power_iterations}
