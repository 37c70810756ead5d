"""image_dataset_from_directory against Keras: the file order, labels and split Keras's own
indexing gives for the same seed, images as Keras's resizing makes them, every label and
colour mode, the dataset methods keras.io calls, and fit/evaluate/predict on it."""

import keras
import numpy as np
import pytest
import torch
from keras.src.utils import dataset_utils
from PIL import Image

import kconv
from kconv.utils import image_dataset_from_directory
from tests.keras_oracle import to_numpy


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """Three classes of PNG images of different sizes, one in a nested folder, one BMP."""
    root = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    for c, (name, n) in enumerate((("cat", 7), ("dog", 5), ("fox", 6))):
        (root / name / "more").mkdir(parents=True)
        for i in range(n):
            size = (12 + 3 * (i % 3), 16 + 2 * c)
            pixels = rng.integers(0, 256, size + (3,), dtype=np.uint8)
            where = root / name / ("more" if i == 0 else "") / f"{i:02d}.png"
            Image.fromarray(pixels).save(where)
        (root / name / "notes.txt").write_text("not an image")
    Image.fromarray(rng.integers(0, 256, (9, 9, 3), dtype=np.uint8)).save(root / "fox" / "z.bmp")
    return root


def keras_listing(folder, seed, split=None, subset=None):
    paths, labels, names = dataset_utils.index_directory(
        str(folder), "inferred", formats=(".bmp", ".gif", ".jpeg", ".jpg", ".png"),
        shuffle=True, seed=seed, verbose=False)
    if split:
        paths, labels = dataset_utils.get_training_or_validation_split(paths, labels, split,
                                                                       subset)
    return paths, labels, names


@pytest.mark.parametrize("subset", ["training", "validation"])
def test_files_labels_and_split_are_keras(folder, subset, capsys):
    dataset = image_dataset_from_directory(folder, seed=7, validation_split=0.3,
                                           subset=subset, image_size=(8, 10), batch_size=4)
    paths, labels, names = keras_listing(folder, 7, 0.3, subset)
    assert dataset.file_paths == paths and dataset.class_names == names == ["cat", "dog", "fox"]
    ours = torch.cat([y for _, y in dataset]).numpy()
    assert ours.dtype == np.int32
    assert sorted(ours.tolist()) == sorted(np.asarray(labels).tolist())
    printed = capsys.readouterr().out.splitlines()
    assert printed[0] == "Found 19 files belonging to 3 classes."
    assert printed[1] == ("Using 14 files for training." if subset == "training" else
                          "Using 5 files for validation.")


def test_both_subsets_partition_the_files(folder):
    train, val = image_dataset_from_directory(folder, seed=3, validation_split=0.25,
                                              subset="both", image_size=(8, 8), verbose=False)
    assert not set(train.file_paths) & set(val.file_paths)
    assert len(train.file_paths) + len(val.file_paths) == 19
    assert val.file_paths == keras_listing(folder, 3, 0.25, "validation")[0]
    first = [y for _, y in val]  # validation is never reshuffled
    assert all(torch.equal(a, b) for a, b in zip(first, [y for _, y in val]))


@pytest.mark.parametrize("interpolation", ["bilinear", "nearest", "bicubic"])
@pytest.mark.parametrize("crop", [False, True])
def test_images_are_keras_resizing_of_the_decoded_file(folder, interpolation, crop):
    dataset = image_dataset_from_directory(folder, shuffle=False, image_size=(9, 11),
                                           interpolation=interpolation, batch_size=None,
                                           crop_to_aspect_ratio=crop, verbose=False)
    resizing = keras.layers.Resizing(9, 11, interpolation=interpolation,
                                     crop_to_aspect_ratio=crop)
    for (image, label), path in zip(dataset, dataset.file_paths):
        assert image.shape == (9, 11, 3) and image.dtype == torch.float32
        decoded = np.asarray(Image.open(path).convert("RGB"), dtype="float32")
        np.testing.assert_allclose(image.numpy(), to_numpy(resizing(decoded)), atol=1e-3)


def test_label_and_colour_modes(folder):
    common = dict(shuffle=False, image_size=(6, 6), batch_size=5, verbose=False)
    images, labels = next(iter(image_dataset_from_directory(folder, label_mode="categorical",
                                                            color_mode="grayscale", **common)))
    assert images.shape == (5, 6, 6, 1) and labels.shape == (5, 3)
    assert labels.dtype == torch.float32 and labels.sum(1).eq(1).all()
    images, = [next(iter(image_dataset_from_directory(folder, label_mode=None,
                                                      color_mode="rgba", **common)))]
    assert images.shape == (5, 6, 6, 4)
    binary = image_dataset_from_directory(folder, label_mode="binary", class_names=["dog", "cat"],
                                          **common)
    _, labels = next(iter(binary))
    assert labels.shape == (5, 1) and binary.class_names == ["dog", "cat"]
    assert labels[:, 0].tolist() == [0.0] * 5  # dog's files come first, labelled 0
    channels_first = image_dataset_from_directory(folder, data_format="channels_first", **common)
    assert next(iter(channels_first))[0].shape == (5, 3, 6, 6)


@pytest.mark.parametrize("kwargs, name", [
    ({"label_mode": "sparse"}, "label_mode"), ({"color_mode": "rgbx"}, "color_mode"),
    ({"interpolation": "lanczos9"}, "interpolation"),
    ({"validation_split": 1.5}, "validation_split"),
    ({"validation_split": 0.2}, "subset"),
    ({"validation_split": 0.2, "subset": "training"}, "seed"),
    ({"label_mode": "binary"}, "exactly 2"), ({"image_size": (8,)}, "image_size"),
    ({"class_names": ["cow"]}, "class_names")])
def test_bad_arguments_are_one_line(folder, kwargs, name):
    with pytest.raises(ValueError) as error:
        image_dataset_from_directory(folder, verbose=False, **kwargs)
    assert name in str(error.value) and "\n" not in str(error.value)


def test_keras_io_idiom_trains_evaluates_and_predicts(folder):
    """keras.io's image classification from scratch, shrunk: the dataset with augmentation
    mapped over it, prefetched, into a model that rescales; fit, evaluate and predict."""
    from kconv import data as tf_data
    train_ds, val_ds = image_dataset_from_directory(folder, validation_split=0.2,
                                                    subset="both", seed=1337,
                                                    image_size=(16, 16), batch_size=4,
                                                    verbose=False)
    augmentation = kconv.layers.RandomFlip("horizontal")
    train_ds = train_ds.map(lambda img, label: (augmentation(img), label),
                            num_parallel_calls=tf_data.AUTOTUNE).prefetch(tf_data.AUTOTUNE)
    val_ds = val_ds.prefetch(tf_data.AUTOTUNE)
    model = kconv.Sequential([kconv.Input((16, 16, 3)), kconv.layers.Rescaling(1 / 255),
                              kconv.layers.Conv2D(4, 3, activation="relu"),
                              kconv.layers.GlobalAveragePooling2D(),
                              kconv.layers.Dense(3, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(train_ds, epochs=2, validation_data=val_ds, verbose=0)
    assert len(history.history["val_accuracy"]) == 2
    assert len(model.evaluate(val_ds, verbose=0)) == 2
    assert model.predict(val_ds, verbose=0).shape == (len(val_ds.file_paths), 3)


def test_worker_processes_decode_what_this_process_decodes(folder):
    """Batches of one over 19 files: worker processes decode them (a small folder is
    decoded here), in the same order, to the same pixels."""
    common = dict(shuffle=False, image_size=(8, 8), verbose=False)
    here = image_dataset_from_directory(folder, batch_size=None, **common)
    workers = image_dataset_from_directory(folder, batch_size=1, **common)
    assert len(workers) == 19
    for (image, label), (batch, labels) in zip(here, workers):
        assert torch.equal(image, batch[0]) and int(label) == int(labels[0])
