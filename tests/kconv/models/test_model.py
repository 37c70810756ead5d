"""Functional models against Keras: the same graph code run with `lib = keras` and
`lib = kconv` (Keras's spellings), weights copied, outputs, shapes, names and summaries
compared."""

import keras
import numpy as np
import pytest
import torch

import kconv
from kconv.layers import Conv2D, Dense, Flatten, Input
from tests.keras_oracle import (GRAPHS, assert_close, build_graph_pair, copy_model_from_keras,
                                lenet, residual, to_numpy)


@pytest.mark.parametrize("name", GRAPHS)
def test_graphs_compute_what_keras_computes(name):
    k_model, model, xs = build_graph_pair(name)
    theirs = k_model(xs if len(xs) > 1 else xs[0], training=False)
    theirs = theirs if isinstance(theirs, list) else [theirs]
    inputs = [torch.from_numpy(x) for x in xs] if len(xs) > 1 else torch.from_numpy(xs[0])
    for autograd in (True, False):  # without autograd, BatchNormalization is folded
        with torch.set_grad_enabled(autograd):
            ours = model(inputs)
        ours = ours if isinstance(ours, list) else [ours]
        assert len(ours) == len(theirs)
        for a, b in zip(ours, theirs):
            assert_close(a, to_numpy(b), atol=1e-5)


@pytest.mark.parametrize("name", GRAPHS)
def test_layers_shapes_and_counts_are_keras(name):
    k_model, model, _ = build_graph_pair(name)
    assert [(layer.name, type(layer).__name__) for layer in model.layers] == \
        [(layer.name, type(layer).__name__) for layer in k_model.layers]
    assert model.count_params() == k_model.count_params()
    assert [w.shape for w in model.get_weights()] == [w.shape for w in k_model.get_weights()]
    for ours, theirs in zip(model.outputs, k_model.outputs):
        assert ours.shape == tuple(theirs.shape)


def _keras_summary(k_model):
    lines = []
    k_model.summary(line_length=108, print_fn=lambda s, line_break=None: lines.append(s))
    return "\n".join(lines)


def _keras_connections(k_model):
    """Keras's "Connected to" cells, computed from its graph as its summary does."""
    nodes = [node for depth in k_model._nodes_by_depth.values() for node in depth]
    cells = {}
    for layer in k_model.layers:
        sources = [f"{t._keras_history.operation.name}[{t._keras_history.node_index}]"
                   f"[{t._keras_history.tensor_index}]"
                   for node in layer._inbound_nodes if node in nodes for t in node.input_tensors]
        cells[layer.name] = ", ".join(sources) or "-"
    return cells


@pytest.mark.parametrize("name", ["residual", "two_in_two_out"])
def test_summary_has_keras_connected_to_column(name, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # rich cuts Keras's table to the terminal's width
    k_model, model, _ = build_graph_pair(name)
    ours, theirs = model.summary(return_string=True), _keras_summary(k_model)
    assert "Connected to" in ours and "Connected to" in theirs
    expected = _keras_connections(k_model)
    assert {layer.name: kconv.summary.connections(layer, model._nodes)
            for layer in model.layers} == expected
    wide = " ".join(model.summary(return_string=True, line_length=300).split())
    for layer in model.layers:
        assert f"{layer.name} ({type(layer).__name__})" in wide and expected[layer.name] in wide
    footer = [line for line in theirs.splitlines() if line.startswith(" ")]
    assert [line for line in ours.splitlines() if line.startswith(" ")] == footer


def test_a_chain_prints_like_keras_without_connections():
    keras.backend.clear_session()
    k_model = lenet(keras)
    model = lenet(kconv)
    text = model.summary(return_string=True)
    assert "Connected to" not in text and "input_layer (InputLayer)" in text
    assert "Connected to" not in _keras_summary(k_model)


def test_the_articles_functional_lenet_has_kerass_parameter_count():
    assert lenet(kconv).count_params() == 155606


def test_shared_layers_share_weights_and_appear_once():
    inputs = Input((4,))
    dense = Dense(4, name="shared")
    model = kconv.Model(inputs, dense(dense(inputs)))
    assert [layer.name for layer in model.layers] == ["input_layer", "shared"]
    assert len(list(model.parameters())) == 2
    x = torch.rand(3, 4)
    assert torch.allclose(model(x), dense(dense(x)))


def test_inputs_and_outputs_as_dicts():
    a, b = Input((3,), name="a"), Input((3,), name="b")
    model = kconv.Model({"first": a, "second": b},
                        {"sum": kconv.layers.add([a, b]), "a": Dense(2)(a)})
    out = model({"second": torch.ones(2, 3), "first": torch.zeros(2, 3)})
    assert set(out) == {"sum", "a"} and torch.equal(out["sum"], torch.ones(2, 3))
    clone = kconv.models.clone_model(model)
    again = clone({"second": torch.ones(2, 3), "first": torch.zeros(2, 3)})
    assert set(again) == {"sum", "a"} and torch.equal(again["sum"], out["sum"])
    listed = kconv.Model([a, b], kconv.layers.add([a, b]))
    assert torch.equal(listed({"a": torch.ones(1, 3), "b": torch.ones(1, 3)}), 2 * torch.ones(1, 3))
    with pytest.raises(ValueError, match="Invalid value for argument `inputs`: expected a dict "
                                         r"with keys \['first', 'second'\]"):
        model({"first": torch.zeros(2, 3)})
    with pytest.raises(ValueError, match="expects 2 input"):
        listed(torch.zeros(1, 3))


def test_model_accessors():
    inputs = Input((5,), name="x")
    hidden = Dense(3, name="hidden")(inputs)
    model = kconv.Model(inputs=inputs, outputs=Dense(2, name="out")(hidden), name="m")
    assert model.name == "m" and model.input is inputs and model.inputs == [inputs]
    assert model.get_layer("hidden") is model.layers[1] and model.get_layer(index=-1).name == "out"
    with pytest.raises(ValueError, match="Invalid value for argument `name`: expected one of "
                                         r"\('x', 'hidden', 'out'\)"):
        model.get_layer("nope")
    with pytest.raises(ValueError, match="either a layer name or a layer index"):
        model.get_layer()
    assert kconv.Model(inputs, hidden).name == "functional"
    assert kconv.Model(inputs, hidden).name == "functional_1"


def test_graph_errors_are_clear():
    a, b = Input((3,)), Input((3,))
    with pytest.raises(ValueError, match="Graph disconnected: the model's outputs need input "
                                         r"'input_layer_1' \(None, 3\)"):
        kconv.Model(a, kconv.layers.add([a, b]))
    with pytest.raises(ValueError, match=r"layer names in model 'functional_1' should be "
                                         r"unique; found \['d'\]"):
        kconv.Model(a, Dense(2, name="d")(Dense(3, name="d")(a)))
    with pytest.raises(ValueError, match="expected tensors made by kconv.Input"):
        kconv.Model(Dense(2)(a), a)
    with pytest.raises(TypeError, match="Invalid type for argument `outputs`"):
        kconv.Model(a, torch.zeros(3))
    with pytest.raises(TypeError, match="not a mix"):
        kconv.layers.add([a, torch.zeros(1, 3)])


def test_losses_and_constraints_cover_every_layer():
    inputs = Input((4,))
    x = Dense(4, kernel_regularizer="l2", kernel_constraint="non_neg")(inputs)
    inner = kconv.Model(inputs, x)
    outer_in = Input((4,))
    model = kconv.Model(outer_in, Dense(1, bias_regularizer=kconv.regularizers.L1(1.0))(
        inner(outer_in)))
    assert len(model.losses) == 2
    optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
    kconv.attach_constraints(optimizer, model)
    model(torch.rand(2, 4)).sum().backward()
    optimizer.step()
    assert (inner.layers[1].weight >= 0).all()


def test_compile_and_export_see_one_graph():
    model = residual(kconv).eval()
    x = torch.rand(2, 16, 16, 3)
    expected = model(x)
    compiled = torch.compile(model, fullgraph=True, backend="aot_eager")
    assert torch.allclose(compiled(x), expected, atol=1e-6)
    exported = torch.export.export(model, (x,))
    assert torch.allclose(exported.module()(x), expected, atol=1e-6)


def test_subclassed_models_run_their_call():
    class TwoLayers(kconv.Model):
        def __init__(self):
            super().__init__()
            self.conv = Conv2D(4, 3)
            self.head = Dense(2)

        def call(self, x):
            return self.head(Flatten()(self.conv(x)))

    model = TwoLayers()
    assert model.name == "two_layers"
    assert model(torch.rand(3, 6, 6, 1)).shape == (3, 2)
    assert [type(layer).__name__ for layer in model.layers] == ["Conv2D", "Dense"]
    assert model.count_params() == 4 * 9 + 4 + 64 * 2 + 2
    assert isinstance(kconv.Sequential(), kconv.Model)
    with pytest.raises(ValueError, match="Layer 'two_layers' has 0 inbound nodes"):
        model.output


def test_logits_skip_the_final_softmax_and_the_engine_trains_graphs():
    model = lenet(kconv).eval()
    x = torch.rand(3, 28, 28, 1)
    assert torch.allclose(torch.softmax(model.logits(x), -1), model(x), atol=1e-6)
    with pytest.raises(ValueError, match="logits needs one output made by a layer that "
                                         "applies softmax or sigmoid; the model has 2 "
                                         "output"):
        build_graph_pair("two_in_two_out")[1].logits([torch.rand(1, 12, 12, 2),
                                                      torch.rand(1, 4)])
    lightning = pytest.importorskip("lightning")
    from kconv.datasets import ImageDataModule
    from kconv.trainers import ClassifierModule

    module = ClassifierModule(residual(kconv), optimizer="adam")  # 5 classes, fake has 4
    lightning.Trainer(max_epochs=1, logger=False, enable_checkpointing=False,
                      enable_progress_bar=False, enable_model_summary=False).fit(
        module, datamodule=ImageDataModule("fake", image_size=(16, 16), batch_size=64))
    assert module.test_report is None and 0 <= module.trainer.callback_metrics["val_acc"] <= 1


@pytest.mark.parametrize("shape", [(2, 65), (2, 4, 64), (2, 64, 5)])
def test_wrong_input_shapes_are_refused_by_the_model_as_keras(shape):
    """A functional model checks its inputs against its Input shapes, as Keras does (an
    inner layer's check would otherwise be the first to see them, or none would)."""
    k_in = keras.Input((64,))
    k_model = keras.Model(k_in, keras.layers.Dense(3)(keras.layers.Activation("relu")(k_in)))
    inputs = kconv.Input((64,))
    model = kconv.Model(inputs, kconv.layers.Dense(3)(kconv.layers.Activation("relu")(inputs)))
    with pytest.raises(ValueError) as expected:
        k_model(np.zeros(shape, "float32"))
    with pytest.raises(ValueError) as ours:
        model(torch.zeros(shape))
    if "incompatible with the layer" in str(expected.value):
        # Equal but for the model's name (numbered per session in both libraries).
        assert str(ours.value).split("is incompatible")[1] == \
            str(expected.value).split("is incompatible")[1]
    else:
        assert "Invalid input shape" in str(ours.value) and "(2, 64, 5)" in str(ours.value)


def test_a_trailing_axis_of_one_is_squeezed_or_added_as_keras():
    for k_shape, shape in (((64,), (2, 64, 1)), ((8, 8, 1), (2, 8, 8))):
        k_in = keras.Input(k_shape)
        k_model = keras.Model(k_in, keras.layers.Flatten()(k_in))
        inputs = kconv.Input(k_shape)
        model = kconv.Model(inputs, kconv.layers.Flatten()(inputs))
        x = np.random.default_rng(0).standard_normal(shape).astype("float32")
        np.testing.assert_allclose(model(torch.from_numpy(x)).numpy(),
                                   np.asarray(k_model(x).detach()))


def test_float64_inputs_take_the_models_dtype_as_keras():
    """Keras converts a model's inputs to their Input's dtype, so float64 data reaches a
    convolution after a layer without weights as float32, on every path kconv runs."""
    def net(lib):
        inputs = lib.Input((8, 8, 3))
        x = lib.layers.MaxPooling2D()(inputs)
        x = lib.layers.Conv2D(4, 3, padding="same")(x)
        return lib.Model(inputs, lib.layers.Add()([x, lib.layers.Conv2D(4, 1)(x)]))

    keras.utils.set_random_seed(0)
    k_model, model = net(keras), net(kconv)
    copy_model_from_keras(k_model, model)
    sequential = kconv.Sequential([kconv.Input((8, 8, 3)), kconv.layers.AveragePooling2D(2),
                                   kconv.layers.Conv2D(4, 3)])
    k_sequential = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.AveragePooling2D(2),
                                     keras.layers.Conv2D(4, 3)])
    copy_model_from_keras(k_sequential, sequential)
    x = np.random.default_rng(0).standard_normal((2, 8, 8, 3))  # float64
    for k_net, ours in ((k_model, model), (k_sequential, sequential)):
        expected = k_net(x)
        assert str(expected.dtype).endswith("float32")
        for hooked in (False, True):  # the planned path, then the layers called in turn
            handle = ours.register_forward_hook(lambda *_: None) if hooked else None
            y = ours(torch.from_numpy(x))
            assert y.dtype == torch.float32
            assert_close(y, to_numpy(expected))
            if handle is not None:
                handle.remove()
    model.double()  # a model cast by torch computes in its weights' dtype
    assert model(torch.from_numpy(x)).dtype == torch.float64
    assert model(torch.from_numpy(x).float()).dtype == torch.float64


def test_a_subclassed_calls_training_argument_is_the_models_mode():
    """Keras's subclassing idiom, ``def call(self, inputs, training=False)`` passing
    ``training`` on to Dropout: fit trains with the dropout, predict runs without it."""
    class Net(kconv.Model):
        def __init__(self):
            super().__init__()
            self.dense = kconv.layers.Dense(64)
            self.dropout = kconv.layers.Dropout(0.5)
            self.seen = []

        def call(self, inputs, training=False):
            self.seen.append(training)
            return self.dropout(self.dense(inputs), training=training)

    net = Net()
    x = np.ones((4, 3), "float32")
    net.compile("sgd", "mse")
    net.fit(x, np.zeros((4, 64), "float32"), epochs=1, batch_size=4, verbose=0)
    assert True in net.seen
    net.seen.clear()
    out = net.predict(x, verbose=0)
    assert net.seen and not any(net.seen)
    np.testing.assert_allclose(out, net.dense(torch.from_numpy(x)).detach().numpy(), rtol=1e-6)
