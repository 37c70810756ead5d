"""Keras Applications' ConvNeXtTiny, Small, Base, Large and XLarge, layer for layer (with
Keras's internal LayerScale and its nested Sequential stem and downsampling blocks)."""

from kconv.applications import imagenet_utils
from kconv.layers import (Activation, Conv2D, Dense, GlobalAveragePooling2D, LayerNormalization,
                          LayerScale, Normalization)
from kconv.models.model import Model
from kconv.models.sequential import Sequential

_MEAN = (0.485, 0.456, 0.406)
_STD = (0.229, 0.224, 0.225)


def _norm(name=None):
    return LayerNormalization(epsilon=1e-6, name=name)


def _block(x, dim, name):
    """Keras's block as its builders make it: no drop path, layer scale from 1e-6."""
    y = Conv2D(dim, 7, padding="same", groups=dim, name=f"{name}_depthwise_conv")(x)
    y = Dense(4 * dim, name=f"{name}_pointwise_conv_1")(_norm(f"{name}_layernorm")(y))
    y = Activation("gelu", name=f"{name}_gelu")(y)
    y = Dense(dim, name=f"{name}_pointwise_conv_2")(y)
    y = LayerScale(1e-6, dim, name=f"{name}_layer_scale")(y)
    return x + Activation("linear", name=f"{name}_identity")(y)


def _convnext(depths, dims, name, include_top=True, include_preprocessing=True, weights=None,
              input_tensor=None, input_shape=None, pooling=None, classes=1000,
              classifier_activation="softmax"):
    inputs, shape = imagenet_utils.model_inputs(
        weights, include_top, classes, pooling, classifier_activation, input_shape,
        input_tensor, channels_last_only="ConvNeXt")
    x = inputs
    if include_preprocessing and shape[-1] == 3:
        x = Normalization(mean=[m * 255 for m in _MEAN], variance=[(s * 255) ** 2 for s in _STD],
                          name=f"{name}_prestem_normalization")(x)
    stages = [Sequential([Conv2D(dims[0], 4, strides=4, name=f"{name}_stem_conv"),
                          _norm(f"{name}_stem_layernorm")], name=f"{name}_stem")]
    stages += [Sequential([_norm(f"{name}_downsampling_layernorm_{i}"),
                           Conv2D(dims[i + 1], 2, strides=2, name=f"{name}_downsampling_conv_{i}")],
                          name=f"{name}_downsampling_block_{i}") for i in range(3)]
    for i, (stage, depth) in enumerate(zip(stages, depths)):
        x = stage(x)
        for j in range(depth):
            x = _block(x, dims[i], f"{name}_stage_{i}_block_{j}")
    if include_top:
        x = GlobalAveragePooling2D(name=f"{name}_head_gap")(x)
        x = _norm(f"{name}_head_layernorm")(x)
        x = Dense(classes, activation=classifier_activation, name=f"{name}_head_dense")(x)
    else:
        x = _norm()(imagenet_utils.head(x, False, pooling, classes, None, pool_names=None))
    return imagenet_utils.finish(Model(inputs, x, name=name), weights)


def _builder(title, depths, dims):
    default_name = "convnext_" + title[len("ConvNeXt"):].lower()

    def build(include_top=True, include_preprocessing=True, weights=None, input_tensor=None,
              input_shape=None, pooling=None, classes=1000, classifier_activation="softmax",
              name=default_name):
        return _convnext(depths, dims, name, include_top, include_preprocessing, weights,
                         input_tensor, input_shape, pooling, classes, classifier_activation)
    build.__name__ = build.__qualname__ = title
    build.__doc__ = (f"Keras's {title} (``weights``: None or a Keras weights file; nothing is "
                     "downloaded); it normalizes its [0, 255] input itself unless "
                     "``include_preprocessing=False``.")
    return build


ConvNeXtTiny = _builder("ConvNeXtTiny", (3, 3, 9, 3), (96, 192, 384, 768))
ConvNeXtSmall = _builder("ConvNeXtSmall", (3, 3, 27, 3), (96, 192, 384, 768))
ConvNeXtBase = _builder("ConvNeXtBase", (3, 3, 27, 3), (128, 256, 512, 1024))
ConvNeXtLarge = _builder("ConvNeXtLarge", (3, 3, 27, 3), (192, 384, 768, 1536))
ConvNeXtXLarge = _builder("ConvNeXtXLarge", (3, 3, 27, 3), (256, 512, 1024, 2048))

preprocess_input = imagenet_utils.preprocess_nothing  # it normalizes inside the model
