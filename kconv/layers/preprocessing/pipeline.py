"""Keras's ``Pipeline`` (preprocessing layers applied in order, as one layer) and
``MaxNumBoundingBoxes`` (a bounding-box utility: kconv's models carry images only, which it
passes through)."""

from torch import nn

from kconv.layers.layer import Layer
from kconv.layers.preprocessing.base import ImagePreprocessingLayer
from kconv.validation import check_int, invalid_value


class Pipeline(Layer):
    """Applies ``layers`` in order; each acts as its mode says (random layers in training
    only). Unlike a Sequential it is one layer, as Keras's.

    Example:
        >>> augment = Pipeline([RandomFlip("horizontal"), RandomRotation(0.1)])
    """

    def __init__(self, layers, *, input_shape=None, name=None, trainable=True):
        super().__init__(input_shape=input_shape, name=name, trainable=trainable)
        if not isinstance(layers, (list, tuple)):
            raise invalid_value("layers", "a list of layers", layers)
        if any(isinstance(entry, dict) for entry in layers):  # a saved config
            from kconv.models.deserialization import layer_from_config
            layers = [layer_from_config(entry, i) if isinstance(entry, dict) else entry
                      for i, entry in enumerate(layers)]
        if not all(isinstance(layer, Layer) for layer in layers):
            raise invalid_value("layers", "a list of kconv layers", layers)
        self.pipeline_layers = nn.ModuleList(layers)

    @property
    def layers(self):
        return list(self.pipeline_layers)

    def compute_output_shape(self, input_shape):
        for layer in self.pipeline_layers:
            input_shape = layer.build_for(input_shape)
        return tuple(input_shape)

    def call(self, x):
        for layer in self.pipeline_layers:
            x = layer(x)
        return x

    def get_config(self):
        from kconv.models.model import _layer_entry
        return {"layers": [_layer_entry(layer) for layer in self.pipeline_layers],
                "name": self.name}


class MaxNumBoundingBoxes(ImagePreprocessingLayer):
    """Pads or cuts a batch's bounding boxes to ``max_number`` per image in Keras; images
    pass through unchanged (kconv's models carry images only)."""

    config_keys = ("max_number",)

    def __init__(self, max_number, fill_value=-1, data_format=None, *, input_shape=None,
                 name=None, trainable=True):
        super().__init__(data_format, None, input_shape=input_shape, name=name,
                         trainable=trainable)
        self.max_number = check_int("max_number", max_number)
        self.fill_value = int(fill_value)

    def transform(self, images):
        return images
