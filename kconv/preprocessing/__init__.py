"""Keras's ``keras.preprocessing``: ``image`` (``ImageDataGenerator``, ``load_img``,
``img_to_array``...)."""

from kconv.preprocessing import image

__all__ = ["image"]
