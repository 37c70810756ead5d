import json
import re
import zipfile

import keras
import numpy as np
import pytest
import torch

import kconv
import models
from kconv import saving
from kconv.models.deserialization import layer_from_config
from tests.keras_oracle import GRAPHS, build_graph_pair, keras_model_like, to_numpy

NETWORKS = [("stridednet", (40, 48, 3)), ("cifar_ex3", (32, 32, 3)), ("mnist_cnn", (28, 28, 1))]


def _shape(input_shape, data_format):
    h, w, c = input_shape
    return (h, w, c) if data_format == "channels_last" else (c, h, w)


def _trained_keras(name, input_shape, data_format):
    """The network built and briefly trained in Keras (so BN statistics move too)."""
    model = models.get_model(name, classes=3, input_shape=input_shape, data_format=data_format)
    k_model = keras_model_like(model)
    k_model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    rng = np.random.default_rng(15)
    x = rng.random((8,) + _shape(input_shape, data_format)).astype("float32")
    k_model.fit(x, rng.integers(0, 3, 8), epochs=2, batch_size=4, verbose=0)
    return k_model, x


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("name,input_shape", NETWORKS)
def test_keras_files_load_into_kconv(name, input_shape, data_format, tmp_path):
    k_model, x = _trained_keras(name, input_shape, data_format)
    expected = to_numpy(k_model(x, training=False))
    k_model.save_weights(tmp_path / "m.weights.h5")
    k_model.save(tmp_path / "m.keras")
    k_model.save(tmp_path / "m.h5")
    for file in ("m.weights.h5", "m.keras", "m.h5"):
        model = models.get_model(name, classes=3, input_shape=input_shape,
                                 data_format=data_format)
        model.load_weights(tmp_path / file)
        model.eval()
        np.testing.assert_allclose(model(torch.from_numpy(x)).detach().numpy(), expected,
                                   atol=1e-5, err_msg=file)
    loaded = saving.load_model(tmp_path / "m.keras").eval()
    np.testing.assert_allclose(loaded(torch.from_numpy(x)).detach().numpy(), expected,
                               atol=1e-5)
    assert loaded.count_params() == k_model.count_params()


def test_kconv_to_keras_to_kconv_round_trip(tmp_path):
    model = models.get_model("stridednet", classes=3, input_shape=(40, 40, 3)).eval()
    with torch.no_grad():
        for layer in model.layers:
            if isinstance(layer, kconv.layers.BatchNormalization):
                layer.running_mean.uniform_(-1, 1)
                layer.running_var.uniform_(0.5, 2)
    x = np.random.default_rng(16).random((2, 40, 40, 3)).astype("float32")
    model.save_weights(tmp_path / "k.weights.h5")
    k_model = keras_model_like(model)
    k_model.load_weights(tmp_path / "k.weights.h5")
    expected = model(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(to_numpy(k_model(x, training=False)), expected, atol=1e-5)
    k_model.save_weights(tmp_path / "back.weights.h5")
    clone = models.get_model("stridednet", classes=3, input_shape=(40, 40, 3)).eval()
    clone.load_weights(tmp_path / "back.weights.h5")
    for a, b in zip(model.state_dict().values(), clone.state_dict().values()):
        assert torch.equal(a, b)


def test_grouped_conv_weights(tmp_path):
    k_model = keras.Sequential([keras.Input((6, 6, 4)), keras.layers.Conv2D(6, 3, groups=2)])
    k_model.save_weights(tmp_path / "g.weights.h5")
    model = kconv.Sequential([kconv.Input((6, 6, 4)), kconv.layers.Conv2D(6, 3, groups=2)])
    model.load_weights(tmp_path / "g.weights.h5")
    x = np.random.default_rng(17).random((1, 6, 6, 4)).astype("float32")
    np.testing.assert_allclose(model(torch.from_numpy(x)).detach().numpy(),
                               to_numpy(k_model(x)), atol=1e-6)


# ----------------------------------------------------------------------------- bad files
def _mnist():
    return models.get_model("mnist_cnn")


def _keras_file(tmp_path, config=None, members=None):
    path = tmp_path / "bad.keras"
    k_model = keras_model_like(_mnist())
    k_model.save(tmp_path / "good.keras")
    with zipfile.ZipFile(tmp_path / "good.keras") as good, zipfile.ZipFile(path, "w") as bad:
        for name in good.namelist():
            data = good.read(name)
            if name == "config.json" and config is not None:
                data = json.dumps(config(json.loads(data))).encode()
            bad.writestr(name, data)
        for name, data in (members or {}).items():
            bad.writestr(name, data)
    return path


def _replace_layer(index, **changes):
    def edit(config):
        config["config"]["layers"][index].update(changes)
        return config
    return edit


def test_malformed_and_unsafe_files(tmp_path):
    garbage = tmp_path / "x.weights.h5"
    garbage.write_bytes(b"not hdf5 at all")
    with pytest.raises(ValueError, match="not a valid HDF5 file"):
        _mnist().load_weights(garbage)
    keras_model_like(_mnist()).save_weights(tmp_path / "ok.weights.h5")
    data = (tmp_path / "ok.weights.h5").read_bytes()
    (tmp_path / "cut.weights.h5").write_bytes(data[:len(data) // 2])
    with pytest.raises(ValueError, match="Cannot read .*cut.weights.h5"):
        _mnist().load_weights(tmp_path / "cut.weights.h5")
    (tmp_path / "cut.keras").write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(ValueError, match="not a valid .keras archive"):
        saving.load_model(tmp_path / "cut.keras")
    with pytest.raises(ValueError, match="points outside the archive"):
        saving.load_model(_keras_file(tmp_path, members={"../../evil.py": b"print(1)"}))
    lambda_layer = {"module": "keras.layers", "class_name": "Lambda", "registered_name": None,
                    "config": {"name": "f", "function": {"class_name": "__lambda__"}}}
    with pytest.raises(ValueError, match=r"layer 1 \(Lambda 'f'\): Lambda is a layer of arbitrary "
                       r"Python code, outside kconv's convolutional toolkit"):
        saving.load_model(_keras_file(tmp_path, lambda c: (
            c["config"]["layers"].insert(1, lambda_layer), c)[1]))
    custom_init = {"module": "my_package", "class_name": "MyInit", "config": {},
                   "registered_name": "Custom>MyInit"}
    with pytest.raises(ValueError, match="uses a custom object 'MyInit'"):
        saving.load_model(_keras_file(tmp_path, _replace_layer(1, config={
            **json.loads(zipfile.ZipFile(tmp_path / "good.keras").read("config.json"))
            ["config"]["layers"][1]["config"], "kernel_initializer": custom_init})))
    with pytest.raises(ValueError, match="kconv builds Sequential and functional models; the "
                                         "file holds a 'MyModel' model"):
        saving.load_model(_keras_file(tmp_path, lambda c: {**c, "class_name": "MyModel"}))
    with pytest.raises(ValueError, match="Cannot rebuild the graph: the config has no "
                                         "input_layers"):
        saving.load_model(_keras_file(tmp_path, lambda c: {**c, "class_name": "Functional"}))
    with pytest.raises(ValueError, match="Keras argument renorm=True is not supported"):
        config = keras.layers.BatchNormalization(renorm=True).get_config()
        layer_from_config({"class_name": "BatchNormalization", "config": config}, 3)


def test_architecture_mismatch_names_the_first_layer(tmp_path):
    keras_model_like(_mnist()).save_weights(tmp_path / "m.weights.h5")
    other = models.get_model("mnist_cnn", classes=5)
    with pytest.raises(ValueError) as info:
        other.load_weights(tmp_path / "m.weights.h5")
    assert re.match(r"Layer 'dense_\d+' \(Dense\) does not fit the weights of 'dense_1' in",
                    str(info.value))
    assert "expected shapes [(64, 5), (5,)], found [(64, 10), (10,)]" in str(info.value)
    lenet = models.get_model("lenet")
    with pytest.raises(ValueError, match=r"Layer 'max_pooling2d_\d+' \(MaxPooling2D\) has no "
                                         r"entry|does not fit"):
        lenet.load_weights(tmp_path / "m.weights.h5")
    keras_model_like(_mnist()).save(tmp_path / "m.h5")
    with pytest.raises(ValueError, match="holds weights for 5 layers, but model 'lenet' has 4"):
        lenet.load_weights(tmp_path / "m.h5")


def test_file_name_and_state_errors(tmp_path):
    with pytest.raises(ValueError, match="writes whole models.*save_weights"):
        _mnist().save(tmp_path / "m.weights.h5")  # (save_weights("m.h5"): test_legacy.py)
    with pytest.raises(FileNotFoundError, match="No such weights file"):
        _mnist().load_weights(tmp_path / "missing.weights.h5")
    (tmp_path / "m.pt").write_bytes(b"")
    with pytest.raises(ValueError, match="Unknown weights file type"):
        _mnist().load_weights(tmp_path / "m.pt")
    with pytest.raises(ValueError, match="is not built"):
        kconv.Sequential([kconv.layers.Dense(2)]).load_weights(tmp_path / "m.pt")
    with pytest.raises(ValueError, match="load_model reads .keras and whole-model .h5 files"):
        saving.load_model(tmp_path / "m.pt")


# ----------------------------------------------------------------------------- functional
def _outputs_equal(k_model, model, xs):
    theirs = k_model(xs if len(xs) > 1 else xs[0], training=False)
    ours = model([torch.from_numpy(x) for x in xs] if len(xs) > 1 else torch.from_numpy(xs[0]))
    theirs, ours = (theirs, ours) if isinstance(ours, list) else ([theirs], [ours])
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a.detach().numpy(), to_numpy(b), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name", GRAPHS)
@pytest.mark.parametrize("ext", [".keras", ".h5"])
def test_functional_files_saved_by_keras_open_with_kerass_outputs(name, ext, tmp_path):
    k_model, _, xs = build_graph_pair(name)
    path = tmp_path / f"model{ext}"
    k_model.save(path)
    model = kconv.models.load_model(path).eval()
    assert isinstance(model, kconv.Model) and type(model).__name__ == "Functional"
    assert [layer.name for layer in model.layers] == [layer.name for layer in k_model.layers]
    _outputs_equal(k_model, model, xs)


def _keras2_spelling(config):
    """A Keras 3 functional config in Keras 2.x's spelling: class 'Model',
    batch_input_shape, inbound nodes as [[layer, node, tensor, {}], ...]."""
    body = config["config"]
    for entry in body["layers"]:
        if entry["class_name"] == "BatchNormalization":
            entry["config"]["axis"] = [3]  # a built 4-D BatchNormalization in Keras 2
        if entry["class_name"] == "InputLayer":
            entry["config"]["batch_input_shape"] = entry["config"].pop("batch_shape")
            for key in ("optional", "ragged"):
                entry["config"].pop(key, None)
        nodes = []
        for node in entry["inbound_nodes"]:
            first = node["args"][0]
            items = first if isinstance(first, list) else [first]
            nodes.append([list(item["config"]["keras_history"]) + [{}] for item in items])
        entry["inbound_nodes"] = nodes
    return {"class_name": "Model", "config": body}


@pytest.mark.parametrize("name", ["two_in_two_out", "residual"])
def test_keras2_whole_model_files_open(name, tmp_path):
    import h5py

    k_model, _, xs = build_graph_pair(name)
    path = tmp_path / "keras2.h5"
    k_model.save(path)
    with h5py.File(path, "r+") as f:
        config = _keras2_spelling(json.loads(f.attrs["model_config"]))
        f.attrs["model_config"] = json.dumps(config)
    if name == "two_in_two_out":
        assert config["config"]["layers"][3]["inbound_nodes"] == [[["flatten", 0, 0, {}]]]
    _outputs_equal(k_model, kconv.models.load_model(path).eval(), xs)


def test_nested_weights_written_by_kconv_are_read_by_keras(tmp_path):
    k_model, model, xs = build_graph_pair("nested")
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(-1.5)
    model.save_weights(tmp_path / "nested.weights.h5")
    k_model.load_weights(tmp_path / "nested.weights.h5")
    _outputs_equal(k_model, model, xs)


def test_load_model_refuses_what_it_cannot_open(tmp_path):
    model = kconv.Sequential([kconv.Input((3,)), kconv.layers.Dense(2)])
    model.save_weights(tmp_path / "only.weights.h5")
    with pytest.raises(ValueError, match="load_model reads .keras and whole-model .h5 files"):
        kconv.models.load_model(tmp_path / "only.weights.h5")
    import h5py
    with h5py.File(tmp_path / "weights.h5", "w") as f:
        f.attrs["layer_names"] = [b"dense"]
    with pytest.raises(ValueError, match="holds weights only"):
        kconv.models.load_model(tmp_path / "weights.h5")


@pytest.mark.parametrize("name", list(GRAPHS) + ["stridednet"])
@pytest.mark.parametrize("ext", [".keras", ".h5"])
def test_models_saved_by_kconv_open_in_keras_with_equal_outputs(name, ext, tmp_path):
    if name == "stridednet":
        model = models.get_model("stridednet", classes=3, input_shape=(40, 40, 3)).eval()
        with torch.no_grad():
            for buffer in model.buffers():
                buffer.uniform_(0.5, 1.5)  # non-default BatchNormalization statistics
        xs = [np.random.default_rng(1).random((2, 40, 40, 3)).astype("float32")]
    else:
        _, model, xs = build_graph_pair(name)
    path = tmp_path / f"saved{ext}"
    model.save(path)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp-")]
    keras.backend.clear_session()
    _outputs_equal(keras.models.load_model(path), model, xs)
    again = kconv.models.load_model(path).eval()
    assert type(again) is type(model) and again.count_params() == model.count_params()
    _outputs_equal(keras.models.load_model(path), again, xs)


def test_save_refuses_what_keras_could_not_rebuild(tmp_path):
    class Custom(kconv.Model):
        def call(self, x):
            return x

    with pytest.raises(ValueError, match="Only Sequential and functional models can be saved"):
        Custom().save(tmp_path / "c.keras")
    model = kconv.Sequential([kconv.Input((3,)), kconv.layers.Dense(2)])
    with pytest.raises(ValueError, match="model.save writes whole models"):
        model.save(tmp_path / "m.weights.h5")
    with pytest.raises(ValueError, match="is not built"):
        kconv.Sequential([kconv.layers.Dense(2)]).save(tmp_path / "m.keras")


def test_clone_model_has_the_architecture_and_fresh_weights():
    _, model, xs = build_graph_pair("two_in_two_out")
    clone = kconv.models.clone_model(model)
    assert [layer.name for layer in clone.layers] == [layer.name for layer in model.layers]
    assert clone.count_params() == model.count_params()
    assert not all(np.array_equal(a, b) for a, b in zip(clone.get_weights(),
                                                         model.get_weights()))
    clone.set_weights(model.get_weights())
    clone.eval()
    ins = [torch.from_numpy(x) for x in xs]
    for a, b in zip(clone(ins), model(ins)):
        assert torch.allclose(a, b)


@pytest.mark.parametrize("ext", [".keras", ".h5"])
def test_conv1d_and_conv3d_networks_saved_by_keras_open(ext, tmp_path):
    L = keras.layers
    keras.utils.set_random_seed(4)
    for shape, body in (((20, 3), [L.Conv1D(4, 3, padding="causal", dilation_rate=2),
                                   L.Conv1D(6, 3, strides=2, padding="same", groups=2),
                                   L.Flatten(), L.Dense(2)]),
                        ((5, 6, 6, 2), [L.Conv3D(4, 2, padding="same", activation="relu"),
                                        L.Conv3D(3, (1, 3, 3), strides=(1, 2, 2)),
                                        L.Flatten(), L.Dense(2)])):
        k_model = keras.Sequential([keras.Input(shape)] + body)
        path = tmp_path / f"model{len(shape)}{ext}"
        k_model.save(path)
        model = kconv.models.load_model(path).eval()
        x = np.random.default_rng(1).standard_normal((2,) + shape).astype("float32")
        np.testing.assert_allclose(model(torch.from_numpy(x)).detach().numpy(),
                                   to_numpy(k_model(x)), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("ext", [".keras", ".h5"])
def test_a_functional_file_with_a_lambda_is_refused_in_one_line(ext, tmp_path):
    inputs = keras.Input((4,))
    x = keras.layers.Lambda(lambda t: t * 2, name="double")(keras.layers.Dense(3)(inputs))
    path = tmp_path / f"lambda{ext}"
    keras.Model(inputs, keras.layers.Dense(2)(x)).save(path)
    with pytest.raises(ValueError) as info:
        kconv.models.load_model(path)
    message = str(info.value)
    assert "\n" not in message and "Lambda 'double'" in message
    assert "Lambda is a layer of arbitrary Python code" in message


@pytest.mark.parametrize("ext", [".keras", ".h5"])
def test_a_mobilenet_like_block_saved_by_keras_opens(ext, tmp_path):
    L = keras.layers
    keras.utils.set_random_seed(5)
    inputs = keras.Input((12, 12, 3))
    x = L.ReLU(6.0)(L.BatchNormalization()(L.Conv2D(8, 3, strides=2, padding="same")(inputs)))
    y = L.DepthwiseConv2D(3, padding="same", depth_multiplier=2)(x)
    y = L.ZeroPadding2D(((0, 1), (0, 1)))(L.SeparableConv2D(8, 3, padding="same")(y))
    y = L.Cropping2D(((0, 1), (0, 1)))(y)
    out = L.Softmax()(L.Dense(4)(L.GlobalAveragePooling2D()(L.Add()([x, y]))))
    k_model = keras.Model(inputs, out)
    k_model.save(tmp_path / f"m{ext}")
    model = kconv.models.load_model(tmp_path / f"m{ext}").eval()
    x = np.random.default_rng(2).standard_normal((2, 12, 12, 3)).astype("float32")
    np.testing.assert_allclose(model(torch.from_numpy(x)).detach().numpy(),
                               to_numpy(k_model(x)), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("ext", [".keras", ".h5"])
def test_a_sequential_built_from_its_first_layers_input_shape_opens_again(ext, tmp_path):
    """Keras 2's way to build a Sequential (``input_shape=`` on the first layer, no Input):
    its file opens in kconv (built, with its weights) and in Keras. It did not: kconv's
    loader ignored the model's own build_config."""
    model = kconv.Sequential()
    model.add(kconv.layers.Conv2D(2, 3, input_shape=(8, 8, 3)))
    model.add(kconv.layers.Flatten())
    model.add(kconv.layers.Dense(1))
    path = str(tmp_path / f"m{ext}")
    model.save(path)
    x = np.random.default_rng(0).random((2, 8, 8, 3)).astype("float32")
    expected = model.predict(x, verbose=0)
    np.testing.assert_allclose(kconv.models.load_model(path).predict(x, verbose=0), expected)
    again = keras.models.load_model(path, compile=False)
    np.testing.assert_allclose(to_numpy(again.predict(x, verbose=0)), expected, rtol=1e-5)
