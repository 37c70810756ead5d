"""Keras's ``keras.backend`` settings: the image data format, the fuzz factor and the
session's automatic names; and Keras 2's ``get_value``/``set_value`` of a learning rate."""

import numpy as np

from kconv.config import epsilon, image_data_format, set_epsilon, set_image_data_format
from kconv.naming import clear_session


def get_value(x):
    """Keras 2's ``K.get_value``: ``x`` (``optimizer.lr``, a tensor, a number) as NumPy."""
    if hasattr(x, "detach"):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def set_value(x, value):
    """Keras 2's ``K.set_value(model.optimizer.lr, value)``: sets what ``x`` refers to (an
    ``optimizer.lr``, or a tensor in place).

    Raises:
        TypeError: ``x`` is a plain number, which refers to nothing.
    """
    if hasattr(x, "assign"):
        x.assign(value)
    elif hasattr(x, "copy_"):
        import torch
        with torch.no_grad():
            x.copy_(torch.as_tensor(value, dtype=x.dtype))
    else:
        raise TypeError(f"set_value needs a variable such as model.optimizer.lr or a tensor; "
                        f"received {type(x).__name__} {x!r}")


__all__ = ["image_data_format", "set_image_data_format", "epsilon", "set_epsilon",
           "clear_session", "get_value", "set_value"]
