"""Keras's intensity augmentation layers: ``RandomContrast`` and ``RandomBrightness``, one
draw per image, results clipped to ``value_range``."""

from kconv.layers.preprocessing.base import (ImagePreprocessingLayer, check_factor,
                                             check_value_range)


class _IntensityLayer(ImagePreprocessingLayer):
    bounds = (-1.0, 1.0)

    def __init__(self, factor, value_range=(0, 255), seed=None, data_format=None, *,
                 input_shape=None, name=None, trainable=True):
        super().__init__(data_format, seed, input_shape=input_shape, name=name, trainable=trainable)
        self.factor = check_factor("factor", factor, self.bounds)
        self.value_range = check_value_range(value_range)

    def _clip(self, images):
        return images.clamp(self.value_range[0], self.value_range[1])

    def get_config(self):
        config_ = super().get_config()
        if self.data_format == "channels_last":  # Keras writes none (its base reads one)
            del config_["data_format"]
        return {**config_, "factor": self.factor, "value_range": self.value_range}


class RandomContrast(_IntensityLayer):
    """Scales each image's deviation from its per-channel mean by a factor drawn uniformly
    from ``[1 - lower, 1 + upper]``, ``factor`` giving ``(lower, upper)`` in [0, 1] (as
    Keras 3 reads it, a number f gives (0, f): contrast is only ever raised)."""

    bounds = (0.0, 1.0)

    def sample(self, n, height, width, device):
        return {"contrast_factor": self.uniform((n,), 1.0 - self.factor[0],
                                                1.0 + self.factor[1], device)}

    def apply(self, images, params):
        mean = images.mean(dim=(2, 3), keepdim=True)
        factor = params["contrast_factor"].view(-1, 1, 1, 1).to(images.dtype)
        return self._clip((images - mean) * factor + mean)


class RandomBrightness(_IntensityLayer):
    """Adds to each image a constant drawn uniformly from ``factor`` (a number f means
    (-f, f)) times the width of ``value_range``."""

    def sample(self, n, height, width, device):
        span = self.value_range[1] - self.value_range[0]
        return {"rgb_delta": self.uniform((n,), *self.factor, device) * span}

    def apply(self, images, params):
        return self._clip(images + params["rgb_delta"].view(-1, 1, 1, 1).to(images.dtype))
