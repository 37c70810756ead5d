"""``BatchNormalization`` with Keras numerics (momentum 0.99, epsilon 1e-3, biased
moving variance) and torch's ``weight``/``bias``/``running_mean``/``running_var`` names;
``LayerNormalization`` and ``GroupNormalization``."""

import math
import warnings

import torch
import torch.nn.functional as F

from kconv import config, distribution
from kconv.layers.layer import Layer
from kconv.mixed_precision.policy import as_float32
from kconv.validation import check_bool, check_float, invalid_type, invalid_value, is_int


class BatchNormalization(Layer):
    """Normalizes over every axis but ``axis`` with batch statistics in ``train()`` mode
    and moving statistics in ``eval()`` mode (or when the layer is not trainable).

    Moving statistics follow Keras: ``moving = moving * momentum + batch * (1 - momentum)``
    with the biased (population) batch variance. As in Keras, ``axis`` does not follow
    ``data_format``: channels_first users pass ``axis=1``. Half-precision inputs are
    normalized with float32 statistics and parameters (torch's mixed-type kernel) and
    stay in their dtype.

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
        if self.training and self.trainable:
            return self._normalize_training(x)
        return _batch_norm(x, self.weight, self.bias, self.running_mean, self.running_var,
                           False, 0.0, self.epsilon)

    def _normalize_training(self, x):
        count = x.numel() // x.shape[1]
        if distribution.syncing() or count < 2:  # in float32 (or float64) for half inputs
            dtype = x.dtype
            wide = as_float32(x)
            y = self._normalize_synchronized(wide) if distribution.syncing() else \
                self._normalize_one_value(wide)
            return y.to(dtype)
        # torch's update, running * (1 - mom) + batch * mom, is Keras's for the mean with
        # mom = 1 - momentum. For the variance torch takes the unbiased batch variance, so
        # it updates a scratch holding the moving variance scaled by count / (count - 1),
        # which scaled back by (count - 1) / count is Keras's update with the biased one.
        # The scratch is fresh each call: autograd saves it (so it cannot be reused), and
        # the moving variance itself cannot be scaled in place for the same reason.
        running_var = self.running_var
        scratch = running_var * (count / (count - 1))
        y = _batch_norm(x, self.weight, self.bias, self.running_mean, scratch, True,
                        1.0 - self.momentum, self.epsilon)
        torch.mul(scratch, (count - 1) / count, out=running_var)
        return y

    def _normalize_one_value(self, x):
        # torch refuses one value per channel. The batch variance is 0, so Keras gives
        # (x - mean) / sqrt(eps) * gamma + beta with x == mean: beta, with gradients.
        shape = [1, -1] + [1] * (x.ndim - 2)
        y = (x - x) * self.epsilon ** -0.5
        if self.weight is not None:
            y = y * self.weight.view(shape)
        if self.bias is not None:
            y = y + self.bias.view(shape)
        self._update_moving(x.detach().reshape(-1), torch.zeros_like(self.running_var), 1.0)
        return y

    def _normalize_synchronized(self, x):
        """Statistics over the batch of every data-parallel process (two passes, summed
        with a differentiable all-reduce, so the gradient is the whole batch's)."""
        from torch.distributed import group
        from torch.distributed._functional_collectives import all_reduce
        dims = [0] + list(range(2, x.ndim))
        shape = [1, -1] + [1] * (x.ndim - 2)
        count = x.new_full((1,), x.numel() // x.shape[1])
        sums = all_reduce(torch.cat([x.sum(dims), count]), "sum", group.WORLD)
        total = sums[-1].detach()
        mean = sums[:-1] / total
        centered = x - mean.view(shape)
        var = all_reduce(centered.square().sum(dims), "sum", group.WORLD) / total
        y = centered * torch.rsqrt(var + self.epsilon).view(shape)
        if self.weight is not None:
            y = y * self.weight.view(shape)
        if self.bias is not None:
            y = y + self.bias.view(shape)
        with torch.no_grad():
            self._update_moving(mean, var, 1.0)
        return y

    def _update_moving(self, batch_mean, unbiased_var, biased):
        """Keras's update with the biased batch variance (``unbiased_var * biased``). The
        operands need no gradient, so autograd records nothing."""
        rest = 1.0 - self.momentum
        self.running_mean.mul_(self.momentum).add_(batch_mean, alpha=rest)
        self.running_var.mul_(self.momentum).add_(unbiased_var, alpha=rest * biased)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "momentum": self.momentum,
                "epsilon": self.epsilon, "center": self.center, "scale": self.scale,
                **self._serialized("beta_initializer", "gamma_initializer",
                                   "moving_mean_initializer", "moving_variance_initializer",
                                   "beta_regularizer", "gamma_regularizer", "beta_constraint",
                                   "gamma_constraint")}


def _batch_norm(x, weight, bias, running_mean, running_var, training, momentum, epsilon):
    """``F.batch_norm`` without its Python checks (the layer makes its own: a batch of one
    value per channel never reaches it), which cost as much as a small layer's kernel."""
    return torch.batch_norm(x, weight, bias, running_mean, running_var, training, momentum,
                            epsilon, torch.backends.cudnn.enabled)


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
    (gamma) and ``bias`` (beta) have the shape of those axes.

    ``rms_scaling=True`` is Keras's deprecated variant (it warns, as Keras does): ``x /
    sqrt(var + epsilon) * gamma``, without subtracting the mean and without beta.
    """

    def __init__(self, axis=-1, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones", beta_regularizer=None,
                 gamma_regularizer=None, beta_constraint=None, gamma_constraint=None, *,
                 rms_scaling=False, input_shape=None, name=None, trainable=True):
        super().__init__(input_shape=input_shape, name=name, trainable=trainable)
        self.axis = _axes("axis", axis)
        self._affine(epsilon, center, scale, beta_initializer=beta_initializer,
                     gamma_initializer=gamma_initializer, beta_regularizer=beta_regularizer,
                     gamma_regularizer=gamma_regularizer, beta_constraint=beta_constraint,
                     gamma_constraint=gamma_constraint)
        self.rms_scaling = check_bool("rms_scaling", rms_scaling)
        if self.rms_scaling:
            warnings.warn("LayerNormalization(rms_scaling=True) is deprecated in Keras: it "
                          "scales the input by its variance, not its root mean square "
                          "(kconv computes it as Keras does)", UserWarning, stacklevel=2)
        self._dims = None

    def build(self, input_shape):
        rank = len(input_shape)
        if any(not -rank <= a < rank for a in self.axis):
            raise self._error(f"axis {self.axis} is out of range for an input of shape "
                              f"{tuple(input_shape)}")
        self._dims = tuple(sorted(a % rank for a in self.axis))
        shape = tuple(self._known_size(input_shape, a) for a in self._dims)
        if self.rms_scaling:  # Keras: gamma always, beta never
            self.add_weight("weight", shape, self.gamma_initializer,
                            regularizer=self.gamma_regularizer, constraint=self.gamma_constraint)
        else:
            self._add_gamma_beta(shape)
        self._pin_input_axes({a: input_shape[a] for a in self._dims})

    def call(self, x):
        dtype = x.dtype
        x = as_float32(x)
        if self.rms_scaling:
            var = torch.var(x, dim=self._dims, keepdim=True, correction=0)
            shape = [x.shape[a] if a in self._dims else 1 for a in range(x.ndim)]
            return (x * torch.rsqrt(var + self.epsilon) * self.weight.reshape(shape)).to(dtype)
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
        return {**super().get_config(), "axis": axis, "rms_scaling": self.rms_scaling}


class UnitNormalization(Layer):
    """Scales each sample to unit L2 norm over ``axis`` (an int or a list), with Keras's
    epsilon 1e-12 (:func:`l2_normalize`)."""

    def __init__(self, axis=-1, *, input_shape=None, name=None, trainable=True):
        super().__init__(input_shape=input_shape, name=name, trainable=trainable)
        self._axes = _axes("axis", axis)
        self.axis = list(self._axes) if isinstance(axis, (list, tuple)) else self._axes[0]

    def compute_output_shape(self, input_shape):
        _check_axes(self, self._axes, input_shape)
        return tuple(input_shape)

    def call(self, x):
        return l2_normalize(x, self._axes, 1e-12)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


class RMSNormalization(Layer):
    """Root-mean-square normalization (Zhang and Sennrich, 2019), Keras's layer: ``x *
    rsqrt(mean(x**2 over axis) + epsilon) * scale``, with a learned ``scale`` (initially
    ones) of the shape of those axes."""

    def __init__(self, axis=-1, epsilon=1e-6, *, input_shape=None, name=None,
                 trainable=True):
        super().__init__(input_shape=input_shape, name=name, trainable=trainable)
        self._axes = _axes("axis", axis)
        self.axis = list(self._axes) if isinstance(axis, (list, tuple)) else self._axes[0]
        self.epsilon = check_float("epsilon", epsilon, minimum=0.0)
        self._dims = None

    def build(self, input_shape):
        _check_axes(self, self._axes, input_shape)
        self._dims = tuple(sorted(a % len(input_shape) for a in self._axes))
        self.add_weight("weight", tuple(self._known_size(input_shape, a) for a in self._dims),
                        "ones")
        self._pin_input_axes({a: input_shape[a] for a in self._dims})

    def compute_output_shape(self, input_shape):
        _check_axes(self, self._axes, input_shape)
        return tuple(input_shape)

    def call(self, x):
        dtype = x.dtype
        x = as_float32(x)
        if self._dims == tuple(range(x.ndim - len(self._dims), x.ndim)):
            y = F.rms_norm(x, x.shape[x.ndim - len(self._dims):], self.weight, self.epsilon)
        else:
            shape = [x.shape[a] if a in self._dims else 1 for a in range(x.ndim)]
            y = x * torch.rsqrt(x.square().mean(dim=self._dims, keepdim=True) + self.epsilon) \
                * self.weight.reshape(shape)
        return y.to(dtype)

    def get_config(self):
        # Keras writes the axes as a sorted list once built.
        axis = sorted(self._axes) if self.built or isinstance(self.axis, list) else self.axis
        return {**super().get_config(), "axis": axis, "epsilon": self.epsilon}


def l2_normalize(x, axis, epsilon):
    """Keras's ``normalize``, ``x * min(rsqrt(sum(x²)), 1 / epsilon)``, computed as
    TensorFlow's ``l2_normalize`` (``x * rsqrt(max(sum(x²), epsilon²))``): the same values,
    and a zero vector has a finite gradient (Keras's form differentiates rsqrt at 0: NaN)."""
    square_sum = torch.sum(x.square(), dim=axis, keepdim=True)
    return x * torch.rsqrt(torch.clamp(square_sum, min=epsilon ** 2))


def _check_axes(layer, axes, input_shape):
    rank = len(input_shape)
    if any(not -rank <= a < rank for a in axes):
        raise layer._error(f"axis {list(axes) if len(axes) > 1 else axes[0]} is out of "
                           f"range for an input of shape {tuple(input_shape)}")


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
        x = as_float32(x)
        x = x.movedim(self._channel_dim, 1)
        # Two passes, as TensorFlow's moments: F.group_norm's CPU kernel (and Keras's torch
        # backend) take E[x²] - E[x]², which cancels when the mean dwarfs the spread.
        groups = x.reshape(x.shape[0], self.groups, -1)
        var, mean = torch.var_mean(groups, dim=-1, keepdim=True, correction=0)
        y = ((groups - mean) * torch.rsqrt(var + self.epsilon)).reshape(x.shape)
        shape = (1, -1) + (1,) * (x.ndim - 2)
        if self.weight is not None:
            y = y * self.weight.reshape(shape)
        if self.bias is not None:
            y = y + self.bias.reshape(shape)
        return y.movedim(1, self._channel_dim).to(dtype)

    def get_config(self):
        return {**super().get_config(), "groups": self.groups, "axis": self.axis}


class Normalization(Layer):
    """Keras's feature-wise standardization: ``(x - mean) / max(sqrt(variance), epsilon)``
    per position of ``axis`` (the kept axes; default the last), from a given ``mean`` and
    ``variance`` or from statistics learned by :meth:`adapt` (stored as Keras's non-trainable
    ``mean``, ``variance`` and ``count`` weights). ``invert=True`` undoes it."""

    def __init__(self, axis=-1, mean=None, variance=None, invert=False, *, input_shape=None,
                 name=None, trainable=True):
        super().__init__(input_shape=input_shape, name=name, trainable=trainable)
        self.axis = () if axis is None else _axes("axis", axis)
        if (mean is None) != (variance is None):
            raise invalid_value("variance" if variance is None else "mean",
                                "both mean and variance, or neither", None)
        self.input_mean, self.input_variance = mean, variance
        self.invert = check_bool("invert", invert)
        self._keep = self._broadcast = None

    def build(self, input_shape):
        rank = len(input_shape)
        if any(not -rank <= a < rank for a in self.axis):
            raise self._error(f"All `axis` values must be in the range [-ndim, ndim). "
                              f"Received inputs with ndim={rank}, while axis={self.axis}")
        self._keep = tuple(sorted(a % rank for a in self.axis))
        for a in self._keep:
            self._known_size(input_shape, a)
        self._broadcast = [input_shape[a] if a in self._keep else 1 for a in range(rank)]
        stats = tuple(input_shape[a] for a in self._keep)
        if self.input_mean is None:
            self.add_weight("mean", stats, "zeros", trainable=False)
            self.add_weight("variance", stats, "ones", trainable=False)
            self.add_weight("count", (), "zeros", trainable=False)
            return
        for key, value in (("mean", self.input_mean), ("variance", self.input_variance)):
            tensor = torch.as_tensor(value, dtype=torch.float32)
            if tensor.ndim:  # aligned to the kept axes from the right, as Keras
                shape = [1] * rank
                for i in range(1, tensor.ndim + 1):
                    shape[self._keep[-i]] = tensor.shape[-i]
                tensor = tensor.reshape(shape)
            self.register_buffer(f"_{key}", tensor.expand(self._broadcast).clone(),
                                 persistent=False)

    def _statistics(self):
        if self.input_mean is not None:
            return self._mean, self._variance
        return self.mean.reshape(self._broadcast), self.variance.reshape(self._broadcast)

    def adapt(self, data, batch_size=None, steps=None):
        """Learn the mean and (biased) variance over every axis but the kept ones from
        ``data``: an array or tensor, or an iterable of batches."""
        if self.input_mean is not None:
            raise self._error("adapt() needs a layer created without mean and variance")
        batches = [data] if isinstance(data, (torch.Tensor,)) or hasattr(data, "__array__") \
            else data
        total = total_sq = count = None
        samples = 0
        for i, batch in enumerate(batches):
            if steps is not None and i >= steps:
                break
            x = torch.as_tensor(batch[0] if isinstance(batch, (tuple, list)) else batch)
            x = x.to(torch.float64)
            if not self.built:
                self.build_for((None,) + tuple(x.shape[1:]))
            reduce = tuple(a for a in range(x.ndim) if a not in self._keep)
            s, sq, n = x.sum(reduce), x.square().sum(reduce), x.numel() // max(
                math.prod(x.shape[a] for a in self._keep), 1)
            total = s if total is None else total + s
            total_sq = sq if total_sq is None else total_sq + sq
            count = n if count is None else count + n
            samples += x.shape[0]
        if total is None:
            raise invalid_value("data", "at least one batch", data)
        mean = total / count
        with torch.no_grad():
            self.mean.copy_(mean.reshape(self.mean.shape))
            self.variance.copy_((total_sq / count - mean.square()).reshape(
                self.variance.shape))
            self.count.fill_(float(samples))

    def call(self, x):
        if not x.is_floating_point():
            x = x.float()
        mean, variance = self._statistics()
        scale = torch.clamp(variance.sqrt(), min=config.epsilon())
        return mean + x * scale if self.invert else (x - mean) / scale

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        def plain(value):
            return value.tolist() if hasattr(value, "tolist") else value
        return {**super().get_config(), "axis": self.axis, "invert": self.invert,
                "mean": plain(self.input_mean), "variance": plain(self.input_variance)}
