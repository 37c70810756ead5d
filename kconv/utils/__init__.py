"""Keras's ``keras.utils`` (``to_categorical``, ``set_random_seed``, ``plot_model``),
kconv's atomic file writes and the allocator policy train.py sets."""

from kconv.utils.file_utils import (atomic_path, atomic_write_bytes, atomic_write_json,
                                    atomic_write_text)
from kconv.utils.memory_utils import retain_freed_memory
from kconv.utils.model_visualization import plot_model
from kconv.utils.numerical_utils import to_categorical
from kconv.utils.rng_utils import set_random_seed

__all__ = ["to_categorical", "set_random_seed", "plot_model", "atomic_path",
           "atomic_write_bytes", "atomic_write_json", "atomic_write_text", "retain_freed_memory"]
