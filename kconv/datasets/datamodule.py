"""The LightningDataModule of a training run: one dataset loaded once, batched by tensor
indexing, shuffled per epoch with a seed, sharded across DDP processes, and kept on the
GPU when it fits."""

import lightning as L
import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from kconv.datasets import cifar10
from kconv.datasets.bundle import cifar10_root, load_dataset
from kconv.validation import check_int


class TensorBatches(Dataset):
    """(images, labels) fetched a whole batch at a time by tensor indexing; with ``index``,
    only those rows (a split of a shared, possibly memory-mapped, tensor), in that order."""

    def __init__(self, images, labels, index=None):
        self.images, self.labels, self.index = images, labels, index

    def __len__(self):
        return len(self.labels) if self.index is None else len(self.index)

    def __getitem__(self, i):
        i = i if self.index is None else self.index[i]
        return self.images[i], self.labels[i]

    def __getitems__(self, indices):
        index = torch.as_tensor(indices, device=self.labels.device)
        if self.index is not None:
            index = self.index[index]
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


def make_loader(images, labels, batch_size, *, shuffle, seed=0, device=None, num_replicas=1,
                rank=0, index=None):
    """A DataLoader over tensors (of the rows ``index`` only, when given), moved once to
    ``device`` when given. Only the batches' rows of ``images`` are read, so a
    memory-mapped dataset streams from disk and each DDP process reads its own shard.

    Shuffling draws a permutation from ``seed + epoch`` (Lightning calls ``set_epoch``), so a
    resumed run sees the same batches as an uninterrupted one, and each of ``num_replicas``
    DDP processes takes its own shard (``rank``) of that permutation.
    """
    if device is not None:
        images, labels = images.to(device), labels.to(device)
        index = None if index is None else index.to(device)
    dataset = TensorBatches(images, labels, index)
    sampler = DistributedSampler(dataset, num_replicas=num_replicas, rank=rank, shuffle=True,
                                 seed=seed) if shuffle else None
    # Its own generator: creating an iterator must not draw from the global RNG, which
    # drives dropout and augmentation.
    return DataLoader(dataset, batch_size=batch_size, sampler=sampler,
                      collate_fn=_whole_batch, num_workers=0,
                      generator=torch.Generator().manual_seed(seed))


class ImageDataModule(L.LightningDataModule):
    """A dataset of uint8 (N, H, W, C) images and int64 labels for Lightning.

    The data is loaded once (:meth:`load`, also called by ``setup``) and kept for every
    ``fit``/``test`` of this module, so the variants of an ablation share one decoded copy.
    Training batches are shuffled with ``seed + epoch`` and sharded across DDP processes;
    validation and test batches come in order (Lightning shards them under DDP). On a GPU
    with room the whole dataset lives there, so no batch is copied from the host.

    Args:
        dataset: 'mnist', 'cifar10', 'fake', or a folder of class folders.
        image_size: (H, W) to resize to; None keeps the dataset's size (folders need one).
        classes: optional list of class names to keep.
        test_size: the test share of a folder dataset (stratified).
        seed: seed of the split, of synthetic data and of the shuffling.
        download: fetch CIFAR-10 when its files are missing (needs network access).
        cache: keep a folder's decoded images in a memory-mapped cache on disk, which later
            runs and every DDP process open without decoding (or decode into memory).
        cache_dir: where (default :func:`~kconv.datasets.cache.default_cache_dir`).
        batch_size: training batch size.
        eval_batch_size: validation/test batch size (default ``max(batch_size, 256)``).

    Example:
        >>> data = ImageDataModule("mnist", batch_size=64)
        >>> data.load().image_shape
        (28, 28, 1)
        >>> lightning.Trainer(max_epochs=5).fit(system, datamodule=data)
    """

    def __init__(self, dataset="mnist", *, image_size=None, classes=None, test_size=0.25,
                 seed=42, download=False, cache=True, cache_dir=None, batch_size=32,
                 eval_batch_size=None):
        super().__init__()
        self.dataset = dataset
        self.image_size = None if image_size is None else tuple(image_size)
        self.classes = None if classes is None else list(classes)
        self.test_size = test_size
        self.seed = seed
        self.download = download
        self.cache, self.cache_dir = cache, cache_dir
        self.batch_size = check_int("batch_size", batch_size)
        self.eval_batch_size = check_int("eval_batch_size", eval_batch_size) \
            if eval_batch_size is not None else max(self.batch_size, 256)
        self.bundle = None
        # (device or None for host memory, (images, labels, {"train"/"test": index}) there)
        self._splits = None

    @classmethod
    def from_bundle(cls, bundle, *, seed=42, batch_size=32, eval_batch_size=None):
        """A data module serving an already loaded
        :class:`~kconv.datasets.bundle.DataBundle`."""
        module = cls(bundle.description, seed=seed, batch_size=batch_size,
                     eval_batch_size=eval_batch_size)
        module.bundle = bundle
        return module

    def prepare_data(self):
        """Fetch missing files (CIFAR-10 with ``download=True``), once per node."""
        if self.dataset == "cifar10" and self.download:
            cifar10.locate(cifar10_root(), download_if_missing=True)

    def load(self):
        """The :class:`~kconv.datasets.bundle.DataBundle`, loaded at the first call."""
        if self.bundle is None:
            self.bundle = load_dataset(self.dataset, image_size=self.image_size,
                                       classes=self.classes, test_size=self.test_size,
                                       seed=self.seed, download=self.download,
                                       cache=self.cache, cache_dir=self.cache_dir)
        return self.bundle

    def setup(self, stage=None):
        self.load()
        root = self.trainer.strategy.root_device if self.trainer is not None else "cpu"
        if self._splits is not None and self._splits[0] == torch.device(root):
            return  # already on this GPU (its free memory now counts the data itself)
        device = resident_device(root, self.bundle.nbytes)
        if self._splits is None or self._splits[0] != device:
            move = (lambda t: t) if device is None else (lambda t: t.to(device))
            bundle = self.bundle
            self._splits = (device, (move(bundle.images), move(bundle.labels),
                                     {"train": move(bundle.train), "test": move(bundle.test)}))

    def _loader(self, split, batch_size, **kwargs):
        images, labels, index = self._splits[1]
        return make_loader(images, labels, batch_size, index=index[split], **kwargs)

    def train_dataloader(self):
        trainer = self.trainer
        replicas, rank = (1, 0) if trainer is None else (trainer.world_size, trainer.global_rank)
        return self._loader("train", self.batch_size, shuffle=True, seed=self.seed,
                            num_replicas=replicas, rank=rank)

    def val_dataloader(self):
        return self._loader("test", self.eval_batch_size, shuffle=False)

    test_dataloader = predict_dataloader = val_dataloader
