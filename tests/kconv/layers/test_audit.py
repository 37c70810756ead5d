"""The boundary of kconv's layers, audited against ``keras.layers``: every class there is
either built by kconv (a default instance saved by Keras opens with Keras's outputs), or
outside the convolutional toolkit (refused with what it is); the lists below make that
boundary visible."""

import inspect
import re

import keras
import numpy as np
import pytest
import torch

import kconv
from kconv.models.deserialization import OUTSIDE_TOOLKIT, layer_from_config
from tests.keras_oracle import to_numpy

KERAS_LAYERS = sorted(name for name, cls in vars(keras.layers).items()
                      if inspect.isclass(cls) and issubclass(cls, keras.layers.Layer))
OUTSIDE = sorted(name for names in OUTSIDE_TOOLKIT.values() for name in names)
# The base classes (of layers, of layer wrappers), and the Input that every model has.
NOT_LAYERS = ("Layer", "Wrapper", "InputLayer")
BUILT = [name for name in KERAS_LAYERS if name not in OUTSIDE + list(NOT_LAYERS)]

# Arguments for the classes that have required ones, and inputs for those that need one.
ARGS = {"Activation": ("relu",), "Dense": (3,), "Dropout": (0.5,), "SpatialDropout1D": (0.5,),
        "SpatialDropout2D": (0.5,), "SpatialDropout3D": (0.5,), "GaussianNoise": (0.1,),
        "GaussianDropout": (0.1,), "AlphaDropout": (0.1,), "Rescaling": (1 / 255,),
        "Reshape": ((-1, 4),), "Permute": ((2, 1, 3),), "RepeatVector": (2,),
        "RandomRotation": (0.1,), "RandomZoom": (0.1,), "RandomTranslation": (0.1, 0.1),
        "RandomContrast": (0.1,), "RandomBrightness": (0.1,), "RandomCrop": (4, 4),
        "Resizing": (4, 5), "CenterCrop": (4, 4), "Dot": (-1,), "RandomPosterization": (4,),
        "RandomSharpness": (0.3,), "RandomColorDegeneration": (0.3,),
        "RandomSaturation": (0.3,), "RandomHue": (0.3,), "MaxNumBoundingBoxes": (5,)}
RGB_ONLY = ("RandomColorDegeneration", "RandomSaturation", "RandomHue", "RandomColorJitter",
            "RandomGrayscale", "RandAugment", "AugMix")
KWARGS = {"Normalization": {"mean": 0.5, "variance": 2.0}}
INPUTS = {1: (10, 32), 2: (8, 8, 32), 3: (6, 6, 6, 32)}
# Keras 3.15 cannot put these into a model (Equalization's symbolic call returns its input,
# a cycle): their saved configs are opened instead.
KERAS_CANNOT_BUILD = ("Equalization",)
MERGING = ("Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate", "Dot")


def _args(name):
    if name in ("TimeDistributed", "SpectralNormalization"):
        return (keras.layers.Dense(2),)
    if name == "Pipeline":
        return ([keras.layers.RandomFlip(), keras.layers.Rescaling(0.5)],)
    if name in ARGS:
        return ARGS[name]
    if "Conv" in name and "Depthwise" not in name:
        return (2, 3)
    if "Depthwise" in name:
        return (3,)
    if name.startswith(("Adaptive", "AveragePooling", "AvgPool")):
        return (2,)
    return ()


def _input_shape(name):
    if name == "RepeatVector":
        return (6,)
    if name in RGB_ONLY:
        return (8, 8, 3)
    rank = re.search(r"([123])D", name)
    return INPUTS[int(rank.group(1)) if rank else 2]


def test_every_keras_layer_class_is_accounted_for():
    assert set(OUTSIDE) <= set(KERAS_LAYERS)
    missing = [name for name in BUILT if not hasattr(kconv.layers, name)]
    assert not missing, f"in the toolkit and not built: {missing}"


@pytest.mark.parametrize("name", BUILT)
def test_a_default_instance_saved_by_keras_opens_in_kconv(name, tmp_path):
    keras.utils.set_random_seed(0)
    if name in KERAS_CANNOT_BUILD:
        k_layer = getattr(keras.layers, name)()
        layer = layer_from_config({"class_name": name, "config": k_layer.get_config()}, 0)
        x = np.random.default_rng(1).random((2, 8, 8, 3)).astype("float32") * 255
        np.testing.assert_allclose(layer(torch.from_numpy(x)).numpy(),
                                   to_numpy(k_layer(x, training=True)), atol=1e-4)
        return
    inputs = keras.Input(_input_shape(name))
    layer = getattr(keras.layers, name)(*_args(name), **KWARGS.get(name, {}))
    outputs = layer([inputs, inputs] if name in MERGING else inputs)
    k_model = keras.Model(inputs, outputs)
    path = str(tmp_path / "model.keras")
    k_model.save(path)
    model = kconv.models.load_model(path)
    assert type(model.layers[-1]).__name__ == type(layer).__name__  # aliases: the class
    x = np.random.default_rng(1).random((2,) + _input_shape(name)).astype("float32")
    expected = to_numpy(k_model.predict(x, verbose=0))
    if name == "RandomCrop":  # Keras 3.15 returns its input unchanged, not what it documents
        expected = keras.preprocessing.image.smart_resize(x, (4, 4))
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("name", OUTSIDE)
def test_layers_outside_the_toolkit_are_refused_naming_what_they_are(name):
    with pytest.raises(ValueError) as error:
        layer_from_config({"class_name": name, "config": {"name": "x"}}, 1)
    message = str(error.value)
    assert f"{name} is " in message and "outside kconv's convolutional toolkit" in message
    assert "\n" not in message


def test_a_keras_file_with_a_recurrent_layer_is_refused_in_one_line(tmp_path):
    inputs = keras.Input((5, 3))
    path = str(tmp_path / "lstm.keras")
    keras.Model(inputs, keras.layers.Dense(2)(keras.layers.LSTM(4, name="lstm")(inputs))
                ).save(path)
    with pytest.raises(ValueError, match=r"\(LSTM 'lstm'\): LSTM is a recurrent layer, "
                                         r"outside kconv's convolutional toolkit"):
        kconv.models.load_model(path)
