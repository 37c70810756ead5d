"""``BatchNormalization`` with Keras numerics (momentum 0.99, epsilon 1e-3, biased
moving variance) and torch's ``weight``/``bias``/``running_mean``/``running_var`` names;
``LayerNormalization`` and ``GroupNormalization``."""

import torch
import torch.nn.functional as F

from kconv.layers.layer import Layer
from kconv.validation import check_bool, check_float, invalid_type, is_int


class BatchNormalization(Layer):
    """Normalizes over every axis but ``axis`` with batch statistics in ``train()`` mode
    and moving statistics in ``eval()`` mode (or when the layer is not trainable).

    Moving statistics follow Keras: ``moving = moving * momentum + batch * (1 - momentum)``
    with the biased (population) batch variance. As in Keras, ``axis`` does not follow
    ``data_format``: channels_first users pass ``axis=1``. Half-precision inputs are
    normalized in float32 and cast back.

    Args:
        axis: the feature axis (default -1).
        momentum: moving-average momentum (default 0.99).
        epsilon: added to the variance (default 1e-3).
        center, scale: whether to learn ``bias`` (beta) and ``weight`` (gamma).
        beta_initializer, gamma_initializer, moving_mean_initializer,
        moving_variance_initializer: initializers.
        beta_regularizer, gamma_regularizer, beta_constraint, gamma_constraint.
        input_shape, name, trainable: see :class:`~kconv.layers.Layer`.

    Example:
        >>> bn = BatchNormalization()
        >>> bn(torch.randn(8, 12, 12, 32)).shape
        torch.Size([8, 12, 12, 32])
    """

    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones",
                 moving_mean_initializer="zeros", moving_variance_initializer="ones",
                 beta_regularizer=None, gamma_regularizer=None, beta_constraint=None,
                 gamma_constraint=None, *, input_shape=None, name=None, trainable=True):
        super().__init__(input_shape=input_shape, name=name, trainable=trainable)
        if not is_int(axis):
            raise invalid_type("axis", "an int", axis)
        self.axis = int(axis)
        self.momentum = check_float("momentum", momentum, minimum=0.0, maximum=1.0)
        self.epsilon = check_float("epsilon", epsilon, minimum=0.0, strict_minimum=True)
        self.center = check_bool("center", center)
        self.scale = check_bool("scale", scale)
        self._resolve(beta_initializer=beta_initializer, gamma_initializer=gamma_initializer,
                      moving_mean_initializer=moving_mean_initializer,
                      moving_variance_initializer=moving_variance_initializer,
                      beta_regularizer=beta_regularizer, gamma_regularizer=gamma_regularizer,
                      beta_constraint=beta_constraint, gamma_constraint=gamma_constraint)
        self.weight = None
        self.bias = None
        self._channel_dim = None

    def build(self, input_shape):
        channels = self._known_size(input_shape, self.axis)
        self._channel_dim = self.axis % len(input_shape)
        if self.scale:
            self.add_weight("weight", (channels,), self.gamma_initializer,
                            regularizer=self.gamma_regularizer, constraint=self.gamma_constraint)
        if self.center:
            self.add_weight("bias", (channels,), self.beta_initializer,
                            regularizer=self.beta_regularizer, constraint=self.beta_constraint)
        self.add_weight("running_mean", (channels,), self.moving_mean_initializer,
                        trainable=False)
        self.add_weight("running_var", (channels,), self.moving_variance_initializer,
                        trainable=False)
        self._pin_input_axes({self.axis: channels})

    def call(self, x):
        if self._channel_dim == 1:
            return self.call_channels_first(x)
        # A view; NHWC becomes channels_last NCHW.
        return self.call_channels_first(x.movedim(self._channel_dim, 1)).movedim(
            1, self._channel_dim)

    def channels_first_output(self, shapes):
        return True if self._channel_dim == 3 else None

    def call_channels_first(self, x):
        """Normalizes over axis 1, the channels of ``x``."""
        dtype = x.dtype
        if dtype in (torch.float16, torch.bfloat16):
            x = x.float()
        if self.training and self.trainable:
            y = self._normalize_training(x)
        else:
            y = F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                             False, 0.0, self.epsilon)
        return y.to(dtype)

    def _normalize_training(self, x):
        count = x.numel() // x.shape[1]
        if count < 2:
            # torch refuses one value per channel. The batch variance is 0, so Keras gives
            # (x - mean) / sqrt(eps) * gamma + beta with x == mean: beta, with gradients.
            batch_mean = x.detach().reshape(-1)
            unbiased_var = torch.zeros_like(batch_mean)
            shape = [1, -1] + [1] * (x.ndim - 2)
            y = (x - x) * self.epsilon ** -0.5
            if self.weight is not None:
                y = y * self.weight.view(shape)
            if self.bias is not None:
                y = y + self.bias.view(shape)
        else:
            # momentum=1 makes torch store exactly this batch's mean and unbiased variance in
            # the scratch tensors; the moving statistics are then updated the Keras way.
            batch_mean = torch.zeros_like(self.running_mean)
            unbiased_var = torch.ones_like(self.running_var)
            y = F.batch_norm(x, batch_mean, unbiased_var, self.weight, self.bias, True, 1.0,
                             self.epsilon)
        with torch.no_grad():
            biased_var = unbiased_var * ((count - 1) / count) if count > 1 else unbiased_var
            self.running_mean.mul_(self.momentum).add_(batch_mean, alpha=1 - self.momentum)
            self.running_var.mul_(self.momentum).add_(biased_var, alpha=1 - self.momentum)
        return y

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "momentum": self.momentum,
                "epsilon": self.epsilon, "center": self.center, "scale": self.scale,
                **self._serialized("beta_initializer", "gamma_initializer",
                                   "moving_mean_initializer", "moving_variance_initializer",
                                   "beta_regularizer", "gamma_regularizer", "beta_constraint",
                                   "gamma_constraint")}


def _axes(name, axis):
    if is_int(axis):
        return (int(axis),)
    if isinstance(axis, (list, tuple)) and axis and all(is_int(a) for a in axis):
        return tuple(int(a) for a in axis)
    raise invalid_type(name, "an int or a tuple of ints", axis)


class _AffineNormalization(Layer):
    """What LayerNormalization and GroupNormalization share: ``epsilon``, ``center`` and
    ``scale`` and gamma/beta (torch's ``weight``/``bias``) with their Keras families."""

    def _affine(self, epsilon, center, scale, **identifiers):
        self.epsilon = check_float("epsilon", epsilon, minimum=0.0, strict_minimum=True)
        self.center = check_bool("center", center)
        self.scale = check_bool("scale", scale)
        self._resolve(**identifiers)
        self.weight = self.bias = None

    def _add_gamma_beta(self, shape):
        if self.scale:
            self.add_weight("weight", shape, self.gamma_initializer,
                            regularizer=self.gamma_regularizer, constraint=self.gamma_constraint)
        if self.center:
            self.add_weight("bias", shape, self.beta_initializer,
                            regularizer=self.beta_regularizer, constraint=self.beta_constraint)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon, "center": self.center,
                "scale": self.scale,
                **self._serialized("beta_initializer", "gamma_initializer",
                                   "beta_regularizer", "gamma_regularizer", "beta_constraint",
                                   "gamma_constraint")}


class LayerNormalization(_AffineNormalization):
    """Normalizes each sample over ``axis`` (default the last): ``(x - mean) /
    sqrt(var + epsilon) * gamma + beta`` with the biased variance, as Keras; ``weight``
    (gamma) and ``bias`` (beta) have the shape of those axes."""

    def __init__(self, axis=-1, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones", beta_regularizer=None,
                 gamma_regularizer=None, beta_constraint=None, gamma_constraint=None, *,
                 input_shape=None, name=None, trainable=True):
        super().__init__(input_shape=input_shape, name=name, trainable=trainable)
        self.axis = _axes("axis", axis)
        self._affine(epsilon, center, scale, beta_initializer=beta_initializer,
                     gamma_initializer=gamma_initializer, beta_regularizer=beta_regularizer,
                     gamma_regularizer=gamma_regularizer, beta_constraint=beta_constraint,
                     gamma_constraint=gamma_constraint)
        self._dims = None

    def build(self, input_shape):
        rank = len(input_shape)
        if any(not -rank <= a < rank for a in self.axis):
            raise self._error(f"axis {self.axis} is out of range for an input of shape "
                              f"{tuple(input_shape)}")
        self._dims = tuple(sorted(a % rank for a in self.axis))
        self._add_gamma_beta(tuple(self._known_size(input_shape, a) for a in self._dims))
        self._pin_input_axes({a: input_shape[a] for a in self._dims})

    def call(self, x):
        dtype = x.dtype
        x = x.float() if dtype in (torch.float16, torch.bfloat16) else x
        if self._dims == tuple(range(x.ndim - len(self._dims), x.ndim)):
            y = F.layer_norm(x, x.shape[x.ndim - len(self._dims):], self.weight, self.bias,
                             self.epsilon)
            return y.to(dtype)
        var, mean = torch.var_mean(x, dim=self._dims, keepdim=True, correction=0)
        y = (x - mean) * torch.rsqrt(var + self.epsilon)
        shape = [x.shape[a] if a in self._dims else 1 for a in range(x.ndim)]
        if self.weight is not None:
            y = y * self.weight.reshape(shape)
        if self.bias is not None:
            y = y + self.bias.reshape(shape)
        return y.to(dtype)

    def get_config(self):
        # Keras writes the axes as a sorted list once built.
        axis = sorted(self.axis) if self.built or len(self.axis) > 1 else self.axis[0]
        return {**super().get_config(), "axis": axis}


class GroupNormalization(_AffineNormalization):
    """Normalizes each sample over groups of channels (``groups`` divides the channels of
    ``axis``) and the other non-batch axes, then scales and shifts per channel."""

    def __init__(self, groups=32, axis=-1, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones", beta_regularizer=None,
                 gamma_regularizer=None, beta_constraint=None, gamma_constraint=None, *,
                 input_shape=None, name=None, trainable=True):
        super().__init__(input_shape=input_shape, name=name, trainable=trainable)
        if not is_int(groups) or groups < 1:
            raise invalid_type("groups", "an int >= 1", groups)
        self.groups = int(groups)
        if not is_int(axis):
            raise invalid_type("axis", "an int", axis)
        self.axis = int(axis)
        self._affine(epsilon, center, scale, beta_initializer=beta_initializer,
                     gamma_initializer=gamma_initializer, beta_regularizer=beta_regularizer,
                     gamma_regularizer=gamma_regularizer, beta_constraint=beta_constraint,
                     gamma_constraint=gamma_constraint)
        self._channel_dim = None

    def build(self, input_shape):
        channels = self._known_size(input_shape, self.axis)
        if channels % self.groups:
            raise self._error(f"Number of groups ({self.groups}) must be a multiple of the "
                              f"number of channels ({channels}).")
        self._channel_dim = self.axis % len(input_shape)
        self._add_gamma_beta((channels,))
        self._pin_input_axes({self.axis: channels})

    def call(self, x):
        dtype = x.dtype
        x = x.float() if dtype in (torch.float16, torch.bfloat16) else x
        y = F.group_norm(x.movedim(self._channel_dim, 1), self.groups, self.weight, self.bias,
                         self.epsilon)
        return y.movedim(1, self._channel_dim).to(dtype)

    def get_config(self):
        return {**super().get_config(), "groups": self.groups, "axis": self.axis}
