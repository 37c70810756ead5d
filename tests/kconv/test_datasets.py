import gzip
import hashlib

import numpy as np
import pytest
import torch

from kconv.datasets import mnist

MD5 = {"x_train": "6bbc9ace898e44ae57da46a324031adb", "y_train": "a25bea736e30d166cdddb491f175f624",
       "x_test": "2646ac647ad5339dbf082846283269ea", "y_test": "27ae3e4e09519cfbb04c329615203637"}


def test_embedded_mnist_is_the_real_data():
    for key, stem in mnist.FILES.items():
        with gzip.open(f"{mnist.DEFAULT_DIR}/{stem}.gz", "rb") as f:
            assert hashlib.md5(f.read()).hexdigest() == MD5[key]
    (x, y), (xt, yt) = mnist.load_data()
    assert x.shape == (60000, 28, 28) and xt.shape == (10000, 28, 28)
    assert x.dtype == torch.uint8 and y.max() == 9 and torch.bincount(yt).min() > 800


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
    assert torch.equal(x, torch.from_numpy(images.astype(np.uint8))) and y.tolist() == [1, 2, 3]


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


# ----------------------------------------------------------------------------- CIFAR-10
import os  # noqa: E402
import pickle  # noqa: E402
import tarfile  # noqa: E402

from PIL import Image  # noqa: E402

from kconv.datasets import cifar10, fake, load_image_folder, stratified_split  # noqa: E402


def write_cifar(folder, per_batch=4):
    """A tiny CIFAR-10 python-batches folder with the real names and pickle layout."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name in cifar10.TRAIN_FILES + (cifar10.TEST_FILE,):
        batch = {b"batch_label": name.encode(), b"labels": list(range(per_batch)),
                 b"data": rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8),
                 b"filenames": [f"img{i}.png".encode() for i in range(per_batch)]}
        (folder / name).write_bytes(pickle.dumps(batch, protocol=2))
    meta = {b"label_names": [n.encode() for n in ("airplane", "automobile", "bird", "cat",
                                                  "deer", "dog", "frog", "horse", "ship",
                                                  "truck")], b"num_vis": 3072}
    (folder / cifar10.META_FILE).write_bytes(pickle.dumps(meta, protocol=2))
    return folder


def test_cifar10_python_batches(tmp_path):
    folder = write_cifar(tmp_path / "cifar-10-batches-py")
    for path in (folder, tmp_path):  # the folder itself or its parent
        (x, y), (xt, yt), names = cifar10.load_data(path)
        assert x.shape == (20, 32, 32, 3) and xt.shape == (4, 32, 32, 3)
        assert names[0] == "airplane" and y.tolist()[:4] == [0, 1, 2, 3]
    raw = pickle.loads((folder / "data_batch_1").read_bytes())[b"data"][0]
    assert x[0, 0, 1, 0] == raw[1] and x[0, 0, 0, 2] == raw[2048]  # R then B plane


def test_cifar10_missing_files_say_where_to_put_them(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        cifar10.load_data(tmp_path)
    assert "missing: data_batch_1, data_batch_2" in str(info.value)
    assert f"so that {tmp_path / 'cifar-10-batches-py'} holds" in str(info.value)


def test_cifar10_refuses_code_in_pickles(tmp_path):
    folder = write_cifar(tmp_path / "cifar-10-batches-py")

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo hacked",))

    (folder / "data_batch_3").write_bytes(pickle.dumps({b"data": Evil()}))
    with pytest.raises(ValueError, match="refusing to load posix.system"):
        cifar10.load_data(folder)


def test_cifar10_download_from_an_archive(tmp_path):
    write_cifar(tmp_path / "src" / "cifar-10-batches-py")
    archive = tmp_path / "cifar.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(tmp_path / "src" / "cifar-10-batches-py", arcname="cifar-10-batches-py")
    folder = cifar10.download(str(tmp_path / "dest"), url=archive.as_uri())
    (x, _), _, _ = cifar10.load_data(folder)
    assert x.shape == (20, 32, 32, 3)


# ----------------------------------------------------------------------------- folders
def write_folder(root, counts=None, size=(10, 14)):
    """Class folders with PNG and JPEG images, plus one corrupt image and one text file."""
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


def test_image_folder_decodes_resizes_and_reports(tmp_path):
    data = load_image_folder(str(write_folder(tmp_path / "data")), (8, 6))
    assert data.images.shape == (5, 8, 6, 3) and data.images.dtype == torch.uint8
    assert data.class_names == ["cats", "dogs"] and data.labels.tolist() == [0, 0, 0, 1, 1]
    assert data.counts == {"cats": 3, "dogs": 2}
    assert sorted(os.path.basename(p) for p, _ in data.skipped) == ["broken.jpg", "notes.txt"]
    assert "skipped 2 unreadable or non-image files" in data.describe()
    only = load_image_folder(str(tmp_path / "data"), (8, 6), classes=["dogs"])
    assert only.class_names == ["dogs"] and only.labels.tolist() == [0, 0]


def test_image_folder_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="Dataset folder not found"):
        load_image_folder(str(tmp_path / "nope"), (8, 8))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="No class sub-folders in"):
        load_image_folder(str(tmp_path / "empty"), (8, 8))
    root = write_folder(tmp_path / "data")
    with pytest.raises(ValueError) as info:
        load_image_folder(str(root), (8, 8), classes=["cats", "birds"])
    assert str(info.value) == f"Unknown classes ['birds'] in {root}; found: cats, dogs"
    (tmp_path / "bad" / "x").mkdir(parents=True)
    (tmp_path / "bad" / "x" / "a.png").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="No readable images"):
        load_image_folder(str(tmp_path / "bad"), (8, 8))


def test_stratified_split_matches_the_tutorial_sizes():
    labels = torch.cat([torch.full((n,), c) for c, n in enumerate((436, 201, 799, 801))])
    train, test = stratified_split(labels, 0.25, seed=42)
    assert len(test) == 559 and len(train) == 2237 - 559
    assert torch.bincount(labels[test]).tolist() == [109, 50, 200, 200]
    assert set(train.tolist()).isdisjoint(test.tolist())
    assert torch.equal(stratified_split(labels, 0.25, seed=42)[1], test)
    assert not torch.equal(stratified_split(labels, 0.25, seed=1)[1], test)


def test_fake_data_is_learnable_and_seeded():
    (x, y), (xt, yt), names = fake.load_data(n_train=64, classes=4, seed=3)
    assert x.shape == (64, 32, 32, 3) and names == ["class_0", "class_1", "class_2", "class_3"]
    band_means = torch.stack([x[:, 8 * c:8 * c + 8].float().mean(dim=(1, 2, 3))
                              for c in range(4)], 1)
    assert torch.equal(band_means.argmax(1), y)
    assert torch.equal(fake.load_data(n_train=64, classes=4, seed=3)[0][0], x)
