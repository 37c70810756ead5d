"""Helpers to run the same layer in Keras (the oracle) and in kconv."""

import re

import keras
import numpy as np
import torch

import kconv


def to_numpy(x):
    return keras.ops.convert_to_numpy(x)


def copy_from_keras(keras_layer, kconv_layer):
    """Copy a built Keras layer's weights (Keras order and layout) into a kconv layer."""
    kconv_layer.set_weights([to_numpy(variable) for variable in keras_layer.weights])


def copy_model_from_keras(keras_model, kconv_model):
    for k_layer, layer in zip(keras_model.layers, kconv_model.layers):
        copy_from_keras(k_layer, layer)


def keras_call(keras_layer, x, training=False):
    return to_numpy(keras_layer(keras.ops.convert_to_tensor(np.asarray(x)), training=training))


def assert_close(actual, expected, atol=1e-5, rtol=1e-5):
    actual = actual.detach().cpu().numpy() if isinstance(actual, torch.Tensor) else actual
    np.testing.assert_allclose(actual, expected, atol=atol, rtol=rtol)


def assert_config_round_trip(layer):
    """``layer``'s config opens in Keras with the same config, and Keras's config opens in
    kconv with it again (tuples compared as Keras's lists; Keras's dtype policy aside)."""
    from kconv.models.deserialization import layer_from_config
    name = type(layer).__name__
    k_layer = keras.layers.deserialize({"module": "keras.layers", "class_name": name,
                                        "config": layer.get_config()})

    def plain(config):
        return {k: list(v) if isinstance(v, tuple) else v for k, v in config.items()
                if k != "dtype"}
    assert plain(k_layer.get_config()) == plain(layer.get_config())
    again = layer_from_config({"class_name": name, "config": k_layer.get_config()}, 0)
    assert plain(again.get_config()) == plain(layer.get_config())


def keras_model_like(model):
    """The same Sequential built in Keras from each kconv layer's Keras config."""
    layers = [keras.layers.deserialize({"module": "keras.layers",
                                        "class_name": type(layer).__name__,
                                        "config": layer.get_config()})
              for layer in model.layers]
    return keras.Sequential([keras.Input(model.build_shape[1:])] + layers)


def mnist_cnn(lib):
    """The MNIST CNN's layers from ``lib`` (keras or kconv)."""
    L = lib.layers
    return [L.Conv2D(32, 3, activation="relu"), L.MaxPooling2D(2),
            L.Conv2D(64, 3, activation="relu"), L.MaxPooling2D(2),
            L.Conv2D(64, 3, activation="relu"), L.Flatten(),
            L.Dense(64, activation="relu"), L.Dense(10, activation="softmax")]


def strided_block(lib):
    """A StridedNet-like stack using every layer type, from ``lib``."""
    L = lib.layers
    return [L.Conv2D(16, 7, strides=2), L.Conv2D(32, 3, padding="same"), L.Activation("relu"),
            L.BatchNormalization(), L.Conv2D(32, 3, strides=2, padding="same"),
            L.Dropout(0.25), L.AveragePooling2D(2), L.GlobalAveragePooling2D(),
            L.Dense(5, activation="softmax")]


def build_both(factory, shape):
    """The same Sequential built in Keras and in kconv from ``factory(library)``."""
    keras.backend.clear_session()
    kconv.clear_session()
    k_model = keras.Sequential([keras.Input(shape)] + factory(keras))
    model = kconv.Sequential([kconv.Input(shape)] + factory(kconv))
    return k_model, model


# ----------------------------------------------------------------------------- graphs
# Functional graphs written once in Keras's spellings and built with `lib = keras` or kconv.
def residual(lib):
    L = lib.layers
    inputs = lib.Input((16, 16, 3))
    x = L.Conv2D(8, 3, padding="same", activation="relu")(inputs)
    y = L.Conv2D(8, 3, padding="same")(x)
    y = L.BatchNormalization(momentum=0.9, epsilon=1e-2)(y)
    x = L.Activation("relu")(L.Add()([x, y]))
    x = L.MaxPooling2D()(x)
    a = L.Conv2D(4, 1)(x)
    b = L.Conv2D(6, 3, padding="same", strides=2)(x)
    b = L.Conv2D(4, 1, activation="relu")(L.MaxPooling2D(1, strides=1)(b))
    x = L.Concatenate()([L.GlobalAveragePooling2D()(a), L.GlobalMaxPooling2D()(b)])
    return lib.Model(inputs, L.Dense(5, activation="softmax")(x))


def two_in_two_out(lib):
    L = lib.layers
    image, side = lib.Input((12, 12, 2), name="image"), lib.Input((4,), name="side")
    shared = L.Dense(6, activation="tanh")
    x = L.Flatten()(L.Conv2D(3, 3)(image))
    h = L.Concatenate()([shared(L.Dense(4)(x)), shared(side)])
    out1 = L.Dense(3, activation="softmax", name="label")(h)
    out2 = L.Dense(1, name="score")(L.Subtract()([shared(side), L.Dense(6)(x)]))
    return lib.Model(inputs=[image, side], outputs=[out1, out2])


def channels_first_inside(lib):
    L = lib.layers
    inputs = lib.Input((3, 10, 10))
    x = L.Conv2D(4, 3, data_format="channels_first", padding="same")(inputs)
    x = L.BatchNormalization(axis=1)(x)
    x = L.AveragePooling2D(2, data_format="channels_first", padding="same")(x)
    x = L.Multiply()([x, L.Conv2D(4, 1, data_format="channels_first")(x)])
    return lib.Model(inputs, L.Dense(2)(L.Flatten(data_format="channels_first")(x)))


def nested(lib):
    L = lib.layers
    block = lib.Sequential([lib.Input((8,)), L.Dense(8, activation="relu"), L.Dense(8)],
                           name="block")
    inner_in = lib.Input((8,))
    inner = lib.Model(inner_in, L.Maximum()([block(inner_in), inner_in]), name="inner")
    inputs = lib.Input((8,))
    return lib.Model(inputs, L.Dense(2)(inner(inner(inputs))), name="outer")


def arithmetic(lib):
    """keras.ops calls and KerasTensor operators (MobileNetV3's hard-sigmoid among them)."""
    L = lib.layers
    inputs = lib.Input((6, 6, 2))
    x = L.Conv2D(4, 3, padding="same")(inputs)
    h = L.ReLU(6.0)(x + 3.0) * (1.0 / 6.0)
    y = lib.ops.maximum(x, 0.5) - 2.0 * h + x / 4.0
    z = 1.0 / (lib.ops.minimum(h, x) ** 2 + 1.0)
    w = lib.ops.subtract(1, lib.ops.power(2.0, -h))
    out = L.Dense(3)(L.Flatten()(lib.ops.multiply(y, z) - x * w))
    return lib.Model(inputs, lib.ops.divide(out, 3))


GRAPHS = {"residual": (residual, [(2, 16, 16, 3)]),
          "arithmetic": (arithmetic, [(2, 6, 6, 2)]),
          "two_in_two_out": (two_in_two_out, [(2, 12, 12, 2), (2, 4)]),
          "channels_first": (channels_first_inside, [(2, 3, 10, 10)]),
          "nested": (nested, [(2, 8)])}


def build_graph_pair(name):
    """The graph ``name`` built in Keras and in kconv with the same random weights (positive
    moving variances), and random inputs for it."""
    factory, shapes = GRAPHS[name]
    keras.backend.clear_session()
    kconv.clear_session()
    k_model, model = factory(keras), factory(kconv)
    rng = np.random.default_rng(0)
    weights = [rng.standard_normal(w.shape).astype("float32") * 0.5 for w in k_model.get_weights()]
    for i, w in enumerate(k_model.weights):  # positive moving variances
        if "variance" in w.path:
            weights[i] = np.abs(weights[i]) + 0.5
    k_model.set_weights(weights)
    model.set_weights(weights)
    xs = [rng.standard_normal(s).astype("float32") for s in shapes]
    return k_model, model.eval(), xs


def lenet(lib):
    """The Conv2D article's functional LeNet, in Keras's spellings."""
    L = lib.layers
    inputs = lib.Input(shape=(28, 28, 1))
    x = L.Conv2D(32, (5, 5), strides=(1, 1), activation="relu")(inputs)
    x = L.MaxPooling2D(pool_size=(2, 2), strides=(2, 2))(x)
    x = L.Conv2D(64, (5, 5), activation="relu")(x)
    x = L.MaxPooling2D(pool_size=(2, 2))(x)
    x = L.Flatten()(x)
    x = L.Dense(100, activation="relu")(x)
    out = L.Dense(10, activation="softmax")(x)
    return lib.Model(inputs=inputs, outputs=out)


# ----------------------------------------------------------------------------- scripts
def port(source):
    """The mechanical rewrite of a Keras script's import lines (and nothing else)."""
    rules = [(r"^from tensorflow import keras$", "import kconv as keras"),
             (r"^import keras$", "import kconv as keras"),
             (r"^from (tensorflow\.)?keras(\.| )", r"from kconv\2"),
             (r"^from tensorflow import data as ", "from kconv import data as ")]
    lines = []
    for line in source.splitlines():
        for pattern, replacement in rules:
            line = re.sub(pattern, replacement, line)
        lines.append(line)
    return "\n".join(lines)


def for_keras3(source):
    """The same script for Keras 3 itself: ``tensorflow.keras`` is Keras 3's tf.keras
    namespace (which still holds ImageDataGenerator)."""
    return (source.replace("from tensorflow import keras", "import keras")
            .replace("tensorflow.keras", "keras._tf_keras.keras"))
