import torch

import pytest

from models.data import load_dataset, make_loader, resident_device
from tests.kconv.test_datasets import write_folder


def test_caltech_folder_defaults_to_the_tutorial_classes(tmp_path):
    counts = {"Faces": 4, "Leopards": 4, "Motorbikes": 4, "airplanes": 4, "BACKGROUND_Google": 4}
    root = write_folder(tmp_path / "101_ObjectCategories", counts=counts)
    bundle = load_dataset(str(root), image_size=(16, 16), test_size=0.25, seed=1)
    assert bundle.class_names == ["Faces", "Leopards", "Motorbikes", "airplanes"]
    assert len(bundle.y_test) == 4 and torch.bincount(bundle.y_test).tolist() == [1, 1, 1, 1]
    everything = load_dataset(str(root), image_size=(16, 16),
                              classes=["BACKGROUND_Google", "Faces"])
    assert everything.class_names == ["BACKGROUND_Google", "Faces"]


def test_builtin_class_selection_and_resize():
    bundle = load_dataset("mnist", classes=["3", "7"], image_size=(14, 14))
    assert bundle.class_names == ["3", "7"] and set(bundle.y_train.tolist()) == {0, 1}
    assert bundle.x_train.shape[1:] == (14, 14, 1) and len(bundle.y_test) == 1010 + 1028
    assert "MNIST (embedded copy)" in bundle.description


def test_loader_batches_by_indexing_and_reshuffles_per_epoch():
    x = torch.arange(10).view(10, 1, 1, 1).to(torch.uint8)
    loader = make_loader(x, torch.arange(10), 4, shuffle=True, seed=0)
    first = [b[1].tolist() for b in loader]
    assert [len(b) for b in first] == [4, 4, 2] and sorted(sum(first, [])) == list(range(10))
    assert all(torch.equal(b[0].flatten().long(), b[1]) for b in loader)
    loader.sampler.set_epoch(1)
    assert [b[1].tolist() for b in loader] != first
    loader.sampler.set_epoch(0)
    assert [b[1].tolist() for b in loader] == first


def test_data_stays_in_host_memory_unless_a_gpu_has_room():
    assert resident_device("cpu", 1) is None
    assert resident_device(torch.device("cpu"), 0) is None


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_gpu_resident_loader_cuts_batches_on_the_gpu():
    device = resident_device("cuda:0", 1000)
    assert device == torch.device("cuda", 0)
    assert resident_device("cuda", 10 ** 15) is None  # more than the GPU has
    x = torch.arange(10).view(10, 1, 1, 1).to(torch.uint8)
    loader = make_loader(x, torch.arange(10), 4, shuffle=True, seed=0, device=device)
    host = make_loader(x, torch.arange(10), 4, shuffle=True, seed=0)
    for (xb, yb), (hx, hy) in zip(loader, host):
        assert xb.is_cuda and yb.is_cuda
        assert torch.equal(yb.cpu(), hy) and torch.equal(xb.cpu(), hx)


def test_folders_need_an_image_size(tmp_path):
    root = write_folder(tmp_path / "images")
    with pytest.raises(ValueError, match="an image size is needed to load the folder"):
        load_dataset(str(root))
