"""Keras's ``keras.backend`` settings: the image data format, the fuzz factor and the
session's automatic names."""

from kconv.config import epsilon, image_data_format, set_epsilon, set_image_data_format
from kconv.naming import clear_session

__all__ = ["image_data_format", "set_image_data_format", "epsilon", "set_epsilon",
           "clear_session"]
