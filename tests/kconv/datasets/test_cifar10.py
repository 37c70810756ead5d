import os
import pickle
import tarfile

import numpy as np
import pytest

from kconv.datasets import cifar10


def test_cifar10_python_batches(tmp_path, write_cifar):
    folder = write_cifar(tmp_path / "cifar-10-batches-py")
    for path in (folder, tmp_path):  # the folder itself or its parent
        (x, y), (xt, yt) = cifar10.load_data(path)
        assert x.shape == (20, 32, 32, 3) and xt.shape == (4, 32, 32, 3)
        assert y.shape == (20, 1) and yt.shape == (4, 1)  # Keras's label column
        assert x.dtype == y.dtype == np.uint8 and y[:4, 0].tolist() == [0, 1, 2, 3]
        assert cifar10.class_names(path)[:2] == ["airplane", "automobile"]
    raw = pickle.loads((folder / "data_batch_1").read_bytes())[b"data"][0]
    assert x[0, 0, 1, 0] == raw[1] and x[0, 0, 0, 2] == raw[2048]  # R then B plane


def test_cifar10_equals_keras_reading_the_same_batches(tmp_path, write_cifar):
    from keras.src.datasets.cifar import load_batch

    folder = write_cifar(tmp_path / "cifar-10-batches-py")
    (x, y), (xt, yt) = cifar10.load_data(folder)
    batches = [load_batch(str(folder / name)) for name in cifar10.TRAIN_FILES]
    expected_x = np.concatenate([data for data, _ in batches]).transpose(0, 2, 3, 1)
    expected_y = np.concatenate([labels for _, labels in batches]).reshape(-1, 1)
    np.testing.assert_array_equal(x, expected_x)
    np.testing.assert_array_equal(y, expected_y)
    test_x, test_y = load_batch(str(folder / cifar10.TEST_FILE))
    np.testing.assert_array_equal(xt, test_x.transpose(0, 2, 3, 1))
    np.testing.assert_array_equal(yt[:, 0], test_y)


def test_cifar10_missing_files_say_where_to_put_them(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        cifar10.load_data(tmp_path)
    assert "missing: data_batch_1, data_batch_2" in str(info.value)
    assert f"so that {tmp_path / 'cifar-10-batches-py'} holds" in str(info.value)


def test_class_names_without_meta_are_cifar10s(tmp_path, write_cifar):
    folder = write_cifar(tmp_path / "cifar-10-batches-py")
    (folder / cifar10.META_FILE).unlink()
    assert cifar10.class_names(folder) == list(cifar10.CLASS_NAMES)
    (folder / cifar10.META_FILE).write_bytes(b"garbage")
    with pytest.raises(ValueError, match="Cannot read CIFAR-10 label names"):
        cifar10.class_names(folder)


def test_cifar10_refuses_code_in_pickles(tmp_path, write_cifar):
    folder = write_cifar(tmp_path / "cifar-10-batches-py")

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo hacked",))

    (folder / "data_batch_3").write_bytes(pickle.dumps({b"data": Evil()}))
    with pytest.raises(ValueError, match="refusing to load posix.system"):
        cifar10.load_data(folder)


def test_cifar10_download_from_an_archive(tmp_path, write_cifar):
    write_cifar(tmp_path / "src" / "cifar-10-batches-py")
    archive = tmp_path / "cifar.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(tmp_path / "src" / "cifar-10-batches-py", arcname="cifar-10-batches-py")
    folder = cifar10.download(str(tmp_path / "dest"), url=archive.as_uri())
    (x, _), _ = cifar10.load_data(folder)
    assert not [p for p in (tmp_path / "dest").iterdir() if p.name.startswith(".tmp-")]
    assert x.shape == (20, 32, 32, 3)
