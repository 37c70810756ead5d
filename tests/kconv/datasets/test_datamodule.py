from types import SimpleNamespace

import pytest
import torch

from kconv.datasets import ImageDataModule
from kconv.datasets.datamodule import make_loader, resident_device


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


def test_ddp_processes_each_take_their_own_shard():
    x, y = torch.zeros(10, 1, 1, 1), torch.arange(10)
    whole = [i for b in make_loader(x, y, 4, shuffle=True, seed=3) for i in b[1].tolist()]
    shards = [[i for b in make_loader(x, y, 4, shuffle=True, seed=3, num_replicas=2, rank=r)
               for i in b[1].tolist()] for r in (0, 1)]
    assert [len(s) for s in shards] == [5, 5]
    assert sorted(shards[0] + shards[1]) == list(range(10))
    assert shards[0] == whole[0::2] and shards[1] == whole[1::2]  # one permutation, split


def test_data_module_loads_once_and_serves_its_splits():
    data = ImageDataModule("fake", image_size=(8, 8), batch_size=16, seed=1)
    bundle = data.load()
    assert data.load() is bundle and bundle.image_shape == (8, 8, 3)
    data.setup("fit")
    train, val = data.train_dataloader(), data.val_dataloader()
    assert [len(b[1]) for b in train] == [16] * 16
    assert len(next(iter(val))[1]) == 64  # eval batches: max(batch_size, 256), 64 images
    assert data.test_dataloader().dataset.images is val.dataset.images


def test_data_module_shards_under_a_distributed_trainer():
    data = ImageDataModule("fake", image_size=(8, 8), batch_size=8)
    data.trainer = SimpleNamespace(world_size=2, global_rank=1,
                                   strategy=SimpleNamespace(root_device=torch.device("cpu")))
    data.setup("fit")
    sampler = data.train_dataloader().sampler
    assert (sampler.num_replicas, sampler.rank, sampler.seed) == (2, 1, 42)
    assert len(list(sampler)) == 128


def test_bad_batch_sizes_are_refused():
    with pytest.raises(ValueError, match="Invalid value for argument `batch_size`"):
        ImageDataModule("fake", batch_size=0)


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


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_data_module_keeps_the_data_on_the_trainers_gpu_once():
    data = ImageDataModule("fake", image_size=(8, 8), batch_size=8)
    data.trainer = SimpleNamespace(world_size=1, global_rank=0,
                                   strategy=SimpleNamespace(root_device=torch.device("cuda", 0)))
    data.setup("fit")
    images = data.train_dataloader().dataset.images
    assert images.is_cuda and next(iter(data.val_dataloader()))[0].is_cuda
    data.setup("test")
    assert data.train_dataloader().dataset.images is images
