"""Receptive fields of a ``Sequential``: per layer, how large an input patch one output
unit sees, the jump (effective stride) between neighbouring units, and the share of the
input that patch covers.

For a window layer with kernel ``k``, dilation ``d`` and stride ``s``:
``rf_out = rf_in + (d * (k - 1)) * jump_in`` and ``jump_out = jump_in * s``. Layers that
mix all positions (Flatten, Dense after it, global pooling) see the union of every
position of the last feature map.
"""

from dataclasses import dataclass

from kconv import config
from kconv.layers.conv import Conv2D
from kconv.layers.core import Flatten
from kconv.layers.pooling import _GlobalPooling, _Pooling


@dataclass(frozen=True)
class FieldRow:
    """One layer's receptive field; sizes and jumps are (height, width)."""

    name: str
    output_size: tuple  # spatial (H, W) of the layer's output, or None once flattened
    size: tuple
    jump: tuple
    coverage: float  # percent of the input's pixels seen by one output unit

    @property
    def pixels(self):
        return self.size[0] * self.size[1]


def _spatial(shape, data_format):
    """(H, W) of a 4-D batch shape; None once the layer has left image space."""
    return config.spatial_shape(shape, data_format) if shape and len(shape) == 4 else None


def receptive_field(model):
    """The receptive-field table of a built ``Sequential``, one :class:`FieldRow` a layer.

    Example:
        >>> rows = receptive_field(models.get_model("mnist_cnn"))
        >>> rows[4].size, round(rows[4].coverage, 1)
        ((18, 18), 41.3)
    """
    if not model.built:
        raise ValueError(f"Model '{model.name}' is not built: give it an Input or call it "
                         "on data before computing receptive fields.")
    first = model.layers[0]
    data_format = getattr(first, "data_format", "channels_last")
    image = _spatial(model.build_shape, data_format)
    if image is None or None in image:
        raise ValueError(f"Model '{model.name}' needs a known 2-D image input; its input "
                         f"shape is {model.build_shape}")
    size, jump, grid, mixed = (1, 1), (1, 1), image, False
    rows = []
    for layer in model.layers:
        window = None
        if isinstance(layer, Conv2D):
            window = (layer.kernel_size, layer.strides, layer.dilation_rate)
        elif isinstance(layer, _Pooling) and layer.rank == 2:
            window = (layer.pool_size, layer.strides, (1, 1))
        if window is not None and not mixed:
            kernel, strides, dilation = window
            size = tuple(r + d * (k - 1) * j for r, k, d, j in zip(size, kernel, dilation, jump))
            jump = tuple(j * s for j, s in zip(jump, strides))
            grid = _spatial(layer.output_shape, layer.data_format)
        elif isinstance(layer, (Flatten, _GlobalPooling)) and not mixed:
            size = tuple(r + (n - 1) * j for r, n, j in zip(size, grid, jump))
            mixed = True
        seen = tuple(min(r, n) for r, n in zip(size, image))
        output = None if mixed else _spatial(layer.output_shape, data_format)
        rows.append(FieldRow(layer.name, output, size, jump,
                             100.0 * seen[0] * seen[1] / (image[0] * image[1])))
    return rows
