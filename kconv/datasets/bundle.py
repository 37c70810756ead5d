"""A training run's dataset by name: MNIST, CIFAR-10, synthetic data or a folder of class
folders, loaded once as uint8 (N, H, W, C) tensors, with class selection, resizing and a
stratified split for folders."""

import os
from dataclasses import dataclass

import numpy as np
import torch

from kconv.datasets import cifar10, fake, mnist
from kconv.datasets.image_folder import load_image_folder, resize
from kconv.datasets.split import stratified_split
from kconv.validation import check_optional_function

BUILTIN = ("mnist", "cifar10", "fake")
TUTORIAL_CLASSES = ("Faces", "Leopards", "Motorbikes", "airplanes")  # StridedNet's CALTECH-101


@dataclass
class DataBundle:
    """uint8 NHWC images with int64 labels and a train/test split of them.

    ``images`` may be memory-mapped (a cached image folder): the splits are index tensors
    into it, so nothing is copied; ``x_train`` and the like gather a split (a copy).
    """

    images: torch.Tensor
    labels: torch.Tensor
    train: torch.Tensor  # int64 indices into images/labels
    test: torch.Tensor
    class_names: list
    description: str

    @classmethod
    def from_splits(cls, x_train, y_train, x_test, y_test, class_names, description):
        """A bundle of two separate splits (joined into one tensor)."""
        n = len(y_train)
        return cls(torch.cat([x_train, x_test]), torch.cat([y_train, y_test]),
                   torch.arange(n), torch.arange(n, n + len(y_test)), class_names,
                   description)

    @property
    def image_shape(self):
        return tuple(self.images.shape[1:])

    @property
    def nbytes(self):
        return self.images.nbytes + self.labels.nbytes

    x_train = property(lambda self: self.images[self.train])
    y_train = property(lambda self: self.labels[self.train])
    x_test = property(lambda self: self.images[self.test])
    y_test = property(lambda self: self.labels[self.test])


def cifar10_root():
    """Where CIFAR-10 is looked for: ``$KCONV_CIFAR10``, else ``data/cifar10``."""
    return os.environ.get("KCONV_CIFAR10", os.path.join("data", "cifar10"))


def select_classes(x, y, names, classes):
    """Keep only ``classes`` (names), relabelled 0..k-1 in the order given."""
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


def _check_classes(names, dataset):
    """A classifier needs at least two classes to tell apart."""
    if len(names) < 2:
        found = f"only {names[0]!r}" if names else "none"
        raise ValueError(f"a classifier needs at least two classes; {dataset} has {found}")


def _load_folder(root, image_size, classes, test_size, seed, cache, cache_dir, meanwhile):
    if image_size is None:
        raise ValueError(f"an image size is needed to load the folder {root}")
    if classes is None and all(os.path.isdir(os.path.join(root, c)) for c in TUTORIAL_CLASSES):
        classes = list(TUTORIAL_CLASSES)  # the tutorial's CALTECH-101 subset
    folder = load_image_folder(root, image_size, classes, cache=cache, cache_dir=cache_dir,
                               meanwhile=meanwhile)
    _check_classes(folder.class_names, root)
    train, test = stratified_split(folder.labels, test_size, seed)
    if len(test) == 0 or len(train) == 0:
        raise ValueError(f"--test-size {test_size} leaves an empty split of "
                         f"{len(folder.labels)} images")
    return DataBundle(folder.images, folder.labels, train, test, folder.class_names,
                      f"{root}: {folder.describe()}")


def load_dataset(dataset, *, image_size=None, classes=None, test_size=0.25, seed=42,
                 download=False, cache=True, cache_dir=None, meanwhile=None):
    """Load ``dataset`` ('mnist', 'cifar10', 'fake', or a folder of class folders).

    Args:
        image_size: (H, W) to resize to, or None for the dataset's own size (folders need
            one).
        classes: optional list of class names to keep.
        test_size, seed: the stratified split of a folder dataset (and the seed of 'fake').
        download: fetch CIFAR-10 when its files are missing (needs network access).
        cache, cache_dir: whether a folder's decoded images are cached on disk, and where
            (see :func:`~kconv.datasets.image_folder.load_image_folder`).
        meanwhile: optional function of no arguments run once before the call returns; for
            a folder, in a thread while it is decoded (see
            :func:`~kconv.datasets.image_folder.load_image_folder`).

    Raises:
        ValueError, FileNotFoundError: the data cannot be found or read; the message says
            why.
        TypeError: ``meanwhile`` is not callable.
    """
    check_optional_function("meanwhile", meanwhile, "a function of no arguments or None")
    if dataset not in BUILTIN:
        return _load_folder(dataset, image_size, classes, test_size, seed, cache, cache_dir,
                            meanwhile)
    if dataset == "mnist":
        (x, y), (xt, yt) = mnist.load_data()
        x, xt = x[..., None], xt[..., None]  # (N, 28, 28, 1)
        names, source = [str(i) for i in range(10)], "MNIST (embedded copy)"
    elif dataset == "cifar10":
        root = cifar10_root()
        (x, y), (xt, yt) = cifar10.load_data(root, download_if_missing=download)
        names, source = cifar10.class_names(root), f"CIFAR-10 from {root}"
    else:
        (x, y), (xt, yt) = fake.load_data(image_size=image_size or (32, 32), seed=seed)
        names, source = fake.class_names(), "synthetic data"
    # Keras-style NumPy arrays in, tensors out: images uint8 (N, H, W, C), labels int64 (N,).
    x, xt = torch.from_numpy(x), torch.from_numpy(xt)
    y, yt = (torch.from_numpy(labels.reshape(-1).astype(np.int64)) for labels in (y, yt))
    x, y, kept = select_classes(x, y, names, classes)
    _check_classes(kept, dataset)
    xt, yt, _ = select_classes(xt, yt, names, classes)
    if image_size is not None:
        x, xt = resize(x, image_size), resize(xt, image_size)
    if meanwhile is not None:
        meanwhile()
    return DataBundle.from_splits(x, y, xt, yt, kept, f"{source}: {len(y)} training and "
                                                      f"{len(yt)} test images in "
                                                      f"{len(kept)} classes")
