"""model.export: every registered network and a functional model with branches (and one
holding augmentation layers) to ONNX, run in ONNX Runtime with the model's outputs at two
batch sizes; torch.export's .pt2 likewise; Keras's other formats refused in one line; a
failed export leaves nothing."""

import os

import numpy as np
import onnx
import onnxruntime
import pytest
import torch

import kconv
import models
from kconv.export import DEFAULT_OPSET

L = kconv.layers
SMALL = {"stridednet": (64, 48, 3), "lenet": (28, 28, 1), "mnist_cnn": (28, 28, 1)}


def branchy():
    """Two inputs, a residual branch, concatenation, BatchNormalization with statistics
    that are not the identity, and two outputs."""
    image, extra = kconv.Input((12, 12, 3), name="image"), kconv.Input((5,), name="extra")
    x = L.Conv2D(8, 3, padding="same", activation="relu")(image)
    y = L.BatchNormalization()(L.Conv2D(8, 3, padding="same")(x))
    x = L.Add()([x, y])
    x = L.Concatenate()([L.MaxPooling2D()(x), L.AveragePooling2D(2)(x)])
    x = L.GlobalAveragePooling2D()(L.SeparableConv2D(6, 3, strides=2, padding="same")(x))
    x = L.Concatenate()([x, L.Dense(4, activation="tanh")(extra)])
    model = kconv.Model([image, extra], [L.Dense(3, activation="softmax", name="probs")(x),
                                         L.Dense(1, name="score")(x)])
    bn = next(layer for layer in model.layers if isinstance(layer, L.BatchNormalization))
    with torch.no_grad():
        bn.running_mean.uniform_(-0.5, 0.5)
        bn.running_var.uniform_(0.5, 2.0)
    return model


def onnx_outputs(path, inputs):
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    return session.run(None, {n: x.numpy() for n, x in zip(names, inputs)})


def expected(model, inputs):
    model.eval()
    with torch.no_grad():
        out = model(inputs[0] if len(inputs) == 1 else list(inputs))
    return [o.numpy() for o in (out if isinstance(out, (list, tuple)) else [out])]


@pytest.mark.parametrize("name", models.list_models())
def test_every_registered_network_exports_to_onnx(name, tmp_path, capsys):
    torch.manual_seed(0)
    model = models.get_model(name, classes=5, input_shape=SMALL.get(name, (32, 32, 3)))
    path = tmp_path / f"{name}.onnx"
    model.export(path, format="onnx")
    assert capsys.readouterr().out.strip() == (
        f"Saved '{model.name}' for inference to {path} (onnx, opset {DEFAULT_OPSET}, "
        "dynamic batch)")
    assert model.training  # its mode is given back
    for batch in (1, 5):  # the batch axis is dynamic
        x = torch.rand((batch,) + model.build_shape[1:])
        for ours, theirs in zip(onnx_outputs(path, [x]), expected(model, [x])):
            np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-5)
    proto = onnx.load(str(path))
    assert {o.domain: o.version for o in proto.opset_import}[""] == DEFAULT_OPSET
    assert {p.key: p.value for p in proto.metadata_props}["kconv_opset"] == str(DEFAULT_OPSET)


def test_a_functional_model_with_branches_exports_to_onnx_and_torch(tmp_path):
    torch.manual_seed(1)
    model = branchy()
    model.export(tmp_path / "m.onnx", format="onnx", verbose=False, opset_version=17)
    model.export(tmp_path / "m.pt2", format="torch", verbose=False)
    session = onnxruntime.InferenceSession(str(tmp_path / "m.onnx"))
    assert [i.name for i in session.get_inputs()] == ["image", "extra"]
    assert [o.name for o in session.get_outputs()] == ["probs", "score"]
    program = torch.export.load(str(tmp_path / "m.pt2"))
    for batch in (1, 3):
        inputs = [torch.rand(batch, 12, 12, 3), torch.rand(batch, 5)]
        want = expected(model, inputs)
        for ours, theirs in zip(onnx_outputs(tmp_path / "m.onnx", inputs), want):
            np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-5)
        for ours, theirs in zip(program.module()(*inputs), want):
            np.testing.assert_allclose(ours.detach().numpy(), theirs, rtol=1e-5, atol=1e-6)


def test_augmentation_layers_export_as_the_inference_graph(tmp_path):
    """keras.io's pattern: augmentation inside the model is the identity at inference, and
    the exported graph is that one (no random op)."""
    inputs = kconv.Input((16, 16, 3))
    x = L.RandomFlip("horizontal")(inputs)
    x = L.RandomRotation(0.2)(x)
    x = L.Rescaling(1 / 255)(x)
    x = L.Dropout(0.5)(L.GlobalAveragePooling2D()(L.Conv2D(4, 3)(x)))
    model = kconv.Model(inputs, L.Dense(2, activation="softmax")(x))
    model.export(tmp_path / "a.onnx", format="onnx", verbose=False)
    ops = {node.op_type for node in onnx.load(str(tmp_path / "a.onnx")).graph.node}
    assert not ops & {"RandomUniform", "RandomUniformLike", "RandomNormal", "Bernoulli",
                      "Dropout", "GridSample"}
    x = torch.rand(4, 16, 16, 3) * 255
    np.testing.assert_allclose(onnx_outputs(tmp_path / "a.onnx", [x])[0],
                               expected(model, [x])[0], rtol=1e-4, atol=1e-6)


def test_variable_image_sizes_stay_dynamic(tmp_path):
    model = kconv.Sequential([kconv.Input((None, None, 3)), L.Conv2D(4, 3, padding="same"),
                              L.GlobalMaxPooling2D(), L.Dense(2)])
    model.export(tmp_path / "v.onnx", format="onnx", verbose=False)
    for shape in ((1, 20, 24, 3), (3, 9, 9, 3)):
        x = torch.rand(shape)
        np.testing.assert_allclose(onnx_outputs(tmp_path / "v.onnx", [x])[0],
                                   expected(model, [x])[0], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("kwargs, message", [
    (dict(format="tf_saved_model"), "format='tf_saved_model' is not supported by kconv: a "
     "TensorFlow SavedModel needs TensorFlow, which kconv does not use: export "
     "format='onnx'"),
    (dict(), "format='tf_saved_model' is not supported"),  # Keras's default
    (dict(format="openvino"), "format='openvino' is not supported by kconv: export "
     "format='onnx': OpenVINO reads ONNX files directly"),
    (dict(format="onnnx"), "Invalid value for argument `format`: expected one of ('onnx', "
     "'torch'). Received: format='onnnx'"),
    (dict(format="torch", opset_version=17), "Invalid value for argument `opset_version`"),
])
def test_bad_formats_are_one_line(kwargs, message, tmp_path):
    model = kconv.Sequential([kconv.Input((4,)), L.Dense(2)])
    with pytest.raises(ValueError) as error:
        model.export(tmp_path / "m.onnx", **kwargs)
    assert str(error.value).startswith(message) and "\n" not in str(error.value)
    assert os.listdir(tmp_path) == []


def test_unwritable_places_and_failures_leave_nothing(tmp_path, monkeypatch):
    model = kconv.Sequential([kconv.Input((4,)), L.Dense(2)])
    with pytest.raises(ValueError, match="filepath"):
        model.export(tmp_path / "missing" / "m.onnx", format="onnx")
    with pytest.raises(ValueError, match="filepath"):
        model.export(tmp_path, format="onnx")  # a folder
    (tmp_path / "m.onnx").write_bytes(b"the previous export")

    def broken(*args, **kwargs):
        raise RuntimeError("the exporter failed half-way")
    monkeypatch.setattr(torch.onnx, "export", broken)
    with pytest.raises(RuntimeError, match="half-way"):
        model.export(tmp_path / "m.onnx", format="onnx")
    assert os.listdir(tmp_path) == ["m.onnx"]  # no partial file beside it
    assert (tmp_path / "m.onnx").read_bytes() == b"the previous export"
    unbuilt = kconv.Sequential([L.Dense(2)])
    with pytest.raises(ValueError, match="built model"):
        unbuilt.export(tmp_path / "u.onnx", format="onnx")
