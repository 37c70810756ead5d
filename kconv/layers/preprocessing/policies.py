"""Keras's ``RandAugment``: ``num_ops`` operations drawn per batch from eleven augmentation
layers (shear, translation, rotation, brightness, colour degeneration, contrast, sharpness,
posterization, solarization, auto-contrast, equalization), all at strength ``factor``."""

import torch
from torch import nn

from kconv.layers.preprocessing.base import (ImagePreprocessingLayer, check_factor,
                                             check_value_range)
from kconv.layers.preprocessing.color import RandomColorDegeneration
from kconv.layers.preprocessing.geometric import (INTERPOLATIONS, RandomRotation,
                                                  RandomShear, RandomTranslation)
from kconv.layers.preprocessing.intensity import (AutoContrast, Equalization,
                                                  RandomBrightness, RandomContrast,
                                                  RandomPosterization, RandomSharpness,
                                                  Solarization)
from kconv.validation import check_choice, check_int


class RandAugment(ImagePreprocessingLayer):
    """Applies ``num_ops`` operations, each drawn (per batch, with repetition) from Keras's
    eleven, in order; a random operation draws its parameters per image as its layer does,
    once per call (an operation drawn twice repeats its transform, as in Keras)."""

    config_keys = ("value_range", "num_ops", "factor", "interpolation", "seed")

    def __init__(self, value_range=(0, 255), num_ops=2, factor=0.5, interpolation="bilinear",
                 seed=None, data_format=None, *, input_shape=None, name=None,
                 trainable=True):
        super().__init__(data_format, seed, input_shape=input_shape, name=name,
                         trainable=trainable)
        self.value_range = check_value_range(value_range)
        self.num_ops = check_int("num_ops", num_ops)
        self.factor = check_factor("factor", factor, (0.0, 1.0))
        self.interpolation = check_choice("interpolation", interpolation, INTERPOLATIONS)
        f, common = self.factor, {"data_format": data_format}
        tone = {"value_range": value_range, **common}
        geometric = {"interpolation": interpolation, **common}
        makers = (lambda s: RandomShear(f, f, seed=s, **geometric),
                  lambda s: RandomTranslation(f, f, seed=s, **geometric),
                  lambda s: RandomRotation(f, seed=s, **geometric),
                  lambda s: RandomBrightness(f, seed=s, **tone),
                  lambda s: RandomColorDegeneration(f, seed=s, **tone),
                  lambda s: RandomContrast(f, seed=s, **tone),
                  lambda s: RandomSharpness(f, seed=s, **tone),
                  lambda s: RandomPosterization(max(1, int(8 * f[1])), seed=s, **tone),
                  lambda s: Solarization(f, f, seed=s, **tone),
                  lambda s: AutoContrast(**tone),
                  lambda s: Equalization(**tone))
        self.operations = nn.ModuleList([make(None if seed is None else seed + 1 + i)
                                         for i, make in enumerate(makers)])

    def sample(self, n, height, width, device):
        chosen = torch.randint(len(self.operations), (self.num_ops,),
                               generator=self._generator("cpu"))
        return {"layer_idxes": chosen.tolist(), "transforms": {
            i: self.operations[i].sample(n, height, width, device)
            for i in set(chosen.tolist()) if i < 9}}

    def apply(self, images, params):
        for i in params["layer_idxes"]:
            operation = self.operations[i]
            images = operation.apply(images, params["transforms"][i]) if i < 9 else \
                operation.transform(images)
        return images
