"""Keras Applications' builders, as kconv models with Keras's layer names and order, so
Keras's weights files load into them: ``VGG16``, ``VGG19``, ``ResNet50``, ``ResNet101``,
``ResNet152``, ``ResNet50V2``, ``ResNet101V2``, ``ResNet152V2``, each with Keras's
``include_top``, ``weights`` (None or a local Keras weights file: nothing is downloaded),
``input_tensor``, ``input_shape``, ``pooling``, ``classes`` and ``classifier_activation``,
and the families' ``preprocess_input`` under Keras's module names (``vgg16``, ``resnet50``,
``resnet``, ``resnet_v2``, ``densenet``). Every Applications network Keras saves opens with
``kconv.models.load_model``; the other families' builders are not written yet."""

import types

from kconv.applications import imagenet_utils
from kconv.applications.densenet import DenseNet121, DenseNet169, DenseNet201
from kconv.applications.densenet import preprocess_input as _densenet_preprocess
from kconv.applications.resnet import (ResNet50, ResNet50V2, ResNet101, ResNet101V2,
                                       ResNet152, ResNet152V2)
from kconv.applications.resnet import preprocess_input as _resnet_preprocess
from kconv.applications.resnet import preprocess_input_v2 as _resnet_v2_preprocess
from kconv.applications.vgg import VGG16, VGG19
from kconv.applications.vgg import preprocess_input as _vgg_preprocess


def _family(name, preprocess, **builders):
    module = types.ModuleType(f"kconv.applications.{name}")
    module.preprocess_input = preprocess
    module.decode_predictions = imagenet_utils.decode_predictions
    for key, value in builders.items():
        setattr(module, key, value)
    return module


vgg16 = _family("vgg16", _vgg_preprocess, VGG16=VGG16)
vgg19 = _family("vgg19", _vgg_preprocess, VGG19=VGG19)
resnet50 = _family("resnet50", _resnet_preprocess, ResNet50=ResNet50)
resnet = _family("resnet", _resnet_preprocess, ResNet50=ResNet50, ResNet101=ResNet101,
                 ResNet152=ResNet152)
densenet = _family("densenet", _densenet_preprocess, DenseNet121=DenseNet121,
                   DenseNet169=DenseNet169, DenseNet201=DenseNet201)
resnet_v2 = _family("resnet_v2", _resnet_v2_preprocess, ResNet50V2=ResNet50V2,
                    ResNet101V2=ResNet101V2, ResNet152V2=ResNet152V2)

__all__ = ["VGG16", "VGG19", "ResNet50", "ResNet101", "ResNet152", "ResNet50V2",
           "ResNet101V2", "ResNet152V2", "DenseNet121", "DenseNet169", "DenseNet201",
           "imagenet_utils", "vgg16", "vgg19", "resnet50", "resnet", "resnet_v2", "densenet"]
