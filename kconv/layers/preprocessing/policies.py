"""Keras's augmentation policies over its eleven operations (shear, translation, rotation,
brightness, colour degeneration, contrast, sharpness, posterization, solarization,
auto-contrast, equalization), all at strength ``factor``: ``RandAugment`` (``num_ops`` of
them in a row) and ``AugMix`` (a Dirichlet-weighted mix of chains of them, blended with
the image)."""

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
from kconv.validation import check_bool, check_choice, check_float, check_int

_GEOMETRIC = {"random_shear": lambda f, s, g: RandomShear(f, f, seed=s, **g),
              "random_translation": lambda f, s, g: RandomTranslation(f, f, seed=s, **g),
              "random_rotation": lambda f, s, g: RandomRotation(f, seed=s, **g)}
_TONE = {"random_brightness": lambda f, s, t: RandomBrightness(f, seed=s, **t),
         "random_color_degeneration": lambda f, s, t: RandomColorDegeneration(f, seed=s, **t),
         "random_contrast": lambda f, s, t: RandomContrast(f, seed=s, **t),
         "random_sharpness": lambda f, s, t: RandomSharpness(f, seed=s, **t),
         "random_posterization": lambda f, s, t: RandomPosterization(max(1, int(8 * f[1])),
                                                                     seed=s, **t),
         "solarization": lambda f, s, t: Solarization(f, f, seed=s, **t),
         "auto_contrast": lambda f, s, t: AutoContrast(**t),
         "equalization": lambda f, s, t: Equalization(**t)}


class _Policy(ImagePreprocessingLayer):
    """A policy over the operations ``names`` (Keras's attribute names, in its order), each
    a layer seeded ``seed + 1 + i``; a random operation draws its parameters per image, as
    its layer does, each time it is drawn."""

    def __init__(self, names, value_range, factor, interpolation, seed, data_format, **kwargs):
        super().__init__(data_format, seed, **kwargs)
        self.value_range = check_value_range(value_range)
        self.factor = check_factor("factor", factor, (0.0, 1.0))
        self.interpolation = check_choice("interpolation", interpolation, INTERPOLATIONS)
        geometric = {"interpolation": interpolation, "data_format": data_format}
        tone = {"value_range": value_range, "data_format": data_format}
        self.operations = nn.ModuleList([
            _GEOMETRIC[name](self.factor, None if seed is None else seed + 1 + i, geometric)
            if name in _GEOMETRIC else
            _TONE[name](self.factor, None if seed is None else seed + 1 + i, tone)
            for i, name in enumerate(names)])

    def draw(self, i, n, height, width, device):
        """Operation ``i`` and its parameters for a batch (None for a deterministic one)."""
        operation = self.operations[i]
        if isinstance(operation, (AutoContrast, Equalization)):
            return i, None
        return i, operation.sample(n, height, width, device)

    def run(self, images, drawn):
        i, params = drawn
        operation = self.operations[i]
        return operation.transform(images) if params is None else \
            operation.apply(images, params)


class RandAugment(_Policy):
    """Applies ``num_ops`` operations, each drawn (per batch, with repetition) from Keras's
    eleven, in order; an operation drawn twice repeats its transform, as in Keras."""

    config_keys = ("value_range", "num_ops", "factor", "interpolation", "seed")
    NAMES = ("random_shear", "random_translation", "random_rotation", "random_brightness",
             "random_color_degeneration", "random_contrast", "random_sharpness",
             "random_posterization", "solarization", "auto_contrast", "equalization")

    def __init__(self, value_range=(0, 255), num_ops=2, factor=0.5, interpolation="bilinear",
                 seed=None, data_format=None, *, input_shape=None, name=None,
                 trainable=True):
        super().__init__(self.NAMES, value_range, factor, interpolation, seed, data_format,
                         input_shape=input_shape, name=name, trainable=trainable)
        self.num_ops = check_int("num_ops", num_ops)

    def sample(self, n, height, width, device):
        chosen = torch.randint(len(self.operations), (self.num_ops,),
                               generator=self._generator("cpu")).tolist()
        drawn = {i: self.draw(i, n, height, width, device) for i in set(chosen)}
        return [drawn[i] for i in chosen]

    def apply(self, images, params):
        for drawn in params:
            images = self.run(images, drawn)
        return images


class AugMix(_Policy):
    """Keras's AugMix: ``num_chains`` chains of up to ``chain_depth`` operations (each slot
    one of the operations, or none, uniformly), mixed by Dirichlet(``alpha``) weights and
    blended with the image by a Beta(``alpha``, ``alpha``) draw, all drawn once per batch
    as Keras; clipped to ``value_range``. ``all_ops=False`` keeps the seven operations that
    leave the colours' balance alone (shear, translation, rotation, posterization,
    solarization, auto-contrast, equalization)."""

    config_keys = ("value_range", "num_chains", "chain_depth", "factor", "alpha", "all_ops",
                   "interpolation", "seed")
    NAMES = ("random_shear", "random_translation", "random_rotation", "random_posterization",
             "solarization", "auto_contrast", "equalization", "random_brightness",
             "random_color_degeneration", "random_contrast", "random_sharpness")

    def __init__(self, value_range=(0, 255), num_chains=3, chain_depth=3, factor=0.3,
                 alpha=1.0, all_ops=True, interpolation="bilinear", seed=None,
                 data_format=None, *, input_shape=None, name=None, trainable=True):
        self.all_ops = check_bool("all_ops", all_ops)
        super().__init__(self.NAMES if all_ops else self.NAMES[:7], value_range, factor,
                         interpolation, seed, data_format, input_shape=input_shape,
                         name=name, trainable=trainable)
        self.num_chains = check_int("num_chains", num_chains)
        self.chain_depth = check_int("chain_depth", chain_depth)
        self.alpha = check_float("alpha", alpha, minimum=0.0, strict_minimum=True)

    def sample(self, n, height, width, device):
        weights = self.dirichlet(self.num_chains, self.alpha, device)
        blend = self.beta(1, self.alpha, device)[0]
        slots = torch.randint(len(self.operations) + 1, (self.num_chains, self.chain_depth),
                              generator=self._generator("cpu")).tolist()
        chains = [[self.draw(i, n, height, width, device) for i in chain
                   if i < len(self.operations)] for chain in slots]
        return {"chain_mixing_weights": weights, "weight_sample": blend,
                "chain_transforms": chains}

    def apply(self, images, params):
        weights = params["chain_mixing_weights"].to(images.dtype)
        mixed = torch.zeros_like(images)
        for weight, chain in zip(weights, params["chain_transforms"]):
            augmented = images
            for drawn in chain:
                augmented = self.run(augmented, drawn)
            mixed = mixed + augmented * weight
        blend = params["weight_sample"].to(images.dtype)
        return (blend * images + (1 - blend) * mixed).clamp(*self.value_range)
