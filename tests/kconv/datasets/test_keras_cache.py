"""The keras.datasets loaders image code uses (fashion_mnist, cifar10, cifar100, mnist) on
Keras's cache layouts ($KERAS_HOME/datasets, Keras 3's and Keras 2's), with Keras's shapes,
dtypes and load_data() signatures; offline, a missing file is one line saying where it goes.
The files are small ones written in Keras's on-disk formats: nothing downloads."""

import gzip
import io
import os
import pickle
import subprocess
import sys
import tarfile

import numpy as np
import pytest

from kconv.datasets import cifar10, cifar100, fashion_mnist, keras_cache, mnist


@pytest.fixture
def keras_home(tmp_path, monkeypatch):
    """An empty $KERAS_HOME, and no network: a download attempt fails as offline does."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))

    def offline(origin, target):
        raise OSError(f"offline (tried {origin})")
    monkeypatch.setattr(keras_cache, "_download", offline)
    return tmp_path / "keras_home" / "datasets"


def idx(array):
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(
        int(d).to_bytes(4, "big") for d in array.shape)
    return gzip.compress(header + array.astype(np.uint8).tobytes())


def write_fashion(root, n_train=7, n_test=3):
    rng = np.random.default_rng(0)
    folder = root / "fashion-mnist"
    folder.mkdir(parents=True)
    arrays = {"train-images-idx3-ubyte.gz": rng.integers(0, 256, (n_train, 28, 28)),
              "train-labels-idx1-ubyte.gz": rng.integers(0, 10, n_train),
              "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (n_test, 28, 28)),
              "t10k-labels-idx1-ubyte.gz": rng.integers(0, 10, n_test)}
    for name, array in arrays.items():
        (folder / name).write_bytes(idx(array))
    return arrays


def test_fashion_mnist_equals_keras_on_the_same_cache(keras_home, tmp_path):
    arrays = write_fashion(keras_home)
    (x, y), (xt, yt) = fashion_mnist.load_data()
    assert x.shape == (7, 28, 28) and y.shape == (7,) and xt.shape == (3, 28, 28)
    assert x.dtype == y.dtype == np.uint8
    np.testing.assert_array_equal(y, arrays["train-labels-idx1-ubyte.gz"])
    script = ("import numpy as np, keras; (x, y), (xt, yt) = "
              "keras.datasets.fashion_mnist.load_data(); "
              f"np.savez({str(tmp_path / 'k.npz')!r}, x=x, y=y, xt=xt, yt=yt)")
    env = {**os.environ, "KERAS_BACKEND": "torch"}
    subprocess.run([sys.executable, "-c", script], check=True, env=env, capture_output=True)
    with np.load(tmp_path / "k.npz") as theirs:
        for ours, key in ((x, "x"), (y, "y"), (xt, "xt"), (yt, "yt")):
            np.testing.assert_array_equal(ours, theirs[key])
            assert ours.dtype == theirs[key].dtype


def cifar100_archive(n=5):
    rng = np.random.default_rng(1)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, count in (("train", n), ("test", 2)):
            batch = {b"data": rng.integers(0, 256, (count, 3072), dtype=np.uint8),
                     b"fine_labels": [int(v) for v in rng.integers(0, 100, count)],
                     b"coarse_labels": [int(v) for v in rng.integers(0, 20, count)],
                     b"filenames": [b"x.png"] * count}
            data = pickle.dumps(batch, protocol=4)
            info = tarfile.TarInfo(f"cifar-100-python/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@pytest.mark.parametrize("archive_name", ["cifar-100-python-target_archive",
                                          "cifar-100-python.tar.gz"])
def test_cifar100_unpacks_keras_archives_and_reads_as_keras(keras_home, archive_name):
    from keras.src.datasets.cifar import load_batch

    keras_home.mkdir(parents=True)
    (keras_home / archive_name).write_bytes(cifar100_archive())
    (x, y), (xt, yt) = cifar100.load_data()
    folder = keras_home / "cifar-100-python-target" / "cifar-100-python"
    assert folder.is_dir() and not list(keras_home.glob("*partial*"))
    assert x.shape == (5, 32, 32, 3) and y.shape == (5, 1) and xt.shape == (2, 32, 32, 3)
    assert x.dtype == np.uint8
    for mode, (ours_x, ours_y) in (("fine", (x, y)), ("coarse", cifar100.load_data("coarse")[0])):
        data, labels = load_batch(str(folder / "train"), label_key=f"{mode}_labels")
        np.testing.assert_array_equal(ours_x, data.transpose(0, 2, 3, 1))
        np.testing.assert_array_equal(ours_y, np.reshape(labels, (-1, 1)))
        assert ours_y.dtype == np.reshape(labels, (-1, 1)).dtype
    with pytest.raises(ValueError, match="label_mode.*'fine', 'coarse'.*medium"):
        cifar100.load_data("medium")


def test_cifar10_reads_keras_3_and_keras_2_cache_layouts(keras_home, write_cifar):
    write_cifar(keras_home / "cifar-10-batches-py")  # Keras 2's layout
    (x, y), _ = cifar10.load_data()
    assert x.shape == (20, 32, 32, 3) and y.shape == (20, 1) and y.dtype == np.uint8
    os.rename(keras_home / "cifar-10-batches-py", keras_home / "moved")
    write_cifar(keras_home / "cifar-10-batches-py-target" / "cifar-10-batches-py")
    np.testing.assert_array_equal(cifar10.load_data()[0][0], x)


@pytest.mark.parametrize("loader, missing", [
    (fashion_mnist.load_data, "fashion-mnist/train-labels-idx1-ubyte.gz"),
    (cifar10.load_data, "cifar-10-batches-py"), (cifar100.load_data, "cifar-100-python")])
def test_offline_and_missing_is_one_line_saying_where(keras_home, loader, missing):
    with pytest.raises(FileNotFoundError) as error:
        loader()
    message = str(error.value)
    assert "\n" not in message and missing in message and "download" in message
    assert str(keras_home) in message and "https://" in message
    assert not [p for p in keras_home.rglob("*") if p.is_file()]  # nothing half-written


def test_mnist_keras_npz_in_the_cache_or_the_embedded_copy(keras_home):
    embedded = mnist.load_data()
    (x, y), _ = mnist.load_data(path="mnist.npz")  # not cached: the same images, embedded
    np.testing.assert_array_equal(x, embedded[0][0])
    keras_home.mkdir(parents=True)
    np.savez(keras_home / "mnist.npz", x_train=x[:5], y_train=y[:5], x_test=x[5:7],
             y_test=y[5:7])
    (x5, y5), (xt, _) = mnist.load_data("mnist.npz")
    assert x5.shape == (5, 28, 28) and xt.shape == (2, 28, 28) and y5.dtype == np.uint8
    with pytest.raises(FileNotFoundError, match="other.npz"):
        mnist.load_data("other.npz")
