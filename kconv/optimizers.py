"""Keras 3 optimizers as ``torch.optim.Optimizer``s: Keras defaults and update formulas.

- ``Adam``: Keras's epsilon-hat form, ``w -= lr * sqrt(1 - b2^t) / (1 - b1^t) * m /
  (sqrt(v) + eps)`` with ``eps = 1e-7``.
- ``RMSprop``: epsilon inside the square root, ``w -= lr * g / sqrt(v + eps)``; lr 1e-3,
  rho 0.9.
- ``SGD``: the learning rate lives inside the momentum buffer, ``m = mu * m - lr * g``.

Every optimizer also takes Keras 2's legacy ``decay`` (per-step inverse time decay,
``lr / (1 + decay * iterations)``, the first step undecayed) and Keras 3's decoupled
``weight_decay`` (``w -= w * weight_decay * lr`` before the update). The iteration count is
kept in each param group (``group["iterations"]``) so ``state_dict`` round-trips it; torch
learning-rate schedulers act on ``group["lr"]`` as usual.

Created with parameters they are ordinary torch optimizers. Created without (Keras's
spelling: ``Adam(learning_rate=1e-4)``, Keras 2's ``Adam(lr=1e-4)`` or ``SGD(0.01)``) they
wait for ``model.compile`` to :meth:`~KerasOptimizer.bind` them to the model's parameters.
``optimizer.learning_rate`` reads and sets every group's learning rate, as in Keras.

Example:
    >>> opt = kconv.optimizers.Adam(model.parameters(), learning_rate=1e-4, decay=1e-4 / 50)
"""

import inspect
import math

import torch

from kconv import legacy
from kconv.validation import check_choice, check_float, check_int, invalid_type

__all__ = ["Adam", "RMSprop", "SGD", "KerasOptimizer", "LossScaleOptimizer", "get", "names"]


class LearningRateValue(float):
    """An optimizer's learning rate as Keras 2's ``optimizer.lr`` variable: a float, and
    ``assign`` (what ``backend.set_value`` calls) sets the optimizer's."""

    def __new__(cls, optimizer):
        value = super().__new__(cls, optimizer.learning_rate)
        value.optimizer = optimizer
        return value

    def assign(self, value):
        self.optimizer.learning_rate = float(value)


class KerasOptimizer(torch.optim.Optimizer):
    """Shared step logic: collects parameters with gradients per group, applies legacy
    decay and weight decay, then calls ``_update`` with flat lists (vectorized with
    ``torch._foreach_*`` ops)."""

    _state_names = ()

    def __init__(self, params, learning_rate, decay, weight_decay, lr=None, **defaults):
        default_lr = inspect.signature(type(self).__init__).parameters["learning_rate"].default
        if isinstance(params, (int, float)) and not isinstance(params, bool):
            # Keras's first positional argument is the learning rate.
            if learning_rate != default_lr or lr is not None:
                raise TypeError(f"{type(self).__name__}: the first positional argument was "
                                f"taken as the learning rate ({params}); pass the other "
                                f"arguments by keyword")
            params, learning_rate = None, params
        name = type(self).__name__
        if lr is not None:  # Keras 2's name
            if learning_rate != default_lr:
                raise TypeError(f"{name}: give either `learning_rate` or Keras 2's `lr`, not "
                                f"both")
            legacy.keras2(f"{name}(lr={lr})", f"{name}(learning_rate={lr})")
            learning_rate = lr
        check_float("learning_rate", learning_rate, minimum=0.0)
        if check_float("decay", decay, minimum=0.0):
            legacy.keras2(f"{name}(decay={decay})", "a learning-rate schedule (Keras 3 removed "
                          "`decay`)", "; kconv keeps Keras 2's lr / (1 + decay * iterations)")
        if weight_decay is not None:
            check_float("weight_decay", weight_decay, minimum=0.0)
        self._defaults = dict(lr=float(learning_rate), decay=decay, weight_decay=weight_decay,
                              iterations=0, **defaults)
        if params is not None:
            self.bind(params)

    def bind(self, params):
        """Attach an optimizer created without parameters to ``params`` (what
        ``model.compile`` does); returns it.

        Raises:
            RuntimeError: it already has parameters.
        """
        if self.bound:
            raise RuntimeError(f"{type(self).__name__} is already bound to parameters; "
                               f"create a new optimizer for another model")
        super().__init__(params, dict(self._defaults))
        return self

    @property
    def bound(self):
        """Whether it has parameters (created with them, or :meth:`bind` called)."""
        return "param_groups" in self.__dict__

    @property
    def learning_rate(self):
        """The base learning rate (of the first group); setting it sets every group's."""
        return self.param_groups[0]["lr"] if self.bound else self._defaults["lr"]

    @learning_rate.setter
    def learning_rate(self, value):
        value = check_float("learning_rate", value, minimum=0.0)
        self._defaults["lr"] = value
        for group in self.param_groups if self.bound else ():
            group["lr"] = value

    @property
    def lr(self):
        """Keras 2's attribute (with a warning): the learning rate, as a float that
        ``kconv.backend.set_value(optimizer.lr, value)`` sets, as Keras 2's variable."""
        legacy.keras2("optimizer.lr", "optimizer.learning_rate")
        return LearningRateValue(self)

    @lr.setter
    def lr(self, value):
        legacy.keras2("optimizer.lr = ...", "optimizer.learning_rate = ...")
        self.learning_rate = value

    def __repr__(self):
        if self.bound:
            return super().__repr__()
        return f"{type(self).__name__}(unbound, learning_rate={self._defaults['lr']})"

    def current_lr(self, group):
        """The learning rate the next step uses (Keras evaluates decay before counting)."""
        return group["lr"] / (1.0 + group["decay"] * group["iterations"])

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if params:
                lr = self.current_lr(group)
                if group["weight_decay"]:
                    torch._foreach_mul_(params, 1.0 - lr * group["weight_decay"])
                grads = [p.grad for p in params]
                slots = [[self._slot(p, name) for p in params] for name in self._state_names]
                self._update(group, params, grads, lr, *slots)
            group["iterations"] += 1
        return loss

    def _slot(self, param, name):
        state = self.state[param]
        if name not in state:
            state[name] = torch.zeros_like(param, memory_format=torch.preserve_format)
        return state[name]

    def _update(self, group, params, grads, lr, *slots):
        raise NotImplementedError


class Adam(KerasOptimizer):
    """Keras's Adam.

    Args:
        params: parameters or param groups, as any torch optimizer.
        learning_rate: default 0.001.
        beta_1, beta_2: moment decay rates (0.9, 0.999).
        epsilon: 1e-7, added to ``sqrt(v)`` after Keras's bias correction of the step size.
        amsgrad: use the running maximum of ``v``.
        weight_decay: decoupled weight decay (Keras 3), or None.
        decay: Keras 2 legacy per-step inverse time decay of the learning rate.
        lr: Keras 2's name of ``learning_rate``.

    Example:
        >>> opt = Adam(model.parameters(), learning_rate=1e-4)
    """

    def __init__(self, params=None, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 amsgrad=False, weight_decay=None, decay=0.0, lr=None):
        for name, value in (("beta_1", beta_1), ("beta_2", beta_2)):
            check_float(name, value, minimum=0.0, maximum=1.0)
        check_float("epsilon", epsilon, minimum=0.0)
        self._state_names = ("m", "v", "v_hat") if amsgrad else ("m", "v")
        super().__init__(params, learning_rate, decay, weight_decay, lr=lr, beta_1=beta_1,
                         beta_2=beta_2, epsilon=epsilon, amsgrad=bool(amsgrad))

    def _update(self, group, params, grads, lr, ms, vs, v_hats=None):
        b1, b2, t = group["beta_1"], group["beta_2"], group["iterations"] + 1
        alpha = lr * math.sqrt(1 - b2 ** t) / (1 - b1 ** t)
        torch._foreach_lerp_(ms, grads, 1 - b1)  # m += (g - m) * (1 - b1)
        torch._foreach_lerp_(vs, torch._foreach_mul(grads, grads), 1 - b2)
        if v_hats is not None:
            torch._foreach_maximum_(v_hats, vs)
            vs = v_hats
        denom = torch._foreach_sqrt(vs)
        torch._foreach_add_(denom, group["epsilon"])
        torch._foreach_addcdiv_(params, torch._foreach_mul(ms, alpha), denom, value=-1.0)


class RMSprop(KerasOptimizer):
    """Keras's RMSprop: ``v = rho * v + (1 - rho) * g^2``; ``w -= lr * g / sqrt(v + eps)``.

    Args:
        params: parameters or param groups.
        learning_rate: default 0.001.
        rho: discount of the squared-gradient average (0.9).
        momentum: momentum on the increments (0.0); the buffer holds ``lr * g / ...``.
        epsilon: 1e-7, inside the square root.
        centered: divide by the estimated variance instead of the second moment.
        weight_decay, decay, lr: as in :class:`Adam`.
    """

    def __init__(self, params=None, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7,
                 centered=False, weight_decay=None, decay=0.0, lr=None):
        check_float("rho", rho, minimum=0.0, maximum=1.0)
        check_float("momentum", momentum, minimum=0.0, maximum=1.0)
        check_float("epsilon", epsilon, minimum=0.0)
        self._state_names = ("v",) + (("momentum",) if momentum > 0 else ()) + (
            ("average_grad",) if centered else ())
        super().__init__(params, learning_rate, decay, weight_decay, lr=lr, rho=rho,
                         momentum=momentum, epsilon=epsilon, centered=bool(centered))

    def _update(self, group, params, grads, lr, vs, *extra):
        rho, eps = group["rho"], group["epsilon"]
        moms = extra[0] if group["momentum"] > 0 else None
        averages = extra[-1] if group["centered"] else None
        torch._foreach_mul_(vs, rho)
        torch._foreach_addcmul_(vs, grads, grads, value=1 - rho)
        if averages is not None:
            torch._foreach_mul_(averages, rho)
            torch._foreach_add_(averages, grads, alpha=1 - rho)
            denom = torch._foreach_addcmul(vs, averages, averages, value=-1.0)
        else:
            denom = list(vs)
        denom = torch._foreach_add(denom, eps)
        torch._foreach_sqrt_(denom)
        if moms is None:  # w -= lr * (g / denom): one op, no temporary
            torch._foreach_addcdiv_(params, grads, denom, value=-lr)
            return
        increments = torch._foreach_div(torch._foreach_mul(grads, lr), denom)
        torch._foreach_mul_(moms, group["momentum"])
        torch._foreach_add_(moms, increments)
        torch._foreach_sub_(params, moms)


class SGD(KerasOptimizer):
    """Keras's SGD: ``m = momentum * m - lr * g``; ``w += m`` (Nesterov:
    ``w += momentum * m - lr * g``).

    Args:
        params: parameters or param groups.
        learning_rate: default 0.01.
        momentum: default 0.0.
        nesterov: Nesterov momentum.
        weight_decay, decay, lr: as in :class:`Adam`.
    """

    def __init__(self, params=None, learning_rate=0.01, momentum=0.0, nesterov=False,
                 weight_decay=None, decay=0.0, lr=None):
        check_float("momentum", momentum, minimum=0.0, maximum=1.0)
        self._state_names = ("m",) if momentum else ()
        super().__init__(params, learning_rate, decay, weight_decay, lr=lr, momentum=momentum,
                         nesterov=bool(nesterov))

    def _update(self, group, params, grads, lr, ms=None):
        mu = group["momentum"]
        if ms is None:
            torch._foreach_add_(params, grads, alpha=-lr)
            return
        torch._foreach_mul_(ms, mu)
        torch._foreach_add_(ms, grads, alpha=-lr)
        if group["nesterov"]:
            torch._foreach_add_(params, torch._foreach_mul(ms, mu))
            torch._foreach_add_(params, grads, alpha=-lr)
        else:
            torch._foreach_add_(params, ms)


_OPTIMIZERS = {"adam": Adam, "rmsprop": RMSprop, "sgd": SGD}


class LossScaleOptimizer:
    """Keras's dynamic loss scaling around an optimizer, for float16 training: the loss is
    multiplied by a scale before the backward pass and the gradients divided by it; a step
    with a non-finite gradient is skipped and halves the scale, and every
    ``dynamic_growth_steps`` finite steps in a row double it. It is torch's
    ``torch.amp.GradScaler`` (the same rule), which ``fit`` hands to Lightning.
    ``compile`` adds one when the model computes in float16 (``auto_scale_loss``).

    Args:
        inner_optimizer: the optimizer that applies the unscaled gradients (a name, a
            kconv or torch optimizer).
        initial_scale: the first scale (default 2**15, as Keras).
        dynamic_growth_steps: finite steps before the scale doubles (default 2000).
        name: Keras's optimizer name.

    Example:
        >>> model.compile(LossScaleOptimizer(kconv.optimizers.Adam()), "mse")
    """

    def __init__(self, inner_optimizer, initial_scale=2.0 ** 15, dynamic_growth_steps=2000,
                 name=None, **kwargs):
        if kwargs.pop("dynamic", True) is not True:
            raise ValueError("LossScaleOptimizer no longer supports `dynamic=False` (as in "
                             "Keras 3): scale the loss in the inner optimizer instead")
        if kwargs:
            raise TypeError(f"LossScaleOptimizer got unexpected argument(s) {sorted(kwargs)}")
        if isinstance(inner_optimizer, LossScaleOptimizer):
            raise invalid_type("inner_optimizer", "an optimizer that is not itself a "
                               "LossScaleOptimizer", inner_optimizer)
        self.inner_optimizer = get(inner_optimizer)
        # None: TensorFlow 2.4+'s spelling of the defaults
        self.initial_scale = check_float("initial_scale", 2.0 ** 15 if initial_scale is None
                                         else initial_scale, minimum=0.0, strict_minimum=True)
        self.dynamic_growth_steps = check_int("dynamic_growth_steps", 2000 if
                                              dynamic_growth_steps is None else
                                              dynamic_growth_steps)
        self.name = name or "loss_scale_optimizer"
        self._scaler = None

    def scaler(self, device_type):
        """The ``torch.amp.GradScaler`` for ``device_type`` ('cpu', 'cuda') that keeps the
        scale (made at the first use on that device type)."""
        if self._scaler is None or self._scaler._device != device_type:
            self._scaler = torch.amp.GradScaler(
                device_type, init_scale=self.initial_scale, growth_factor=2.0,
                backoff_factor=0.5, growth_interval=self.dynamic_growth_steps)
        return self._scaler

    @property
    def dynamic_scale(self):
        """The current loss scale."""
        return float(self._scaler.get_scale()) if self._scaler else self.initial_scale

    @property
    def loss_scale(self):
        """TensorFlow 2.4+'s name of :attr:`dynamic_scale` (with a warning)."""
        legacy.keras2("LossScaleOptimizer.loss_scale", "LossScaleOptimizer.dynamic_scale")
        return self.dynamic_scale

    @property
    def step_counter(self):
        """Finite steps since the scale last changed."""
        return int(self._scaler._get_growth_tracker()) if self._scaler else 0

    def scale_loss(self, loss):
        """``loss`` times the current scale."""
        return loss * self.dynamic_scale

    @property
    def learning_rate(self):
        return self.inner_optimizer.learning_rate

    @learning_rate.setter
    def learning_rate(self, value):
        self.inner_optimizer.learning_rate = value

    @property
    def bound(self):
        return getattr(self.inner_optimizer, "bound", True)

    @property
    def param_groups(self):
        return self.inner_optimizer.param_groups

    def get_config(self):
        return {"name": self.name, "initial_scale": self.initial_scale,
                "dynamic_growth_steps": self.dynamic_growth_steps}

    def __repr__(self):
        return f"LossScaleOptimizer({self.inner_optimizer!r}, scale={self.dynamic_scale})"


def get(identifier):
    """An optimizer: a new unbound one (Keras defaults) for a Keras name ('adam',
    'rmsprop', 'sgd'; any case), or ``identifier`` itself if it is an optimizer (or a
    :class:`LossScaleOptimizer`)."""
    if isinstance(identifier, (torch.optim.Optimizer, LossScaleOptimizer)):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, KerasOptimizer):
        return identifier()
    if not isinstance(identifier, str):
        raise invalid_type("optimizer", "an optimizer name or a torch optimizer", identifier)
    return _OPTIMIZERS[check_choice("optimizer", identifier, tuple(_OPTIMIZERS),
                                    lower=True)]()


def names():
    """The Keras names :func:`get` accepts, sorted."""
    return sorted(_OPTIMIZERS)
