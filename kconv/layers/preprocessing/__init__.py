"""Keras's image preprocessing and augmentation layers, usable inside a model: random ones
act in training only, on the whole batch on its device."""

from kconv.layers.preprocessing.geometric import (RandomElasticTransform, RandomFlip,
                                                  RandomPerspective, RandomRotation,
                                                  RandomShear, RandomTranslation, RandomZoom)
from kconv.layers.preprocessing.intensity import (AutoContrast,
                                                  ContrastLimitedAdaptiveHistogramEqualization,
                                                  RandomBrightness,
                                                  RandomContrast, RandomGaussianBlur,
                                                  Equalization, RandomInvert,
                                                  RandomPosterization, RandomSharpness,
                                                  Solarization)
from kconv.layers.preprocessing.color import (RandomColorDegeneration, RandomColorJitter,
                                              RandomGrayscale, RandomHue, RandomSaturation)
from kconv.layers.preprocessing.mixing import CutMix, MixUp, RandomErasing
from kconv.layers.preprocessing.pipeline import MaxNumBoundingBoxes, Pipeline
from kconv.layers.preprocessing.policies import AugMix, RandAugment
from kconv.layers.preprocessing.resizing import CenterCrop, RandomCrop, Resizing

__all__ = ["RandomFlip", "RandomRotation", "RandomTranslation", "RandomZoom",
           "RandomBrightness", "RandomContrast", "RandomInvert", "Solarization",
           "RandomPosterization", "RandomSharpness", "AutoContrast", "RandomGrayscale",
           "RandomColorDegeneration", "RandomSaturation", "RandomHue", "RandomColorJitter",
           "RandomShear", "RandomGaussianBlur", "Equalization", "RandomErasing", "CutMix",
           "MixUp", "CenterCrop", "RandomCrop", "Resizing", "Pipeline", "MaxNumBoundingBoxes",
           "RandomPerspective", "RandAugment", "AugMix", "RandomElasticTransform",
           "ContrastLimitedAdaptiveHistogramEqualization"]
