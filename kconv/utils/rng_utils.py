"""Keras's ``set_random_seed``."""

import random

import numpy as np
import torch

from kconv.validation import invalid_type, is_int


def set_random_seed(seed):
    """Seed Python's, NumPy's and torch's random generators (Keras's
    ``set_random_seed`` on its torch backend).

    Raises:
        TypeError: ``seed`` is not an int.
    """
    if not is_int(seed):
        raise invalid_type("seed", "an int", seed)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
