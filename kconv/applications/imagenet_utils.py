"""What Keras Applications' builders share: their arguments' checks, the input shape they
infer, the weights they load (a local file; nothing is downloaded), the classifier head and
``preprocess_input``'s three modes."""

import os

import numpy as np
import torch

from kconv import config
from kconv.layers import Dense, GlobalAveragePooling2D, GlobalMaxPooling2D, Input
from kconv.validation import invalid_value

# Keras's ImageNet statistics, RGB order.
_CAFFE_MEAN = (103.939, 116.779, 123.68)  # BGR
_TORCH_MEAN, _TORCH_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def check_arguments(weights, include_top, classes, pooling, classifier_activation):
    """Keras's checks of a builder's arguments; ImageNet weights are a local file here."""
    if weights == "imagenet":
        raise ValueError("weights='imagenet' needs a download, which kconv never does: "
                         "download the Keras Applications weights file (keras.io lists "
                         "them) and pass its path as weights=")
    if weights is not None and not os.path.isfile(os.fspath(weights)):
        raise invalid_value("weights", "None or the path of a weights file that exists",
                            weights)
    if pooling not in (None, "avg", "max"):
        raise invalid_value("pooling", "None, 'avg' or 'max'", pooling)
    if include_top and (isinstance(classes, bool) or not isinstance(classes, int)
                        or classes < 1):
        raise invalid_value("classes", "a positive int", classes)
    del classifier_activation  # checked by the Dense that takes it


def input_shape_for(input_shape, default_size, min_size, include_top):
    """Keras's ``obtain_input_shape`` (without ImageNet weights, which are a file here)."""
    channels_first = config.image_data_format() == "channels_first"
    if input_shape is None:
        if include_top:
            return (3, default_size, default_size) if channels_first else \
                (default_size, default_size, 3)
        return (3, None, None) if channels_first else (None, None, 3)
    input_shape = tuple(input_shape)
    if len(input_shape) != 3:
        raise ValueError(f"`input_shape` must be a tuple of three integers. Received: "
                         f"input_shape={input_shape}")
    spatial = input_shape[1:] if channels_first else input_shape[:2]
    if any(s is not None and s < min_size for s in spatial):
        raise ValueError(f"Input size must be at least {min_size}x{min_size}; Received: "
                         f"input_shape={input_shape}")
    if include_top and None in input_shape:
        raise ValueError(f"If `include_top` is True, you should specify a static "
                         f"`input_shape`. Received: input_shape={input_shape}")
    return input_shape


def model_inputs(weights, include_top, classes, pooling, classifier_activation, input_shape,
                 input_tensor, default_size=224, min_size=32, channels_last_only=None):
    """A builder's start: its arguments checked, then ``(its input tensor, the input
    shape)``; ``channels_last_only``: the family's name, refused under channels_first as
    Keras refuses it."""
    if channels_last_only and config.image_data_format() == "channels_first":
        raise ValueError(f"{channels_last_only} does not support the `channels_first` image "
                         "data format (as in Keras): set channels_last")
    check_arguments(weights, include_top, classes, pooling, classifier_activation)
    shape = input_shape_for(input_shape, default_size, min_size, include_top)
    return inputs_for(input_tensor, shape), shape


def inputs_for(input_tensor, input_shape):
    """The model's input: ``input_tensor`` (a kconv Input) or a new one."""
    if input_tensor is None:
        return Input(shape=input_shape)
    if not hasattr(input_tensor, "_keras_history"):
        raise invalid_value("input_tensor", "a kconv Input (a symbolic tensor)", input_tensor)
    return input_tensor


def channel_axis():
    """The channel axis of an image batch in the global data format."""
    return 1 if config.image_data_format() == "channels_first" else 3


def correct_pad(x, kernel_size):
    """Keras's ``correct_pad``: the ZeroPadding2D before a stride-2 'valid' convolution that
    centres it as TensorFlow's 'same' would on an even size."""
    size = x.shape[2:4] if config.image_data_format() == "channels_first" else x.shape[1:3]
    kernel = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
    adjust = (1, 1) if size[0] is None else (1 - size[0] % 2, 1 - size[1] % 2)
    return tuple((k // 2 - a, k // 2) for k, a in zip(kernel, adjust))


def head(x, include_top, pooling, classes, classifier_activation, pool_names=("avg_pool",
                                                                              "max_pool"),
         top_pool_name=None):
    """Keras's ending: global average pooling and the ``predictions`` Dense, or, without
    the top, the ``pooling`` asked for (``pool_names`` None for Keras's automatic names;
    ``top_pool_name`` when the top's pooling is named differently)."""
    names = pool_names or (None, None)
    if include_top:
        x = GlobalAveragePooling2D(name=top_pool_name or names[0])(x)
        return Dense(classes, activation=classifier_activation, name="predictions")(x)
    if pooling == "avg":
        return GlobalAveragePooling2D(name=names[0])(x)
    if pooling == "max":
        return GlobalMaxPooling2D(name=names[1])(x)
    return x


def finish(model, weights):
    """Load ``weights`` (a Keras weights file) into the built model."""
    if weights is not None:
        model.load_weights(os.fspath(weights))
    return model


def preprocess_input(x, data_format=None, mode="caffe"):
    """Keras's ``imagenet_utils.preprocess_input``: 'caffe' (RGB to BGR, minus the ImageNet
    mean), 'tf' (to [-1, 1]) or 'torch' (to [0, 1], then the ImageNet mean and standard
    deviation); NumPy arrays stay NumPy (float32), tensors stay tensors."""
    data_format = config.standardize_data_format(data_format)
    if mode not in ("caffe", "tf", "torch"):
        raise invalid_value("mode", "'caffe', 'tf' or 'torch'", mode)
    is_numpy = not isinstance(x, torch.Tensor)
    t = torch.as_tensor(np.asarray(x, dtype="float32") if is_numpy else x).float()
    axis = -1 if data_format == "channels_last" else (0 if t.ndim == 3 else 1)
    shape = [1] * t.ndim
    shape[axis] = 3

    def per_channel(values):
        return torch.tensor(values, dtype=t.dtype, device=t.device).reshape(shape)
    if mode == "tf":
        t = t / 127.5 - 1.0
    elif mode == "torch":
        t = (t / 255.0 - per_channel(_TORCH_MEAN)) / per_channel(_TORCH_STD)
    else:
        t = t.flip(axis) - per_channel(_CAFFE_MEAN)
    return t.numpy() if is_numpy else t


def preprocess_nothing(x, data_format=None):
    """``preprocess_input`` of the families that rescale inside the model (MobileNetV3,
    EfficientNet, EfficientNetV2, ConvNeXt): ``x`` as it is."""
    del data_format
    return x


def decode_predictions(preds, top=5):
    """Keras's ``decode_predictions`` needs ImageNet's class index, a download: refused."""
    raise ValueError("decode_predictions needs Keras's ImageNet class index file (a "
                     "download, which kconv never does)")
