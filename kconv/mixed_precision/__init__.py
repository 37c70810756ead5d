"""Keras's ``keras.mixed_precision``: dtype policies (float16 or bfloat16 compute through
``torch.autocast``, float32 variables) and the dynamic loss scaling of float16 training.

Example:
    >>> import kconv as keras
    >>> keras.mixed_precision.set_global_policy("mixed_float16")
    >>> model = ...  # layers made now compute in float16
    >>> model.compile("adam", "sparse_categorical_crossentropy")  # loss scaling added
"""

from kconv.mixed_precision import experimental
from kconv.mixed_precision.policy import (DTypePolicy, Policy, dtype_policy, get,
                                          global_policy, native_bfloat16, set_dtype_policy,
                                          set_global_policy, warn_if_slow)
from kconv.optimizers import LossScaleOptimizer

__all__ = ["experimental", "DTypePolicy", "Policy", "LossScaleOptimizer", "dtype_policy", "get",
           "global_policy", "native_bfloat16", "set_dtype_policy", "set_global_policy",
           "warn_if_slow"]
