import gzip
import hashlib

import numpy as np
import pytest

from kconv.datasets import mnist

MD5 = {"x_train": "6bbc9ace898e44ae57da46a324031adb", "y_train": "a25bea736e30d166cdddb491f175f624",
       "x_test": "2646ac647ad5339dbf082846283269ea", "y_test": "27ae3e4e09519cfbb04c329615203637"}


def test_embedded_mnist_is_the_real_data():
    for key, stem in mnist.FILES.items():
        with gzip.open(f"{mnist.DEFAULT_DIR}/{stem}.gz", "rb") as f:
            assert hashlib.md5(f.read()).hexdigest() == MD5[key]
    (x, y), (xt, yt) = mnist.load_data()
    # Keras's shapes and dtypes: uint8 NumPy arrays, labels a flat vector.
    assert x.shape == (60000, 28, 28) and xt.shape == (10000, 28, 28)
    assert y.shape == (60000,) and yt.shape == (10000,)
    assert isinstance(x, np.ndarray) and x.dtype == y.dtype == np.uint8
    assert y.max() == 9 and np.bincount(yt).min() > 800


def _write_idx(path, array, compress=False):
    header = bytes([0, 0, 8, array.ndim]) + b"".join(d.to_bytes(4, "big") for d in array.shape)
    data = header + array.astype(np.uint8).tobytes()
    (gzip.open if compress else open)(path, "wb").write(data)


def test_plain_and_gz_files_from_a_folder(tmp_path):
    images = np.arange(3 * 28 * 28).reshape(3, 28, 28) % 256
    for split, n in (("train", 3), ("t10k", 3)):
        _write_idx(tmp_path / f"{split}-images-idx3-ubyte", images[:n])
        _write_idx(tmp_path / f"{split}-labels-idx1-ubyte.gz", np.array([1, 2, 3]), compress=True)
    (x, y), _ = mnist.load_data(tmp_path)
    assert np.array_equal(x, images.astype(np.uint8)) and y.tolist() == [1, 2, 3]


def test_bad_files_give_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="MNIST file train-images-idx3-ubyte"):
        mnist.load_data(tmp_path)
    (tmp_path / "junk").write_bytes(b"\x00\x00\x09\x01")
    with pytest.raises(ValueError, match="Not an idx file of unsigned bytes"):
        mnist.load_idx(str(tmp_path / "junk"))
    _write_idx(tmp_path / "short", np.zeros((4, 2)))
    (tmp_path / "short").write_bytes((tmp_path / "short").read_bytes()[:-1])
    with pytest.raises(ValueError, match=r"Truncated idx file .*short: expected 20 bytes"):
        mnist.load_idx(str(tmp_path / "short"))
