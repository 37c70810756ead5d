"""Keras Applications' builders, as kconv models with Keras's layer names and order, so
Keras's weights files load into them: VGG16/19, ResNet50/101/152 (V2), DenseNet121/169/201,
MobileNet, MobileNetV2, MobileNetV3Small/Large, EfficientNetB0-B7, EfficientNetV2B0-B3/S/M/L,
InceptionV3, InceptionResNetV2, Xception, ConvNeXtTiny/Small/Base/Large/XLarge and
NASNetMobile/Large, each with Keras's ``include_top``, ``weights`` (None or a local Keras
weights file: nothing is downloaded), ``input_tensor``, ``input_shape``, ``pooling``,
``classes``, ``classifier_activation`` and its family's own arguments, and the families'
``preprocess_input`` under Keras's module names (``vgg16``, ``resnet50``, ``mobilenet_v2``,
``efficientnet``, ``convnext``...)."""

import sys
import types

from kconv.applications import convnext as _convnext
from kconv.applications import densenet as _densenet
from kconv.applications import efficientnet as _efficientnet
from kconv.applications import imagenet_utils
from kconv.applications import inception as _inception
from kconv.applications import mobilenet as _mobilenet
from kconv.applications import nasnet as _nasnet
from kconv.applications import resnet as _resnet
from kconv.applications import vgg as _vgg
from kconv.applications import xception as _xception

_FAMILIES = {  # Keras's module: (the module that builds it, its preprocess_input, builders)
    "vgg16": (_vgg, _vgg.preprocess_input, "VGG16"),
    "vgg19": (_vgg, _vgg.preprocess_input, "VGG19"),
    "resnet50": (_resnet, _resnet.preprocess_input, "ResNet50"),
    "resnet": (_resnet, _resnet.preprocess_input, "ResNet50 ResNet101 ResNet152"),
    "resnet_v2": (_resnet, _resnet.preprocess_input_v2, "ResNet50V2 ResNet101V2 ResNet152V2"),
    "densenet": (_densenet, _densenet.preprocess_input, "DenseNet121 DenseNet169 DenseNet201"),
    "mobilenet": (_mobilenet, _mobilenet.preprocess_input, "MobileNet"),
    "mobilenet_v2": (_mobilenet, _mobilenet.preprocess_input, "MobileNetV2"),
    "mobilenet_v3": (_mobilenet, _mobilenet.preprocess_input_v3,
                     "MobileNetV3Small MobileNetV3Large"),
    "efficientnet": (_efficientnet, _efficientnet.preprocess_input,
                     " ".join(f"EfficientNetB{i}" for i in range(8))),
    "efficientnet_v2": (_efficientnet, _efficientnet.preprocess_input,
                        " ".join(f"EfficientNetV2{v}" for v in
                                 ("B0", "B1", "B2", "B3", "S", "M", "L"))),
    "inception_v3": (_inception, _inception.preprocess_input, "InceptionV3"),
    "inception_resnet_v2": (_inception, _inception.preprocess_input, "InceptionResNetV2"),
    "xception": (_xception, _xception.preprocess_input, "Xception"),
    "convnext": (_convnext, _convnext.preprocess_input,
                 "ConvNeXtTiny ConvNeXtSmall ConvNeXtBase ConvNeXtLarge ConvNeXtXLarge"),
    "nasnet": (_nasnet, _nasnet.preprocess_input, "NASNetMobile NASNetLarge"),
}


def _family(name, source, preprocess, builders):
    """Keras's module ``keras.applications.<name>``: kconv's module of that name where one
    exists (it builds the family), else a module of the family's builders; importable
    either way (``from kconv.applications.mobilenet_v2 import preprocess_input``)."""
    qualified = f"{__name__}.{name}"
    module = sys.modules.get(qualified)
    if module is None:
        module = sys.modules[qualified] = types.ModuleType(qualified)
        module.preprocess_input = preprocess
        for builder in builders.split():
            setattr(module, builder, getattr(source, builder))
    assert module.preprocess_input is preprocess, name
    module.decode_predictions = imagenet_utils.decode_predictions
    return module


for _name, (_source, _preprocess, _builders) in _FAMILIES.items():
    globals()[_name] = _family(_name, _source, _preprocess, _builders)
    globals().update({b: getattr(_source, b) for b in _builders.split()})

__all__ = sorted({b for *_, builders in _FAMILIES.values() for b in builders.split()}) + \
    ["imagenet_utils"] + list(_FAMILIES)
