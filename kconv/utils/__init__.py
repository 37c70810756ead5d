"""Keras's ``keras.utils`` (``to_categorical``, ``set_random_seed``, ``plot_model``,
``image_dataset_from_directory``, ``load_img``, ``img_to_array``, ``array_to_img``,
``save_img``), kconv's atomic file writes and the allocator policy train.py sets."""

from kconv.preprocessing.image import array_to_img, img_to_array, load_img, save_img
from kconv.utils.file_utils import (atomic_path, atomic_write_bytes, atomic_write_json,
                                    atomic_write_text)
from kconv.utils.memory_utils import retain_freed_memory
from kconv.utils.model_visualization import plot_model
from kconv.utils.numerical_utils import to_categorical
from kconv.utils.image_dataset_utils import image_dataset_from_directory
from kconv.utils.rng_utils import set_random_seed

__all__ = ["to_categorical", "set_random_seed", "plot_model", "image_dataset_from_directory",
           "load_img", "img_to_array", "array_to_img", "save_img", "atomic_path",
           "atomic_write_bytes", "atomic_write_json", "atomic_write_text", "retain_freed_memory"]
