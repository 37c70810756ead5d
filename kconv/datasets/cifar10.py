"""CIFAR-10 from the standard python-batches folder (``cifar-10-batches-py``), given or in
Keras's cache; the batch reader serves CIFAR-100 too.

The batches are Python pickles; they are read with an unpickler that only rebuilds plain
containers and NumPy arrays, so a tampered file cannot run code.
"""

import io
import os
import pickle
import tarfile
import urllib.request

import numpy as np

from kconv.datasets import keras_cache
from kconv.utils.file_utils import atomic_path

URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
FOLDER = "cifar-10-batches-py"
TRAIN_FILES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_FILE = "test_batch"
META_FILE = "batches.meta"
_ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
            ("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "scalar"),
            ("numpy._core.multiarray", "scalar"), ("_codecs", "encode"),
            ("builtins", "bytearray")}


class _SafeUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) in _ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a CIFAR batch")


def load_batch(path, label_key=b"labels", dataset="CIFAR-10"):
    """``(images, labels)`` of one CIFAR batch file: uint8 (N, 32, 32, 3), int64 (N,)."""
    try:
        with open(path, "rb") as f:
            batch = _SafeUnpickler(io.BytesIO(f.read()), encoding="bytes").load()
        data = np.asarray(batch[b"data"], dtype=np.uint8)
        labels = np.asarray(batch[label_key], dtype=np.int64)
    except (OSError, EOFError, pickle.UnpicklingError, KeyError, TypeError, ValueError) as e:
        raise ValueError(f"Cannot read {dataset} batch {path}: {e!r}") from None
    if data.ndim != 2 or data.shape[1] != 3072 or len(labels) != len(data):
        raise ValueError(f"Cannot read {dataset} batch {path}: expected (N, 3072) data and N "
                         f"labels, found {data.shape} and {labels.shape}")
    # Rows are channel-planar (R, G, B planes of 32x32): to (N, 32, 32, 3).
    return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), labels


def _resolve(path):
    path = os.fspath(path)
    return path if os.path.basename(os.path.normpath(path)) == FOLDER or not os.path.isdir(
        os.path.join(path, FOLDER)) else os.path.join(path, FOLDER)


def download(root, url=None):
    """Fetch and unpack the official archive (or ``url``) into ``root`` (needs network
    access)."""
    url = url or URL
    os.makedirs(root, exist_ok=True)
    archive = os.path.join(root, "cifar-10-python.tar.gz")
    with atomic_path(archive) as tmp:
        urllib.request.urlretrieve(url, tmp)
    with tarfile.open(archive, "r:gz") as tar:
        tar.extractall(root, filter="data")  # rejects members outside root
    return os.path.join(root, FOLDER)


CLASS_NAMES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
               "truck")


def locate(path, download_if_missing=False):
    """The folder holding the CIFAR-10 batches under ``path``, fetched first when missing
    and ``download_if_missing`` (needs network access).

    Raises:
        FileNotFoundError: the files are missing; the message says where to put them.
    """
    folder = _resolve(path)
    missing = [name for name in TRAIN_FILES + (TEST_FILE,)
               if not os.path.isfile(os.path.join(folder, name))]
    if missing and download_if_missing:
        return download(os.fspath(path))
    if missing:
        raise FileNotFoundError(
            f"CIFAR-10 files not found in {folder} (missing: {', '.join(missing)}). Download "
            f"{URL} and unpack it so that {os.path.join(os.fspath(path), FOLDER)} holds "
            f"data_batch_1..5, test_batch and batches.meta.")
    return folder


def load_data(path=None, download_if_missing=False):
    """``(x_train, y_train), (x_test, y_test)``, as Keras returns them: uint8 NumPy arrays,
    images (N, 32, 32, 3) and labels (N, 1).

    Args:
        path: the ``cifar-10-batches-py`` folder, or a folder containing it; None (Keras's
            ``load_data()``) reads Keras's cache (:mod:`kconv.datasets.keras_cache`),
            downloading from Keras's source when the files are not there.
        download_if_missing: with ``path``, fetch the official archive into it when the
            files are not there (needs network access).

    Raises:
        FileNotFoundError: the files are missing; the message says where to put them.
    """
    if path is None:
        folder = keras_cache.extracted(
            ("cifar-10-batches-py-target/cifar-10-batches-py", FOLDER),
            ("cifar-10-batches-py-target_archive", "cifar-10-batches-py.tar.gz"), URL,
            "CIFAR-10")
    else:
        folder = locate(path, download_if_missing)
    train = [load_batch(os.path.join(folder, name)) for name in TRAIN_FILES]
    x_test, y_test = load_batch(os.path.join(folder, TEST_FILE))
    x_train = np.concatenate([x for x, _ in train])
    y_train = np.concatenate([y for _, y in train])
    # Keras's shapes and dtypes: labels are a uint8 column.
    return ((x_train, y_train.astype(np.uint8).reshape(-1, 1)),
            (x_test, y_test.astype(np.uint8).reshape(-1, 1)))


def class_names(path):
    """The label names of the folder's ``batches.meta`` (:data:`CLASS_NAMES` without it)."""
    meta = os.path.join(_resolve(path), META_FILE)
    if not os.path.isfile(meta):
        return list(CLASS_NAMES)
    try:
        with open(meta, "rb") as f:
            raw = _SafeUnpickler(f, encoding="bytes").load()
        return [n.decode() if isinstance(n, bytes) else str(n) for n in raw[b"label_names"]]
    except (OSError, EOFError, pickle.UnpicklingError, KeyError, TypeError) as e:
        raise ValueError(f"Cannot read CIFAR-10 label names {meta}: {e}") from None
