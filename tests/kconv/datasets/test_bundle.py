import threading

import pytest
import torch

from kconv.datasets import load_dataset, select_classes


def test_caltech_folder_defaults_to_the_tutorial_classes(tmp_path, write_folder):
    counts = {"Faces": 4, "Leopards": 4, "Motorbikes": 4, "airplanes": 4, "BACKGROUND_Google": 4}
    root = write_folder(tmp_path / "101_ObjectCategories", counts=counts)
    bundle = load_dataset(str(root), image_size=(16, 16), test_size=0.25, seed=1)
    assert bundle.class_names == ["Faces", "Leopards", "Motorbikes", "airplanes"]
    assert len(bundle.y_test) == 4 and torch.bincount(bundle.y_test).tolist() == [1, 1, 1, 1]
    assert bundle.image_shape == (16, 16, 3)
    assert bundle.nbytes == 16 * (16 * 16 * 3 + 8)
    everything = load_dataset(str(root), image_size=(16, 16),
                              classes=["BACKGROUND_Google", "Faces"])
    assert everything.class_names == ["BACKGROUND_Google", "Faces"]


def test_builtin_datasets_run_meanwhile_once_here():
    seen = []
    load_dataset("fake", image_size=(8, 8), meanwhile=lambda: seen.append(
        threading.current_thread() is threading.main_thread()))
    assert seen == [True]
    with pytest.raises(TypeError, match="argument `meanwhile`: expected a function"):
        load_dataset("fake", meanwhile=1)


def test_builtin_class_selection_and_resize():
    bundle = load_dataset("mnist", classes=["3", "7"], image_size=(14, 14))
    assert bundle.class_names == ["3", "7"] and set(bundle.y_train.tolist()) == {0, 1}
    assert bundle.x_train.shape[1:] == (14, 14, 1) and len(bundle.y_test) == 1010 + 1028
    assert "MNIST (embedded copy)" in bundle.description


def test_class_selection_relabels_in_the_given_order():
    x, y = torch.arange(6), torch.tensor([0, 1, 2, 0, 1, 2])
    kept_x, kept_y, names = select_classes(x, y, ["a", "b", "c"], ["c", "a"])
    assert kept_x.tolist() == [0, 2, 3, 5] and kept_y.tolist() == [1, 0, 1, 0]
    assert names == ["c", "a"]
    with pytest.raises(ValueError) as info:
        select_classes(x, y, ["a", "b", "c"], ["a", "z"])
    assert str(info.value) == "Unknown classes ['z']; the dataset has: a, b, c"


def test_cifar10_is_found_where_the_environment_says(tmp_path, write_cifar, monkeypatch):
    write_cifar(tmp_path / "cifar-10-batches-py")
    monkeypatch.setenv("KCONV_CIFAR10", str(tmp_path))
    bundle = load_dataset("cifar10", classes=["bird", "airplane"])
    assert bundle.class_names == ["bird", "airplane"] and len(bundle.y_train) == 10
    assert bundle.description == (f"CIFAR-10 from {tmp_path}: 10 training and 2 test images "
                                  "in 2 classes")


def test_folders_need_an_image_size(tmp_path, write_folder):
    root = write_folder(tmp_path / "images")
    with pytest.raises(ValueError, match="an image size is needed to load the folder"):
        load_dataset(str(root))
    with pytest.raises(ValueError, match="--test-size 0.0 leaves an empty split of 5 images"):
        load_dataset(str(root), image_size=(8, 8), test_size=0.0)
