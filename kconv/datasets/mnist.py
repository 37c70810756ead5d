"""MNIST from the standard idx files (plain or ``.gz``); a copy ships inside kconv."""

import gzip
import os

import numpy as np

DEFAULT_DIR = os.path.join(os.path.dirname(__file__), "data", "mnist")
FILES = {"x_train": "train-images-idx3-ubyte", "y_train": "train-labels-idx1-ubyte",
         "x_test": "t10k-images-idx3-ubyte", "y_test": "t10k-labels-idx1-ubyte"}


def load_idx(path):
    """Read one idx file of unsigned bytes (``.gz`` or not) as a uint8 NumPy array.

    Raises:
        ValueError: for a file that is not idx unsigned-byte data or is truncated.
    """
    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError) as e:
        raise ValueError(f"Cannot read idx file {path}: {e}") from None
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise ValueError(f"Not an idx file of unsigned bytes: {path}")
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"Truncated idx file {path}: header needs {header} bytes")
    shape = tuple(int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    expected = header + int(np.prod(shape))
    if len(data) != expected:
        raise ValueError(f"Truncated idx file {path}: expected {expected} bytes for shape "
                         f"{shape}, found {len(data)}")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape).copy()


def _find(folder, stem):
    for name in (stem, stem + ".gz"):
        path = os.path.join(folder, name)
        if os.path.isfile(path):
            return path
    raise FileNotFoundError(f"MNIST file {stem}[.gz] not found in {folder}; expected the four "
                            f"files {', '.join(FILES.values())} (plain or .gz)")


def load_data(path=None):
    """``(x_train, y_train), (x_test, y_test)`` as Keras returns them: uint8 NumPy arrays,
    images (N, 28, 28) and labels (N,).

    Args:
        path: None, the copy shipped with kconv; a folder with the four idx files; or, as
            Keras's ``load_data(path="mnist.npz")``, an ``.npz`` file name in Keras's cache
            (or a path to one). Keras's own "mnist.npz" holds the same images as the copy,
            which serves when it is not in the cache.
    """
    if path is not None and os.fspath(path).endswith(".npz"):
        return _load_npz(os.fspath(path))
    folder = DEFAULT_DIR if path is None else os.fspath(path)
    arrays = {key: load_idx(_find(folder, stem)) for key, stem in FILES.items()}
    for split in ("train", "test"):
        if len(arrays[f"x_{split}"]) != len(arrays[f"y_{split}"]):
            raise ValueError(f"MNIST {split} images and labels differ in count in {folder}")
    return (arrays["x_train"], arrays["y_train"]), (arrays["x_test"], arrays["y_test"])


def _load_npz(path):
    from kconv.datasets import keras_cache
    full = path if os.path.dirname(path) else os.path.join(keras_cache.datasets_dir(), path)
    if not os.path.isfile(full):
        if path == "mnist.npz":
            return load_data()
        raise FileNotFoundError(f"MNIST: no such file {full}")
    try:
        with np.load(full, allow_pickle=False) as f:
            return (f["x_train"], f["y_train"]), (f["x_test"], f["y_test"])
    except (OSError, KeyError, ValueError) as error:
        raise ValueError(f"Cannot read MNIST {full}: {error}") from None
