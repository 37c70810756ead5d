"""TensorFlow 2.1-2.3's ``tf.keras.mixed_precision.experimental``: ``Policy``,
``set_policy``, ``global_policy`` and ``LossScaleOptimizer(optimizer, loss_scale)``, each
Keras 3's with a Keras 2 warning."""

from kconv import legacy
from kconv import optimizers as optimizers_lib
from kconv.mixed_precision import policy as policies


def Policy(name, loss_scale="auto"):  # noqa: N802 - Keras 2's class name
    """Keras 2's ``Policy(name, loss_scale)``: a :class:`~kconv.mixed_precision.DTypePolicy`
    (loss scaling comes with ``compile`` under 'mixed_float16', as in Keras 3)."""
    legacy.keras2("mixed_precision.experimental.Policy(...)", "mixed_precision.Policy(...)",
                  "" if loss_scale == "auto" else "; loss_scale is ignored (compile adds "
                  "dynamic loss scaling under mixed_float16)")
    return policies.DTypePolicy(name)


def set_policy(policy):
    """Keras 2's ``set_policy``: :func:`~kconv.mixed_precision.set_global_policy`."""
    legacy.keras2("mixed_precision.experimental.set_policy(...)",
                  "mixed_precision.set_global_policy(...)")
    policies.set_global_policy(policy)


def global_policy():
    """Keras 2's ``global_policy``."""
    return policies.global_policy()


def LossScaleOptimizer(optimizer, loss_scale="dynamic"):  # noqa: N802 - Keras 2's class
    """Keras 2's ``LossScaleOptimizer(optimizer, loss_scale='dynamic')``: Keras 3's dynamic
    one. A fixed ``loss_scale`` (a number) is refused: Keras 3 dropped it."""
    if loss_scale != "dynamic":
        raise ValueError(f"LossScaleOptimizer(loss_scale={loss_scale!r}): a fixed loss scale "
                         f"is not supported (Keras 3 dropped it); use loss_scale='dynamic'")
    legacy.keras2("mixed_precision.experimental.LossScaleOptimizer(opt, 'dynamic')",
                  "mixed_precision.LossScaleOptimizer(opt)")
    return optimizers_lib.LossScaleOptimizer(optimizer)
