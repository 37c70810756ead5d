"""Keras's ``ImageDataGenerator`` and image helpers (``keras.preprocessing.image``).

The generator's geometric arguments run on :class:`kconv.augmentation.ImageAugmentation`
(one batched bilinear warp in torch, parameters drawn as Keras draws them); ``rescale``,
``preprocessing_function``, sample- and feature-wise centring/normalization (``fit``) and
``validation_split`` are Keras's, in Keras's order. ``flow`` and ``flow_from_directory``
return Keras-style datasets (``len``, indexing, endless ``next``) of NumPy batches, which
``model.fit`` takes as they are. Random draws come from torch (``seed`` makes them
repeatable), so augmented pixels are not Keras's own random ones.

Not supported (refused by name): ``zca_whitening``, ``brightness_range``,
``channel_shift_range``, fill modes 'reflect'/'wrap', ``interpolation_order`` other than 1.
"""

import math
import os
import warnings

import numpy as np
import torch

from kconv import config
from kconv.augmentation import ImageAugmentation
from kconv.validation import (check_choice, check_float, check_int, check_optional_function,
                              invalid_value)

WHITE_LIST_FORMATS = ("png", "jpg", "jpeg", "bmp", "ppm", "tif", "tiff")
CLASS_MODES = ("categorical", "binary", "sparse", "input", None)
INTERPOLATIONS = ("nearest", "bilinear", "bicubic", "hamming", "box", "lanczos")


def _pil():
    try:
        from PIL import Image
    except ImportError as error:
        raise ImportError("Image files need Pillow: pip install pillow") from error
    return Image


def load_img(path, color_mode="rgb", target_size=None, interpolation="nearest",
             keep_aspect_ratio=False):
    """A PIL image from a file, converted to ``color_mode`` ('rgb', 'rgba', 'grayscale') and
    resized to ``target_size`` (height, width) with ``interpolation``, as Keras loads it
    (``keep_aspect_ratio`` centre-crops to the target's aspect ratio first)."""
    Image = _pil()
    check_choice("color_mode", color_mode, ("rgb", "rgba", "grayscale"))
    with open(os.fspath(path), "rb") as handle:
        img = Image.open(handle)
        img.load()
    wanted = {"grayscale": ("L", "I;16", "I"), "rgba": ("RGBA",), "rgb": ("RGB",)}[color_mode]
    if img.mode not in wanted:
        img = img.convert(wanted[0])
    if target_size is not None:
        height, width = (check_int("target_size", v, minimum=1) for v in target_size)
        if img.size != (width, height):
            check_choice("interpolation", interpolation, INTERPOLATIONS)
            resample = getattr(Image.Resampling, interpolation.upper())
            box = None
            if keep_aspect_ratio:  # the centred box of the target's aspect ratio
                w, h = img.size
                crop_h = min(h, (w * height) // width)
                crop_w = min(w, (h * width) // height)
                top, left = (h - crop_h) // 2, (w - crop_w) // 2
                box = (left, top, left + crop_w, top + crop_h)
            img = img.resize((width, height), resample, box=box)
    return img


def img_to_array(img, data_format=None, dtype=None):
    """A PIL image as a float32 (or ``dtype``) NumPy array, (H, W, C) or (C, H, W)."""
    x = np.asarray(img, dtype=dtype or "float32")
    if x.ndim == 2:
        x = x[..., None]
    if x.ndim != 3:
        raise invalid_value("img", "an image of 2 or 3 axes", x.shape)
    if config.standardize_data_format(data_format) == "channels_first":
        x = x.transpose(2, 0, 1)
    return x


def array_to_img(x, data_format=None, scale=True):
    """A NumPy image (H, W, C) or (C, H, W) as a PIL image, scaled to 0-255 if ``scale``."""
    Image = _pil()
    x = np.asarray(x, dtype="float32")
    if x.ndim != 3:
        raise invalid_value("x", "an image of 3 axes", x.shape)
    if config.standardize_data_format(data_format) == "channels_first":
        x = x.transpose(1, 2, 0)
    if scale:
        x = x - x.min()
        x = x / x.max() * 255 if x.max() > 0 else x
    x = x.astype("uint8")
    return Image.fromarray(x[..., 0] if x.shape[-1] == 1 else x)


def save_img(path, x, data_format=None, file_format=None, scale=True):
    """Write a NumPy image to ``path`` (``file_format`` from the extension if None)."""
    array_to_img(x, data_format, scale).save(os.fspath(path), format=file_format)


class ImageDataGenerator:
    """Keras's ``ImageDataGenerator``: augmentation and normalization of image batches.

    Args: Keras's, with the same meaning (see ``kconv.augmentation.ImageAugmentation`` for
    the geometric ones); ``rescale`` multiplies, ``preprocessing_function`` runs on each
    image (a NumPy (H, W, C) array) before everything else of ``standardize``.

    Example:
        >>> aug = ImageDataGenerator(rotation_range=30, zoom_range=0.15, horizontal_flip=True)
        >>> model.fit(aug.flow(trainX, trainY, batch_size=32), epochs=10)
    """

    def __init__(self, featurewise_center=False, samplewise_center=False,
                 featurewise_std_normalization=False, samplewise_std_normalization=False,
                 zca_whitening=False, zca_epsilon=1e-6, rotation_range=0,
                 width_shift_range=0.0, height_shift_range=0.0, brightness_range=None,
                 shear_range=0.0, zoom_range=0.0, channel_shift_range=0.0,
                 fill_mode="nearest", cval=0.0, horizontal_flip=False, vertical_flip=False,
                 rescale=None, preprocessing_function=None, data_format=None,
                 validation_split=0.0, interpolation_order=1, dtype=None):
        for name, value, off in (("zca_whitening", zca_whitening, False),
                                 ("brightness_range", brightness_range, None),
                                 ("channel_shift_range", channel_shift_range, 0.0),
                                 ("interpolation_order", interpolation_order, 1)):
            if value != off:
                raise invalid_value(name, f"{off!r} (kconv does not support {name})", value)
        del zca_epsilon
        self.featurewise_center = bool(featurewise_center)
        self.samplewise_center = bool(samplewise_center)
        self.featurewise_std_normalization = bool(featurewise_std_normalization)
        self.samplewise_std_normalization = bool(samplewise_std_normalization)
        self.data_format = config.standardize_data_format(data_format)
        self.augmentation = ImageAugmentation(
            rotation_range=rotation_range, width_shift_range=width_shift_range,
            height_shift_range=height_shift_range, shear_range=shear_range,
            zoom_range=zoom_range, horizontal_flip=horizontal_flip,
            vertical_flip=vertical_flip, fill_mode=fill_mode, cval=cval,
            data_format=self.data_format)
        self.rescale = None if rescale is None else check_float("rescale", rescale)
        self.preprocessing_function = check_optional_function(
            "preprocessing_function", preprocessing_function, "a function of one image")
        self._validation_split = check_float("validation_split", validation_split,
                                             minimum=0.0, maximum=1.0)
        if self._validation_split == 1.0:
            raise invalid_value("validation_split", "a float between 0 and 1 (exclusive)",
                                validation_split)
        self.dtype = dtype or "float32"
        self.mean = self.std = None

    # ----------------------------------------------------------------- batches
    def _channel_axis(self):
        return 3 if self.data_format == "channels_last" else 1

    def random_transform(self, x, seed=None):
        """One image (H, W, C) randomly transformed (a new array)."""
        generator = None if seed is None else torch.Generator().manual_seed(int(seed))
        return self._augment(np.asarray(x, self.dtype)[None], generator)[0]

    def _augment(self, batch, generator=None):
        if not self.augmentation.active:
            return batch
        images = torch.from_numpy(np.ascontiguousarray(batch, dtype="float32"))
        size = config.spatial_shape(images.shape, self.data_format)
        if generator is None:
            params = self.augmentation.sample(len(images), size)
        else:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(int(torch.randint(2 ** 62, (), generator=generator)))
                params = self.augmentation.sample(len(images), size)
        return self.augmentation.apply(images, params).numpy().astype(self.dtype, copy=False)

    def standardize(self, x):
        """Keras's normalization of a batch (or one image), in Keras's order."""
        x = np.array(x, dtype=self.dtype, copy=True)
        single = x.ndim == 3
        batch = x[None] if single else x
        if self.preprocessing_function is not None:
            batch = np.stack([np.asarray(self.preprocessing_function(image), self.dtype)
                              for image in batch])
        if self.rescale:
            batch *= self.rescale
        axes = tuple(range(1, batch.ndim))
        if self.samplewise_center:
            batch -= batch.mean(axis=axes, keepdims=True)
        if self.samplewise_std_normalization:
            batch /= batch.std(axis=axes, keepdims=True) + 1e-6
        for wanted, value, name in ((self.featurewise_center, self.mean, "featurewise_center"),
                                    (self.featurewise_std_normalization, self.std,
                                     "featurewise_std_normalization")):
            if wanted and value is None:
                warnings.warn(f"This ImageDataGenerator specifies `{name}`, but it hasn't "
                              f"been fit on any training data. Fit it first by calling "
                              f"`.fit(numpy_data)`.", stacklevel=2)
        if self.featurewise_center and self.mean is not None:
            batch -= self.mean
        if self.featurewise_std_normalization and self.std is not None:
            batch /= self.std + 1e-6
        return batch[0] if single else batch

    def fit(self, x, augment=False, rounds=1, seed=None):
        """Compute the feature-wise mean and std of ``x`` (N, H, W, C), per channel, as
        Keras does (``rescale`` is not applied, as in Keras)."""
        x = np.asarray(x, dtype=self.dtype)
        if x.ndim != 4:
            raise invalid_value("x", "a rank-4 batch of images", x.shape)
        if augment:
            generator = None if seed is None else torch.Generator().manual_seed(int(seed))
            x = np.concatenate([self._augment(x, generator)
                                for _ in range(check_int("rounds", rounds, minimum=1))])
        axis = self._channel_axis()
        axes = tuple(a for a in range(4) if a != axis)
        shape = [1, 1, 1]
        shape[axis - 1] = x.shape[axis]
        if self.featurewise_center or self.featurewise_std_normalization:
            self.mean = x.mean(axis=axes).reshape(shape)
        if self.featurewise_std_normalization:
            self.std = x.std(axis=axes).reshape(shape)

    def _subset(self, subset):
        if subset is not None:
            check_choice("subset", subset, ("training", "validation"))
            if not self._validation_split:
                raise ValueError(f"subset='{subset}' needs the generator's "
                                 f"validation_split")
        return subset

    def flow(self, x, y=None, batch_size=32, shuffle=True, sample_weight=None, seed=None,
             save_to_dir=None, save_prefix="", save_format="png", ignore_class_split=False,
             subset=None):
        """Batches of augmented, standardized ``x`` (with ``y`` and ``sample_weight``)."""
        if save_to_dir is not None:
            raise invalid_value("save_to_dir", "None (kconv does not write augmented images)",
                                save_to_dir)
        return ArrayIterator(self, x, y, sample_weight, batch_size, shuffle, seed,
                             self._subset(subset), ignore_class_split)

    def flow_from_directory(self, directory, target_size=(256, 256), color_mode="rgb",
                            classes=None, class_mode="categorical", batch_size=32,
                            shuffle=True, seed=None, save_to_dir=None, save_prefix="",
                            save_format="png", follow_links=False, subset=None,
                            interpolation="nearest", keep_aspect_ratio=False):
        """Batches of images from ``directory/<class>/...`` files, labelled by class
        folder (sorted names), as Keras's ``DirectoryIterator``."""
        if save_to_dir is not None:
            raise invalid_value("save_to_dir", "None (kconv does not write augmented images)",
                                save_to_dir)
        return DirectoryIterator(self, directory, target_size, color_mode, classes,
                                 class_mode, batch_size, shuffle, seed, follow_links,
                                 self._subset(subset), interpolation, keep_aspect_ratio)


class _Iterator:
    """Keras's ``Iterator``: ``len`` batches per epoch, ``it[i]`` the i-th batch of this
    epoch's order, ``next(it)`` batches without end (reshuffled every epoch)."""

    def __init__(self, n, batch_size, shuffle, seed):
        self.n = n
        self.batch_size = check_int("batch_size", batch_size, minimum=1)
        self.shuffle = bool(shuffle)
        self.seed = seed
        self._generator = torch.Generator().manual_seed(
            int(torch.randint(2 ** 62, ())) if seed is None else int(seed))
        self._epoch_order()
        self._position = 0

    def _epoch_order(self):
        self.index_array = torch.randperm(self.n, generator=self._generator).numpy() \
            if self.shuffle else np.arange(self.n)

    def __len__(self):
        return math.ceil(self.n / self.batch_size)

    def __getitem__(self, index):
        if not 0 <= index < len(self):
            raise IndexError(f"Asked to retrieve element {index}, but the Sequence has "
                             f"length {len(self)}")
        picked = self.index_array[index * self.batch_size:(index + 1) * self.batch_size]
        return self._batch(picked)

    def on_epoch_end(self):
        self._epoch_order()

    def __iter__(self):
        return self

    def __next__(self):
        if self._position >= len(self):
            self.on_epoch_end()
            self._position = 0
        self._position += 1
        return self[self._position - 1]

    next = __next__

    def _finish(self, batch_x):
        gen = self.image_data_generator
        return gen.standardize(gen._augment(batch_x, self._generator))


class ArrayIterator(_Iterator):
    """What ``ImageDataGenerator.flow`` returns."""

    def __init__(self, image_data_generator, x, y, sample_weight, batch_size, shuffle, seed,
                 subset, ignore_class_split):
        self.image_data_generator = image_data_generator
        x = np.asarray(x)
        if x.ndim != 4:
            raise invalid_value("x", "a rank-4 batch of images (N, H, W, C)", x.shape)
        if y is not None and len(y) != len(x):
            raise ValueError(f"`x` (images tensor) and `y` (labels) should have the same "
                             f"length. Found: x.shape = {x.shape}, y.shape = "
                             f"{np.asarray(y).shape}")
        if sample_weight is not None and len(sample_weight) != len(x):
            raise ValueError(f"`x` and `sample_weight` should have the same length. Found: "
                             f"{len(x)} and {len(sample_weight)}")
        if subset is not None:
            at = int(len(x) * image_data_generator._validation_split)
            part = slice(None, at) if subset == "validation" else slice(at, None)
            if y is not None and not ignore_class_split and \
                    not np.array_equal(np.unique(np.asarray(y)[:at]), np.unique(y)):
                raise ValueError("Training and validation subsets have different number of "
                                 "classes after the split. If your numpy arrays are sorted "
                                 "by the label, you might want to shuffle them.")
            x = x[part]
            y = None if y is None else np.asarray(y)[part]
            sample_weight = None if sample_weight is None else \
                np.asarray(sample_weight)[part]
        self.x = x
        self.y = None if y is None else np.asarray(y)
        self.sample_weight = None if sample_weight is None else np.asarray(sample_weight)
        super().__init__(len(x), batch_size, shuffle, seed)

    def _batch(self, picked):
        batch_x = self._finish(self.x[picked].astype(self.image_data_generator.dtype))
        if self.y is None:
            return batch_x
        if self.sample_weight is None:
            return batch_x, self.y[picked]
        return batch_x, self.y[picked], self.sample_weight[picked]


def valid_files(directory, follow_links=False,
                formats=tuple("." + ext for ext in WHITE_LIST_FORMATS)):
    """The files under ``directory`` (recursively) ending in one of ``formats``, in Keras's
    order: folders sorted by path, files sorted by name."""
    for root, _, files in sorted(os.walk(directory, followlinks=follow_links),
                                 key=lambda entry: entry[0]):
        for name in sorted(files):
            if name.lower().endswith(formats):
                yield os.path.join(root, name)


class DirectoryIterator(_Iterator):
    """What ``ImageDataGenerator.flow_from_directory`` returns (``classes``,
    ``class_indices``, ``filenames``, ``samples`` as in Keras)."""

    def __init__(self, image_data_generator, directory, target_size, color_mode, classes,
                 class_mode, batch_size, shuffle, seed, follow_links, subset, interpolation,
                 keep_aspect_ratio):
        self.image_data_generator = image_data_generator
        self.directory = os.fspath(directory)
        if not os.path.isdir(self.directory):
            raise invalid_value("directory", "an existing folder of class folders", directory)
        self.target_size = tuple(check_int("target_size", v, minimum=1) for v in target_size)
        self.color_mode = check_choice("color_mode", color_mode, ("rgb", "rgba", "grayscale"))
        if class_mode not in CLASS_MODES:
            raise invalid_value("class_mode", f"one of {CLASS_MODES}", class_mode)
        self.class_mode = class_mode
        self.interpolation = check_choice("interpolation", interpolation, INTERPOLATIONS)
        self.keep_aspect_ratio = bool(keep_aspect_ratio)
        if not classes:
            classes = [d for d in sorted(os.listdir(self.directory))
                       if os.path.isdir(os.path.join(self.directory, d))]
        self.class_indices = {name: i for i, name in enumerate(classes)}
        self.num_classes = len(classes)
        split = image_data_generator._validation_split
        bounds = (0.0, 1.0) if subset is None else (0.0, split) if subset == "validation" \
            else (split, 1.0)
        self.filenames, labels = [], []
        for name in classes:
            files = list(valid_files(os.path.join(self.directory, name), follow_links))
            start, stop = int(bounds[0] * len(files)), int(bounds[1] * len(files))
            for path in files[start:stop]:
                self.filenames.append(os.path.relpath(path, self.directory))
                labels.append(self.class_indices[name])
        self.classes = np.asarray(labels, dtype="int32")
        self.samples = len(self.filenames)
        print(f"Found {self.samples} images belonging to {self.num_classes} classes.")
        super().__init__(self.samples, batch_size, shuffle, seed)

    @property
    def filepaths(self):
        return [os.path.join(self.directory, name) for name in self.filenames]

    @property
    def labels(self):
        return self.classes

    def _batch(self, picked):
        gen = self.image_data_generator
        images = [img_to_array(load_img(os.path.join(self.directory, self.filenames[i]),
                                        self.color_mode, self.target_size, self.interpolation,
                                        self.keep_aspect_ratio), gen.data_format, gen.dtype)
                  for i in picked]
        batch_x = self._finish(np.stack(images))
        classes = self.classes[picked]
        if self.class_mode == "input":
            return batch_x, batch_x.copy()
        if self.class_mode in ("binary", "sparse"):
            return batch_x, classes.astype(gen.dtype)
        if self.class_mode == "categorical":
            return batch_x, np.eye(self.num_classes, dtype=gen.dtype)[classes]
        return batch_x
