"""Test set-up: Keras 3 runs on its torch backend as the numerical oracle, with its config
folder in a temporary place so neither Keras nor kconv reads the user's keras.json; the image
cache in a temporary place too (tests never write into the user's cache); shared fixtures
that write small datasets to disk."""

import os
import pickle
import tempfile

os.environ["KERAS_BACKEND"] = "torch"
os.environ["KERAS_HOME"] = tempfile.mkdtemp(prefix="kconv-keras-home-")
os.environ["KCONV_CACHE_DIR"] = tempfile.mkdtemp(prefix="kconv-image-cache-")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import kconv  # noqa: E402

CIFAR_NAMES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
               "truck")


@pytest.fixture(autouse=True)
def _fresh_state():
    """Each test starts with default settings, fresh layer names and a fixed seed."""
    kconv.config.set_image_data_format(None)
    kconv.config.set_epsilon(None)
    kconv.clear_session()
    kconv.distribution.set_distribution(None)
    kconv.distribution._STATE["nodes"] = None
    kconv.mixed_precision.set_global_policy(None)
    torch.manual_seed(0)
    yield
    kconv.mixed_precision.set_global_policy(None)
    kconv.config.set_image_data_format(None)
    kconv.config.set_epsilon(None)


def _write_folder(root, counts=None, size=(10, 14)):
    from PIL import Image

    counts = counts or {"cats": 3, "dogs": 2}
    gen = torch.Generator().manual_seed(0)
    for name, n in counts.items():
        (root / name).mkdir(parents=True)
        for i in range(n):
            pixels = torch.randint(0, 256, size + (3,), generator=gen, dtype=torch.uint8)
            suffix = "png" if i % 2 == 0 else "jpg"
            Image.fromarray(pixels.numpy()).save(root / name / f"{i}.{suffix}")
    first = next(iter(counts))
    (root / first / "broken.jpg").write_bytes(b"\xff\xd8\xff not really a jpeg")
    (root / first / "notes.txt").write_text("not an image")
    return root


def _write_cifar(folder, per_batch=4):
    from kconv.datasets import cifar10

    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name in cifar10.TRAIN_FILES + (cifar10.TEST_FILE,):
        batch = {b"batch_label": name.encode(), b"labels": list(range(per_batch)),
                 b"data": rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8),
                 b"filenames": [f"img{i}.png".encode() for i in range(per_batch)]}
        (folder / name).write_bytes(pickle.dumps(batch, protocol=4))
    meta = {b"label_names": [n.encode() for n in CIFAR_NAMES], b"num_vis": 3072}
    (folder / cifar10.META_FILE).write_bytes(pickle.dumps(meta, protocol=2))
    return folder


@pytest.fixture
def write_folder():
    """``write_folder(root, counts={"cats": 3, "dogs": 2}, size=(10, 14))``: class folders
    of PNG and JPEG images plus one corrupt image and one text file in the first class."""
    return _write_folder


@pytest.fixture
def write_cifar():
    """``write_cifar(folder, per_batch=4)``: a tiny CIFAR-10 python-batches folder with the
    real names and pickle layout (labels 0..per_batch-1 in every batch)."""
    return _write_cifar


@pytest.fixture(scope="session")
def mnist_slice():
    """3,000 training and 1,000 test images of the real MNIST, (N, 28, 28, 1) uint8."""
    from torch.utils.data import TensorDataset
    from kconv.datasets import mnist

    (x, y), (xt, yt) = mnist.load_data()
    train = TensorDataset(torch.from_numpy(x[:3000, ..., None]), torch.from_numpy(y[:3000]).long())
    test = TensorDataset(torch.from_numpy(xt[:1000, ..., None]), torch.from_numpy(yt[:1000]).long())
    return train, test
