"""Datasets for training: uint8 (N, H, W, C) tensors decoded once, batched by indexing."""

import os
from dataclasses import dataclass

import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from kconv import datasets

BUILTIN = ("mnist", "cifar10", "fake")
TUTORIAL_CLASSES = ("Faces", "Leopards", "Motorbikes", "airplanes")


@dataclass
class DataBundle:
    """A train/test split of uint8 NHWC images with int64 labels."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    class_names: list
    description: str

    @property
    def image_shape(self):
        return tuple(self.x_train.shape[1:])


def _select(x, y, names, classes):
    if classes is None:
        return x, y, names
    unknown = [c for c in classes if c not in names]
    if unknown:
        raise ValueError(f"Unknown classes {unknown}; the dataset has: {', '.join(names)}")
    keep = [names.index(c) for c in classes]
    remap = torch.full((len(names),), -1, dtype=torch.int64)
    remap[keep] = torch.arange(len(keep))
    mask = remap[y] >= 0
    return x[mask], remap[y[mask]], list(classes)


def load_dataset(dataset, *, image_size=None, classes=None, test_size=0.25, seed=42,
                 download=False):
    """Load ``dataset`` ('mnist', 'cifar10', 'fake', or a folder of class folders).

    Args:
        image_size: (H, W) to resize to, or None for the dataset's own size (folders need
            one).
        classes: optional list of class names to keep.
        test_size, seed: the stratified split of a folder dataset.
        download: fetch CIFAR-10 when its files are missing (needs network access).
    """
    if dataset == "mnist":
        (x, y), (xt, yt) = datasets.mnist.load_data()
        x, xt, y, yt = x[..., None], xt[..., None], y.long(), yt.long()  # (N, 28, 28, 1)
        names, source = [str(i) for i in range(10)], "MNIST (embedded copy)"
    elif dataset == "cifar10":
        root = os.environ.get("KCONV_CIFAR10", os.path.join("data", "cifar10"))
        (x, y), (xt, yt), names = datasets.cifar10.load_data(root, download_if_missing=download)
        source = f"CIFAR-10 from {root}"
    elif dataset == "fake":
        (x, y), (xt, yt), names = datasets.fake.load_data(image_size=image_size or (32, 32),
                                                          seed=seed)
        source = "synthetic data"
    else:
        if image_size is None:
            raise ValueError(f"an image size is needed to load the folder {dataset}")
        if classes is None and all(os.path.isdir(os.path.join(dataset, c))
                                   for c in TUTORIAL_CLASSES):
            classes = list(TUTORIAL_CLASSES)  # the tutorial's CALTECH-101 subset
        folder = datasets.load_image_folder(dataset, image_size, classes)
        train, test = datasets.stratified_split(folder.labels, test_size, seed)
        if len(test) == 0 or len(train) == 0:
            raise ValueError(f"--test-size {test_size} leaves an empty split of "
                             f"{len(folder.labels)} images")
        return DataBundle(folder.images[train], folder.labels[train], folder.images[test],
                          folder.labels[test], folder.class_names,
                          f"{dataset}: {folder.describe()}")
    x, y, kept = _select(x, y, names, classes)
    xt, yt, _ = _select(xt, yt, names, classes)
    if image_size is not None:
        x, xt = datasets.resize(x, image_size), datasets.resize(xt, image_size)
    return DataBundle(x, y, xt, yt, kept, f"{source}: {len(y)} training and {len(yt)} test "
                                          f"images in {len(kept)} classes")


class TensorBatches(Dataset):
    """(images, labels) fetched a whole batch at a time by tensor indexing."""

    def __init__(self, images, labels):
        self.images, self.labels = images, labels

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, index):
        return self.images[index], self.labels[index]

    def __getitems__(self, indices):
        index = torch.as_tensor(indices, device=self.labels.device)
        return self.images[index], self.labels[index]


def resident_device(device, nbytes, share=0.25):
    """``device`` when it is a GPU with ``nbytes`` to spare (at most ``share`` of its free
    memory), so batches are cut where they are trained; otherwise None (stay in host
    memory)."""
    device = torch.device(device)
    if device.type != "cuda":
        return None
    free, _ = torch.cuda.mem_get_info(device)
    return device if nbytes <= share * free else None


def _whole_batch(batch):
    return batch


def make_loader(images, labels, batch_size, *, shuffle, seed=0, device=None):
    """A DataLoader over in-memory tensors, moved once to ``device`` when given. Shuffling
    uses an epoch-seeded sampler (``seed + epoch``), so a resumed run draws the same batches
    as an uninterrupted one; under DDP Lightning swaps in its distributed sampler."""
    if device is not None:
        images, labels = images.to(device), labels.to(device)
    dataset = TensorBatches(images, labels)
    sampler = DistributedSampler(dataset, num_replicas=1, rank=0, shuffle=True,
                                 seed=seed) if shuffle else None
    # Its own generator: creating an iterator must not draw from the global RNG, which
    # drives dropout and augmentation.
    return DataLoader(dataset, batch_size=batch_size, sampler=sampler,
                      collate_fn=_whole_batch, num_workers=0,
                      generator=torch.Generator().manual_seed(seed))
