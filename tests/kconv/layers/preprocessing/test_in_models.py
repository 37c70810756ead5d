"""Models holding augmentation and preprocessing layers: keras.io's "image classification
from scratch" network saved by Keras opens in kconv with Keras's predictions and trains;
the same code on ``import kconv as keras`` saves a file Keras opens; every preprocessing
layer saves and opens both ways inside a model; augmentation acts in fit only."""

import keras
import numpy as np
import pytest
import torch

import kconv
from tests.keras_oracle import to_numpy


def from_scratch(keras, input_shape=(24, 24, 3), num_classes=2):
    """keras.io's "Image classification from scratch" network, at a small size, written
    the way the tutorial writes it (augmentation inside the model)."""
    layers = keras.layers
    data_augmentation = keras.Sequential([layers.RandomFlip("horizontal"),
                                          layers.RandomRotation(0.1)])
    inputs = keras.Input(shape=input_shape)
    x = data_augmentation(inputs)
    x = layers.Rescaling(1.0 / 255)(x)
    x = layers.Conv2D(16, 3, strides=2, padding="same")(x)
    x = layers.BatchNormalization()(x)
    x = layers.Activation("relu")(x)
    previous_block_activation = x
    for size in [32, 64]:
        x = layers.Activation("relu")(x)
        x = layers.SeparableConv2D(size, 3, padding="same")(x)
        x = layers.BatchNormalization()(x)
        x = layers.Activation("relu")(x)
        x = layers.SeparableConv2D(size, 3, padding="same")(x)
        x = layers.BatchNormalization()(x)
        x = layers.MaxPooling2D(3, strides=2, padding="same")(x)
        residual = layers.Conv2D(size, 1, strides=2, padding="same")(previous_block_activation)
        x = layers.add([x, residual])
        previous_block_activation = x
    x = layers.SeparableConv2D(128, 3, padding="same")(x)
    x = layers.BatchNormalization()(x)
    x = layers.Activation("relu")(x)
    x = layers.GlobalAveragePooling2D()(x)
    units = 1 if num_classes == 2 else num_classes
    x = layers.Dropout(0.25)(x)
    outputs = layers.Dense(units, activation=None)(x)
    return keras.Model(inputs, outputs)


def data(n=32, shape=(24, 24, 3)):
    rng = np.random.default_rng(0)
    return (rng.random((n,) + shape) * 255).astype("float32"), rng.integers(0, 2, (n, 1))


@pytest.mark.parametrize("ext", [".keras", ".h5"])
def test_keras_io_from_scratch_model_opens_predicts_and_trains(ext, tmp_path):
    keras.utils.set_random_seed(0)
    k_model = from_scratch(keras)
    x, y = data()
    k_model.compile(keras.optimizers.Adam(3e-4), keras.losses.BinaryCrossentropy(
        from_logits=True), metrics=[keras.metrics.BinaryAccuracy(name="acc")])
    k_model.fit(x, y, epochs=1, batch_size=16, verbose=0)  # moving statistics move
    path = str(tmp_path / f"from_scratch{ext}")
    k_model.save(path)
    model = kconv.models.load_model(path)
    np.testing.assert_allclose(model.predict(x, verbose=0), to_numpy(k_model.predict(
        x, verbose=0)), rtol=1e-4, atol=1e-4)
    model.compile(kconv.optimizers.Adam(3e-4), kconv.losses.BinaryCrossentropy(
        from_logits=True), metrics=[kconv.metrics.BinaryAccuracy(name="acc")])
    before = [w.copy() for w in model.get_weights()]
    history = model.fit(x, y, epochs=2, batch_size=16, verbose=0).history
    assert len(history["loss"]) == 2 and np.all(np.isfinite(history["loss"]))
    assert any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    # Augmentation is random in fit and absent in predict and evaluate.
    augment = model.layers[1]
    augment.train()
    assert not torch.equal(augment(torch.from_numpy(x)), torch.from_numpy(x))
    model.eval()
    np.testing.assert_array_equal(model.predict(x, verbose=0), model.predict(x, verbose=0))


def test_the_same_code_on_kconv_saves_a_file_keras_opens(tmp_path):
    model = from_scratch(kconv)
    x, y = data()
    model.compile(kconv.optimizers.Adam(3e-4), kconv.losses.BinaryCrossentropy(
        from_logits=True), metrics=["accuracy"])
    model.fit(x, y, epochs=1, batch_size=16, verbose=0)
    for ext in (".keras", ".h5"):
        path = str(tmp_path / f"kconv{ext}")
        model.save(path)
        k_model = keras.models.load_model(path, compile=False)
        np.testing.assert_allclose(to_numpy(k_model.predict(x, verbose=0)),
                                   model.predict(x, verbose=0), rtol=1e-4, atol=1e-4)
        assert [type(layer).__name__ for layer in k_model.layers[1].layers] == \
            ["RandomFlip", "RandomRotation"]


PREPROCESSING = [
    ("RandomFlip", {"mode": "vertical", "seed": 3}),
    ("RandomRotation", {"factor": (-0.2, 0.3), "fill_mode": "constant", "fill_value": 1.0}),
    ("RandomZoom", {"height_factor": 0.2, "width_factor": (-0.1, 0.3),
                    "interpolation": "nearest"}),
    ("RandomTranslation", {"height_factor": 0.1, "width_factor": 0.2, "fill_mode": "wrap"}),
    ("RandomContrast", {"factor": 0.3}), ("RandomBrightness", {"factor": (-0.2, 0.1)}),
    ("Resizing", {"height": 6, "width": 5, "crop_to_aspect_ratio": True}),
    ("CenterCrop", {"height": 5, "width": 6}),
]


@pytest.mark.parametrize("name, kwargs", PREPROCESSING)
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_models_holding_each_layer_save_and_open_both_ways(name, kwargs, data_format,
                                                           tmp_path):
    """Keras's files open in kconv and kconv's in Keras, with equal predictions (random
    layers are the identity there)."""
    kwargs = {**kwargs, "data_format": data_format}
    shape = (8, 9, 2) if data_format == "channels_last" else (2, 8, 9)

    def build(lib):
        lib.utils.set_random_seed(1)
        inputs = lib.Input(shape)
        x = getattr(lib.layers, name)(**kwargs)(inputs)
        x = lib.layers.Conv2D(3, 3, data_format=data_format)(x)
        return lib.Model(inputs, lib.layers.Dense(2)(lib.layers.Flatten()(x)))
    x = np.random.default_rng(4).random((4,) + shape).astype("float32") * 255
    k_model = build(keras)
    for ext in (".keras", ".h5"):
        path = str(tmp_path / f"keras{ext}")
        if ext == ".h5" and name == "RandomBrightness":
            with pytest.raises(TypeError):  # Keras 3.15 cannot write this one to .h5
                k_model.save(path)
            model = build(kconv)
            model.set_weights(k_model.get_weights())
        else:
            k_model.save(path)
            model = kconv.models.load_model(path)
        np.testing.assert_allclose(model.predict(x, verbose=0), to_numpy(
            k_model.predict(x, verbose=0)), rtol=1e-4, atol=1e-3)
        path = str(tmp_path / f"kconv{ext}")
        model.save(path)
        again = keras.models.load_model(path, compile=False)
        np.testing.assert_allclose(to_numpy(again.predict(x, verbose=0)),
                                   model.predict(x, verbose=0), rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("ext", [".keras"])  # Keras takes ~6 s to build each (.h5 alike)
def test_a_pipeline_saves_and_opens_both_ways_and_augments_in_training_only(ext, tmp_path):
    def build(lib):
        lib.utils.set_random_seed(2)
        inputs = lib.Input((8, 9, 3))
        x = lib.layers.Pipeline([lib.layers.RandomFlip("horizontal"),
                                 lib.layers.RandomRotation(0.1), lib.layers.Rescaling(0.5)])(
            inputs)
        return lib.Model(inputs, lib.layers.Dense(2)(lib.layers.Flatten()(x)))
    x = np.random.default_rng(5).random((4, 8, 9, 3)).astype("float32") * 255
    k_model = build(keras)
    path = str(tmp_path / f"keras{ext}")
    k_model.save(path)
    model = kconv.models.load_model(path)
    pipeline = model.layers[1]
    assert [type(layer).__name__ for layer in pipeline.layers] == [
        "RandomFlip", "RandomRotation", "Rescaling"]
    np.testing.assert_allclose(model.predict(x, verbose=0), to_numpy(
        k_model.predict(x, verbose=0)), rtol=1e-4, atol=1e-3)
    pipeline.train()
    assert not torch.equal(pipeline(torch.from_numpy(x)), torch.from_numpy(x) * 0.5)
    pipeline.eval()
    assert torch.equal(pipeline(torch.from_numpy(x)), torch.from_numpy(x) * 0.5)
    path = str(tmp_path / f"kconv{ext}")
    model.save(path)
    again = keras.models.load_model(path, compile=False)
    np.testing.assert_allclose(to_numpy(again.predict(x, verbose=0)),
                               model.predict(x, verbose=0), rtol=1e-4, atol=1e-3)
