"""kconv.preprocessing.image against Keras's own ImageDataGenerator and image helpers:
batches, labels, splits and normalization equal Keras's wherever no random draw is
involved; random augmentation is reproducible by seed and refused options are named."""

import keras
import numpy as np
import pytest
from keras.src.legacy.preprocessing import image as keras_legacy_image
from PIL import Image

from kconv.preprocessing import image as kimage

RNG = np.random.default_rng(5)
KerasGenerator = keras_legacy_image.ImageDataGenerator  # Keras 3 keeps it for tf.keras


def images(n=10, size=(6, 5, 3)):
    return RNG.integers(0, 256, (n,) + size).astype("uint8")


def batches(iterator):
    return [iterator[i] for i in range(len(iterator))]


def assert_same_batches(ours, theirs):
    assert len(ours) == len(theirs)
    for a, b in zip(batches(ours), batches(theirs)):
        a, b = (a, b) if isinstance(a, tuple) else ((a,), (b,))
        assert len(a) == len(b)
        for u, v in zip(a, b):
            np.testing.assert_allclose(u, v, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("options", [
    {"rescale": 1 / 255.0},
    {"samplewise_center": True, "samplewise_std_normalization": True},
    {"preprocessing_function": lambda im: im[::-1] * 0.5, "rescale": 2.0},
])
def test_flow_batches_equal_keras_without_random_transforms(options):
    x, y = images(), RNG.integers(0, 3, 10)
    weights = RNG.random(10).astype("float32")
    ours = kimage.ImageDataGenerator(**options).flow(x, y, batch_size=4, shuffle=False,
                                                     sample_weight=weights)
    theirs = KerasGenerator(**options).flow(x, y, batch_size=4, shuffle=False,
                                            sample_weight=weights)
    assert_same_batches(ours, theirs)


def test_featurewise_fit_and_validation_subsets_equal_keras():
    x, y = images(20), np.tile(np.arange(2), 10)
    options = dict(featurewise_center=True, featurewise_std_normalization=True,
                   validation_split=0.25)
    ours, theirs = kimage.ImageDataGenerator(**options), KerasGenerator(**options)
    ours.fit(x)
    theirs.fit(x)
    np.testing.assert_allclose(ours.mean, theirs.mean, rtol=1e-5)
    np.testing.assert_allclose(ours.std, theirs.std, rtol=1e-5)
    for subset in ("training", "validation"):
        assert_same_batches(ours.flow(x, y, batch_size=4, shuffle=False, subset=subset),
                            theirs.flow(x, y, batch_size=4, shuffle=False, subset=subset))


@pytest.mark.parametrize("class_mode", ["categorical", "binary", "sparse", "input", None])
@pytest.mark.parametrize("subset", [None, "validation"])
def test_flow_from_directory_equals_keras(tmp_path, write_folder, class_mode, subset):
    write_folder(tmp_path, counts={"cats": 4, "dogs": 3}, size=(9, 12))
    (tmp_path / "cats" / "broken.jpg").unlink()  # Keras fails on it as well
    options = dict(rescale=1 / 255.0, validation_split=0.5 if subset else 0.0)
    kwargs = dict(target_size=(5, 7), class_mode=class_mode, batch_size=3, shuffle=False,
                  subset=subset)
    ours = kimage.ImageDataGenerator(**options).flow_from_directory(str(tmp_path), **kwargs)
    theirs = KerasGenerator(**options).flow_from_directory(str(tmp_path), **kwargs)
    assert ours.class_indices == theirs.class_indices
    assert ours.filenames == theirs.filenames and ours.samples == theirs.samples
    np.testing.assert_array_equal(ours.classes, theirs.classes)
    assert_same_batches(ours, theirs)


@pytest.mark.parametrize("color_mode", ["rgb", "grayscale", "rgba"])
@pytest.mark.parametrize("keep_aspect_ratio", [False, True])
def test_load_img_and_img_to_array_equal_keras(tmp_path, color_mode, keep_aspect_ratio):
    path = tmp_path / "a.png"
    Image.fromarray(images(1, (11, 17, 3))[0]).save(path)
    kwargs = dict(color_mode=color_mode, target_size=(6, 8), interpolation="bilinear",
                  keep_aspect_ratio=keep_aspect_ratio)
    ours = kimage.img_to_array(kimage.load_img(path, **kwargs))
    theirs = keras.utils.img_to_array(keras.utils.load_img(path, **kwargs))
    np.testing.assert_array_equal(ours, theirs)
    np.testing.assert_array_equal(kimage.img_to_array(kimage.array_to_img(ours, scale=False)),
                                  ours)


def test_random_transforms_move_pixels_and_repeat_by_seed():
    x, y = images(8, (12, 12, 1)), np.arange(8)
    gen = kimage.ImageDataGenerator(rotation_range=40, zoom_range=0.2, horizontal_flip=True)
    first = gen.flow(x, y, batch_size=8, seed=3)[0]
    again = gen.flow(x, y, batch_size=8, seed=3)[0]
    np.testing.assert_array_equal(first[0], again[0])
    np.testing.assert_array_equal(first[1], again[1])
    assert not np.allclose(first[0], x[first[1]])
    flow = gen.flow(x, y, batch_size=3)
    shapes = [next(flow)[0].shape for _ in range(4)]  # endless, as Keras's iterators
    assert shapes == [(3, 12, 12, 1), (3, 12, 12, 1), (2, 12, 12, 1), (3, 12, 12, 1)]


@pytest.mark.parametrize("argument, value", [
    ("zca_whitening", True), ("brightness_range", (0.5, 1.5)), ("channel_shift_range", 10.0),
    ("fill_mode", "reflect"), ("interpolation_order", 0), ("validation_split", 1.0)])
def test_unsupported_options_are_refused_by_name(argument, value):
    with pytest.raises(ValueError, match=argument):
        kimage.ImageDataGenerator(**{argument: value})


def test_a_preprocessing_function_that_is_not_callable_is_named():
    with pytest.raises(TypeError) as info:
        kimage.ImageDataGenerator(preprocessing_function=3)
    assert str(info.value) == ("Invalid type for argument `preprocessing_function`: expected a "
                               "function of one image. Received: preprocessing_function=3 of "
                               "type int")


def test_bad_flow_inputs_are_clear(tmp_path):
    gen = kimage.ImageDataGenerator()
    with pytest.raises(ValueError, match="same length"):
        gen.flow(images(4), np.arange(3))
    with pytest.raises(ValueError, match="validation_split"):
        gen.flow(images(4), np.arange(4), subset="training")
    with pytest.raises(ValueError, match="directory"):
        gen.flow_from_directory(str(tmp_path / "missing"))
    with pytest.raises(ValueError, match="class_mode"):
        gen.flow_from_directory(str(tmp_path), class_mode="onehot")
