"""Utilities: atomic file writes."""

from kconv.utils.file_utils import (atomic_path, atomic_write_bytes, atomic_write_json,
                                    atomic_write_text)

__all__ = ["atomic_path", "atomic_write_bytes", "atomic_write_json", "atomic_write_text"]
