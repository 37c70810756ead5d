"""Keras's public module tree: a Keras script ports by rewriting its import lines only."""

import textwrap

import keras
import numpy as np
import pytest
import torch

import kconv
from tests.keras_oracle import port

KERAS_NAMES = [
    "layers.Conv2D", "layers.Dense", "layers.Input", "layers.InputLayer", "layers.Add",
    "layers.concatenate", "layers.BatchNormalization", "layers.MaxPooling2D",
    "models.Sequential", "models.Model", "models.load_model", "models.clone_model",
    "Model", "Sequential", "Input", "optimizers.Adam", "optimizers.RMSprop", "optimizers.SGD",
    "regularizers.l2", "regularizers.L1L2", "initializers.HeNormal", "constraints.MaxNorm",
    "activations.relu", "activations.softmax", "backend.image_data_format",
    "backend.set_image_data_format", "backend.epsilon", "backend.clear_session",
    "utils.to_categorical", "utils.set_random_seed", "utils.plot_model",
    "datasets.mnist.load_data", "datasets.cifar10.load_data",
    "datasets.fashion_mnist.load_data", "datasets.cifar100.load_data",
    "losses.CategoricalCrossentropy", "losses.sparse_categorical_crossentropy", "losses.get",
    "metrics.SparseCategoricalAccuracy", "metrics.Precision", "metrics.get",
    "callbacks.Callback", "callbacks.EarlyStopping", "callbacks.ModelCheckpoint",
    "callbacks.ReduceLROnPlateau", "callbacks.History", "callbacks.CSVLogger",
    "preprocessing.image.load_img", "preprocessing.image.img_to_array",
]
KERAS2_PATHS = {"layers.core": ["Dense", "Dropout", "Activation", "Flatten", "Input"],
                "layers.convolutional": ["Conv2D", "Convolution2D", "MaxPooling2D"],
                "layers.pooling": ["MaxPooling2D", "AveragePooling2D", "GlobalAveragePooling2D"],
                "layers.normalization": ["BatchNormalization"],
                "layers.merge": ["Add", "Concatenate", "add", "concatenate"],
                "layers.advanced_activations": ["LeakyReLU", "PReLU", "ELU"]}


def _resolve(root, dotted):
    for part in dotted.split("."):
        root = getattr(root, part)
    return root


@pytest.mark.parametrize("name", KERAS_NAMES)
def test_kerass_public_names_exist(name):
    assert callable(_resolve(keras, name)) and callable(_resolve(kconv, name))


@pytest.mark.parametrize("module", KERAS2_PATHS)
def test_keras2_import_paths_exist(module):
    imported = __import__(f"kconv.{module}", fromlist=KERAS2_PATHS[module])
    for name in KERAS2_PATHS[module]:
        assert getattr(imported, name) is getattr(kconv.layers, name)


SCRIPT = textwrap.dedent('''
    import numpy as np
    from tensorflow import keras
    from tensorflow.keras import backend as K
    from tensorflow.keras.layers import (Input, Conv2D, MaxPooling2D, Flatten, Dense, Dropout,
                                         BatchNormalization, Activation, concatenate)
    from tensorflow.keras.models import Model, Sequential
    from tensorflow.keras.regularizers import l2
    from tensorflow.keras.utils import to_categorical

    keras.utils.set_random_seed(7)
    labels = to_categorical(np.array([[0], [3], [1]]), num_classes=4)
    chan_dim = -1 if K.image_data_format() == "channels_last" else 1

    inputs = Input(shape=(28, 28, 1))
    x = Conv2D(32, (5, 5), strides=(1, 1), activation="relu")(inputs)
    x = MaxPooling2D(pool_size=(2, 2), strides=(2, 2))(x)
    x = Conv2D(64, (5, 5), activation="relu")(x)
    x = MaxPooling2D(pool_size=(2, 2))(x)
    x = Flatten()(x)
    x = Dense(100, activation="relu")(x)
    out = Dense(10, activation="softmax")(x)
    lenet = Model(inputs=inputs, outputs=out)

    left = Input((16, 16, 3))
    a = Conv2D(8, 3, padding="same", kernel_initializer="he_normal",
               kernel_regularizer=l2(0.0005))(left)
    a = BatchNormalization(axis=chan_dim)(Activation("relu")(a))
    b = Conv2D(8, 1, strides=2, padding="same")(left)
    merged = concatenate([MaxPooling2D()(a), b])
    branchy = Model(left, Dense(3, activation="softmax")(Flatten()(Dropout(0.25)(merged))))

    strided = Sequential([Input((32, 32, 3)),
                          Conv2D(16, (7, 7), strides=(2, 2), padding="valid",
                                 kernel_initializer="he_normal", kernel_regularizer=l2(5e-4)),
                          Activation("relu"), BatchNormalization(axis=chan_dim),
                          Flatten(), Dense(4), Activation("softmax")])
    result = {
        "labels": labels, "chan_dim": chan_dim,
        "params": [m.count_params() for m in (lenet, branchy, strided)],
        "shapes": [tuple(m.outputs[0].shape) for m in (lenet, branchy, strided)],
        "names": [[layer.name for layer in m.layers] for m in (lenet, branchy, strided)],
        "losses": [len(m.losses) for m in (lenet, branchy, strided)],
        "models": (lenet, branchy, strided),
    }
''')


def _run(source):
    namespace = {}
    exec(compile(source, "<tutorial>", "exec"), namespace)
    return namespace["result"]


def test_a_keras_script_runs_with_its_imports_rewritten():
    ported = port(SCRIPT)
    assert "import kconv as keras" in ported and "from kconv.layers import (" in ported
    changed = [(a, b) for a, b in zip(SCRIPT.splitlines(), ported.splitlines()) if a != b]
    assert len(ported.splitlines()) == len(SCRIPT.splitlines()) and len(changed) == 6
    assert all(a.startswith(("from ", "import ")) for a, _ in changed)
    keras.backend.clear_session()
    theirs = _run(SCRIPT.replace("from tensorflow import keras", "import keras")
                  .replace("tensorflow.keras", "keras"))
    kconv.clear_session()
    ours = _run(ported)
    np.testing.assert_array_equal(ours["labels"], theirs["labels"])
    assert ours["params"] == theirs["params"] and ours["params"][0] == 155606
    for key in ("chan_dim", "shapes", "names", "losses"):
        assert ours[key] == theirs[key], key
    for k_model, model in zip(theirs["models"], ours["models"]):
        model.set_weights(k_model.get_weights())
        model.eval()
        x = np.random.default_rng(0).random((2,) + tuple(k_model.inputs[0].shape[1:]))
        x = x.astype("float32")
        expected = keras.ops.convert_to_numpy(k_model(x, training=False))
        np.testing.assert_allclose(model(torch.from_numpy(x)).detach().numpy(), expected,
                                   atol=1e-5)


def test_utilities_behave_as_kerass():
    for labels in ([0, 2, 1], np.array([[1], [0]]), np.array([[0, 1], [2, 0]])):
        np.testing.assert_array_equal(kconv.utils.to_categorical(labels),
                                      keras.utils.to_categorical(labels))
    assert kconv.utils.to_categorical([1], num_classes=3).dtype == \
        keras.utils.to_categorical([1], num_classes=3).dtype
    onehot = kconv.utils.to_categorical(torch.tensor([[2], [0]]), num_classes=3)
    assert onehot.dtype == torch.float32 and onehot.tolist() == [[0, 0, 1], [1, 0, 0]]
    kconv.utils.set_random_seed(3)
    first = (np.random.rand(), torch.rand(1))
    kconv.utils.set_random_seed(3)
    assert first == (np.random.rand(), torch.rand(1))
    with pytest.raises(ImportError, match=r"plot_model needs pydot and Graphviz.*summary\(\)"):
        kconv.utils.plot_model(kconv.Sequential(name="m"))
    kconv.backend.set_image_data_format("channels_first")
    assert kconv.layers.Conv2D(1, 1).data_format == "channels_first"
    kconv.backend.set_image_data_format(None)
    assert kconv.backend.epsilon() == keras.backend.epsilon()
