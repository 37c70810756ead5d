"""Keras's ``image_dataset_from_directory``: a folder of class folders as a
:class:`kconv.data.Dataset` of ``(images, labels)`` batches, decoded by worker processes
as they are needed, with Keras's file order, shuffling seed, split, label modes, colour
modes and resizing."""

import os

import numpy as np
import torch
from torch.utils.data import DataLoader
from torch.utils.data import Dataset as TorchDataset

from kconv import config
from kconv.data import Dataset
from kconv.layers.preprocessing.resizing import resize
from kconv.preprocessing.image import img_to_array, load_img, valid_files
from kconv.validation import check_bool, check_choice, check_int, invalid_value

ALLOWLIST_FORMATS = (".bmp", ".gif", ".jpeg", ".jpg", ".png")
INTERPOLATIONS = ("bilinear", "nearest", "bicubic", "area")
_CHANNELS = {"rgb": 3, "rgba": 4, "grayscale": 1}
_MODES = {"rgb": "RGB", "rgba": "RGB_ALPHA", "grayscale": "GRAY"}


def index_directory(directory, labels, class_names, follow_links=False):
    """``(file_paths, labels, class_names)`` in Keras's order: class folders sorted (or as
    ``class_names`` lists them), each walked recursively, files sorted."""
    subdirs = sorted(d for d in os.listdir(directory)
                     if os.path.isdir(os.path.join(directory, d)) and not d.startswith("."))
    if class_names is not None:
        if not set(class_names) <= set(subdirs):
            raise ValueError(f"The `class_names` passed did not match the names of the "
                             f"subdirectories of the target directory. Expected: {subdirs} "
                             f"(or a subset of it), but received: class_names={class_names}")
        subdirs = list(class_names)
    paths, found = [], []
    for index, subdir in enumerate(subdirs):
        files = list(valid_files(os.path.join(directory, subdir), follow_links,
                                 ALLOWLIST_FORMATS))
        paths += files
        found += [index] * len(files)
    if labels == "inferred":
        return paths, np.asarray(found, dtype="int32"), subdirs
    if labels is None:
        return paths, None, None
    if len(labels) != len(paths):
        raise ValueError(f"Expected the lengths of `labels` to match the number of files in "
                         f"the target directory. len(labels) is {len(labels)} while we found "
                         f"{len(paths)} files in directory {directory}.")
    return paths, np.asarray(labels), [str(label) for label in sorted(set(labels))]


def load_image(path, image_size, color_mode, interpolation, crop_to_aspect_ratio,
               pad_to_aspect_ratio):
    """One file as a float32 (C, H, W) tensor at ``image_size``, as Keras loads it."""
    if path.lower().endswith(".bmp"):  # TorchCodec decodes the others
        image = torch.from_numpy(img_to_array(load_img(path, color_mode))).permute(2, 0, 1)
    else:
        from torchcodec.decoders import decode_image
        image = decode_image(path, mode=_MODES[color_mode])
        if image.ndim == 4:  # animations: the first frame
            image = image[0]
    image = image.float()[None]
    if tuple(image.shape[-2:]) != tuple(image_size) or crop_to_aspect_ratio:
        mode = "bilinear" if interpolation == "area" else interpolation
        if interpolation == "area":
            image = torch.nn.functional.interpolate(image, size=tuple(image_size), mode="area")
        else:
            image = resize(image, image_size, mode, False, crop_to_aspect_ratio,
                           pad_to_aspect_ratio)
    return image[0]


class _Files(TorchDataset):
    """Item ``i``: image ``i`` (and its label) decoded and resized."""

    def __init__(self, paths, labels, options):
        self.paths, self.labels, self.options = paths, labels, options

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, i):
        try:
            image = load_image(self.paths[i], **self.options)
        except (RuntimeError, ValueError, OSError) as error:
            raise ValueError(f"Cannot decode image {self.paths[i]}: "
                             f"{str(error).splitlines()[0] if str(error) else error}") \
                from None
        return image if self.labels is None else (image, self.labels[i])


def _order(n, batch_size, seed, epoch):
    """tf.data's ``shuffle(buffer_size=batch_size * 8, seed)`` as an index order."""
    rng = np.random.default_rng([seed, epoch])
    buffer, size, order = [], batch_size * 8, []
    for i in range(n):
        buffer.append(i)
        if len(buffer) >= size:
            order.append(buffer.pop(int(rng.integers(len(buffer)))))
    while buffer:
        order.append(buffer.pop(int(rng.integers(len(buffer)))))
    return order


def _dataset(paths, labels, label_mode, num_classes, batch_size, shuffle, seed, data_format,
             options, workers):
    if labels is not None and label_mode is not None:
        labels = torch.as_tensor(labels)
        if label_mode == "int":
            labels = labels.to(torch.int32)
        elif label_mode == "binary":
            labels = labels.to(torch.float32).reshape(-1, 1)
        else:
            labels = torch.nn.functional.one_hot(labels.long(), num_classes).float()
    else:
        labels = None
    files = _Files(paths, labels, options)
    epochs = [0]

    def source():
        epochs[0] += 1
        order = _order(len(files), batch_size or 1, seed, epochs[0]) if shuffle else None
        # Worker processes pay off from a few batches per worker; a small folder decodes here.
        many = len(files) >= 4 * max(workers, 1) * (batch_size or 1)
        loader = DataLoader(files, batch_size=batch_size, sampler=order,
                            num_workers=workers if many else 0)
        for batch in loader:
            yield _layout(batch, data_format, labels is not None)
    n = len(files)
    dataset = Dataset(source, n if batch_size is None else -(-n // batch_size))
    dataset._elements = n
    return dataset


def _layout(batch, data_format, labelled):
    """Images channels-last (or as given) and labels, as one batch (or element)."""
    images, labels = batch if labelled else (batch, None)
    if data_format == "channels_last":
        images = images.movedim(-3, -1)
    return images if labels is None else (images, labels)


def image_dataset_from_directory(directory, labels="inferred", label_mode="int",
                                 class_names=None, color_mode="rgb", batch_size=32,
                                 image_size=(256, 256), shuffle=True, seed=None,
                                 validation_split=None, subset=None, interpolation="bilinear",
                                 follow_links=False, crop_to_aspect_ratio=False,
                                 pad_to_aspect_ratio=False, data_format=None, verbose=True):
    """Keras's ``image_dataset_from_directory``: ``(images, labels)`` batches of float32
    images (N, H, W, C) in [0, 255] and labels ('int': int32 (N,); 'categorical': one-hot
    float32; 'binary': float32 (N, 1); None: images only), with ``.class_names`` and
    ``.file_paths``; ``subset='both'`` returns ``[training, validation]``. Files are
    listed and split as Keras does (the same ``seed`` gives the same split); training
    batches are reshuffled each epoch.

    Example:
        >>> train_ds, val_ds = image_dataset_from_directory("PetImages", seed=1337,
        ...     validation_split=0.2, subset="both", image_size=(180, 180))
    """
    from kconv.datasets.image_folder import decode_workers

    if not os.path.isdir(os.fspath(directory)):
        raise FileNotFoundError(f"image_dataset_from_directory: no such folder {directory}")
    directory = os.fspath(directory)
    if labels not in ("inferred", None) and not isinstance(labels, (list, tuple)):
        raise invalid_value("labels", "'inferred', None, or a list of integer labels", labels)
    if class_names is not None and labels != "inferred":
        raise ValueError(f"You can only pass `class_names` if `labels='inferred'`. Received: "
                         f"labels={labels}, and class_names={class_names}")
    if label_mode is not None:
        check_choice("label_mode", label_mode, ("int", "categorical", "binary"))
    if labels is None or label_mode is None:
        labels = label_mode = None
    check_choice("color_mode", color_mode, tuple(_CHANNELS))
    image_size = (image_size, image_size) if isinstance(image_size, int) else image_size
    if not (isinstance(image_size, (tuple, list)) and len(image_size) == 2):
        raise invalid_value("image_size", "a (height, width) pair", image_size)
    image_size = tuple(check_int("image_size", v) for v in image_size)
    interpolation = check_choice("interpolation", interpolation, INTERPOLATIONS, lower=True)
    if check_bool("crop_to_aspect_ratio", crop_to_aspect_ratio) and \
            check_bool("pad_to_aspect_ratio", pad_to_aspect_ratio):
        raise ValueError("Only one of `pad_to_aspect_ratio` and `crop_to_aspect_ratio` can "
                         "be True; received both")
    if batch_size is not None:
        batch_size = check_int("batch_size", batch_size)
    shuffle = check_bool("shuffle", shuffle)
    if validation_split is not None and not 0 < validation_split < 1:
        raise invalid_value("validation_split", "a float strictly between 0 and 1",
                            validation_split)
    if bool(validation_split) != bool(subset):
        raise ValueError(f"If `subset` is set, `validation_split` must be set, and inversely. "
                         f"Received: subset={subset}, validation_split={validation_split}")
    if subset is not None:
        check_choice("subset", subset, ("training", "validation", "both"))
    if validation_split and shuffle and seed is None:
        raise ValueError("If using `validation_split` and shuffling the data, you must "
                         "provide a `seed` argument, to make sure that there is no overlap "
                         "between the training and validation subset.")
    data_format = config.standardize_data_format(data_format)
    seed = np.random.randint(1e6) if seed is None else check_int("seed", seed, minimum=0)
    paths, found, names = index_directory(directory, labels, class_names, follow_links)
    if label_mode == "binary" and len(names) != 2:
        raise ValueError(f'When passing `label_mode="binary"`, there must be exactly 2 '
                         f"class_names. Received: class_names={names}")
    if verbose:
        print(f"Found {len(paths)} files." if found is None else
              f"Found {len(paths)} files belonging to {len(names)} classes.")
    if shuffle:  # Keras shuffles the listing once, paths and labels alike
        np.random.RandomState(seed).shuffle(paths)
        if found is not None:
            np.random.RandomState(seed).shuffle(found)
    options = dict(image_size=image_size, color_mode=color_mode, interpolation=interpolation,
                   crop_to_aspect_ratio=crop_to_aspect_ratio,
                   pad_to_aspect_ratio=pad_to_aspect_ratio)

    def make(part, training):
        subset_paths, subset_labels = paths, found
        if validation_split:
            n_val = int(validation_split * len(paths))
            if verbose:
                print(f"Using {len(paths) - n_val if training else n_val} files for "
                      f"{'training' if training else 'validation'}.")
            cut = slice(None, -n_val) if training else slice(-n_val, None)
            subset_paths = paths[cut] if n_val else (paths if training else [])
            subset_labels = None if found is None else (found[cut] if n_val else (
                found if training else found[:0]))
        if not subset_paths:
            raise ValueError(f"No {part}images found in directory {directory}. Allowed "
                             f"formats: {ALLOWLIST_FORMATS}")
        dataset = _dataset(subset_paths, subset_labels, label_mode,
                           len(names) if names else 0, batch_size, shuffle and training,
                           seed, data_format, options, decode_workers())
        dataset.class_names, dataset.file_paths = names, list(subset_paths)
        return dataset

    if subset == "both":
        return [make("training ", True), make("validation ", False)]
    return make("" if subset is None else f"{subset} ", subset != "validation")
