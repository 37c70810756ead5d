"""Keras's ``to_categorical``."""

import numpy as np
import torch

from kconv.validation import check_int


def to_categorical(x, num_classes=None):
    """Class indices as one-hot rows, the class axis last (Keras's ``to_categorical``).

    A trailing axis of size 1 is dropped first, so (N, 1) labels give (N, num_classes).
    NumPy arrays and lists give a float64 NumPy array, as in Keras; a torch tensor gives a
    float32 tensor on its device.

    Args:
        x: integer class values from 0 to ``num_classes - 1``.
        num_classes: the number of classes; None infers ``max(x) + 1``.

    Example:
        >>> to_categorical([0, 2], num_classes=3)
        array([[1., 0., 0.],
               [0., 0., 1.]])
    """
    if num_classes is not None:
        num_classes = check_int("num_classes", num_classes)
    if isinstance(x, torch.Tensor):
        if x.ndim > 1 and x.shape[-1] == 1:
            x = x.squeeze(-1)
        return torch.nn.functional.one_hot(x.long(), num_classes or -1).float()
    x = np.array(x, dtype="int64")
    shape = x.shape[:-1] if x.ndim > 1 and x.shape[-1] == 1 else x.shape
    x = x.reshape(-1)
    num_classes = num_classes or int(np.max(x)) + 1
    categorical = np.zeros((x.shape[0], num_classes))
    categorical[np.arange(x.shape[0]), x] = 1
    return categorical.reshape(shape + (num_classes,))
