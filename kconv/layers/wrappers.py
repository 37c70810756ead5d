"""Keras's ``TimeDistributed``: one layer applied to every step of a sequence (of images, a
video), with one set of weights, as one batched call."""

import torch

from kconv.layers.layer import Layer
from kconv.validation import invalid_value


class TimeDistributed(Layer):
    """Applies ``layer`` to each slice along axis 1 of inputs (N, T, ...), with ``layer``'s
    weights. The steps are folded into the batch, so ``TimeDistributed(Conv2D(...))`` on
    (N, T, H, W, C) is one convolution of N·T images; in training, a layer whose result
    depends on the batch (BatchNormalization's statistics, the preprocessing layers' shared
    draws) is called once per step instead, as Keras 3 calls it.

    Example:
        >>> frames = TimeDistributed(Conv2D(8, 3))(kconv.Input((10, 32, 32, 3)))
    """

    min_ndim = 3

    def __init__(self, layer, *, input_shape=None, name=None, trainable=True):
        super().__init__(input_shape=input_shape, name=name, trainable=trainable)
        if isinstance(layer, dict):  # a saved config
            from kconv.models.deserialization import layer_from_config
            layer = layer_from_config(layer, 0)
        if not isinstance(layer, Layer):
            raise invalid_value("layer", "a kconv layer", layer)
        self.layer = layer

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

    def get_config(self):
        from kconv.models.model import _layer_entry
        return {**super().get_config(), "layer": _layer_entry(self.layer)}
