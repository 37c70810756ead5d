"""The layout pass: channels-first views passed between layers give exactly the values of
the layer-by-layer path (gradients up to the order in which autograd sums a tensor's
several uses), and views are taken only at the boundaries."""

import copy
import io

import pytest
import torch

import kconv
from kconv.layers import Layer
from kconv.models import layout
from tests.keras_oracle import GRAPHS

L = kconv.layers


def branchy():
    """Every kind of layer the pass knows, plus ones it must leave alone."""
    inputs = kconv.Input((9, 9, 3))
    x = L.Conv2D(8, 3, padding="same", activation="relu")(inputs)
    y = L.BatchNormalization()(L.Conv2D(8, 3, padding="same", strides=1)(x))
    x = L.Activation("relu")(L.Add()([x, y]))
    x = L.MaxPooling2D(2, padding="same")(x)
    a = L.AveragePooling2D(2, strides=1, padding="same")(x)
    b = L.Conv2D(8, 1, activation="softmax")(x)  # along the channels: not element-wise
    x = L.Concatenate()([L.Multiply()([a, b]), L.Maximum()([a, x])])
    x = L.Dropout(0.5)(x)  # left to run as written
    g = L.GlobalAveragePooling2D()(x)
    h = L.GlobalMaxPooling2D()(L.Conv2D(4, 3, strides=2)(x))
    flat = L.Flatten()(L.Conv2D(2, 1)(x))
    return kconv.Model(inputs, [L.Dense(3)(L.Concatenate()([g, h])), flat, x])


def values_and_grads(model, x, planned):
    model.zero_grad(set_to_none=True)
    x = x.clone().requires_grad_(True)
    if planned:
        outputs = model(x)
    else:
        handle = model.register_forward_pre_hook(lambda *_: None)  # forces the plain path
        outputs = model(x)
        handle.remove()
    outputs = outputs if isinstance(outputs, list) else [outputs]
    sum(o.sin().sum() for o in outputs).backward()
    grads = [p.grad for p in model.parameters()] + [x.grad]
    return [o.detach() for o in outputs], grads


@pytest.mark.parametrize("training", [False, True])
def test_the_plan_computes_exactly_what_the_layers_compute(training):
    torch.manual_seed(0)
    model = branchy().train(training)
    x = torch.randn(4, 9, 9, 3)
    torch.manual_seed(1)
    state = copy.deepcopy(model.state_dict())
    planned = values_and_grads(model, x, True)
    model.load_state_dict(state)  # BatchNormalization's statistics moved in training
    torch.manual_seed(1)
    plain = values_and_grads(model, x, False)
    for a, b in zip(planned[0], plain[0]):
        assert a.shape == b.shape and torch.equal(a, b)
    # float32 rounding of sums as large as the largest gradient (a bias before
    # BatchNormalization has a gradient of zero plus such rounding)
    scale = max(b.abs().max().item() for b in plain[1])
    for a, b in zip(planned[1], plain[1]):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6 * scale)
    assert planned[0][2].is_contiguous()  # an output in Keras's layout and memory


def test_views_are_taken_only_at_the_boundaries():
    steps, outputs, *_ = branchy()._plans[1]
    converts = [fn.__name__ for fn, *_ in steps if fn in (layout.to_channels_first,
                                                          layout.to_channels_last)]
    kinds = [type(getattr(fn, "__self__", fn)).__name__ for fn, *_ in steps]
    # The first Conv2D views the model's input itself. To channels-first: the softmax
    # Conv2D's output (for Multiply), the Dropout's (for the global pooling and the last
    # convolutions; one view for all three). Back: for the softmax Conv2D, the Dropout and
    # the Flatten; the model's outputs are channels_last already.
    assert converts == ["to_channels_last", "to_channels_first"] * 2 + ["to_channels_last"]
    assert kinds.count("Conv2D") == 5 and kinds.count("Dropout") == 1
    assert steps[0][0].__name__ == "call_planned_channels_first"


def test_a_hook_sees_keras_layout():
    model = branchy()
    seen = []
    model.get_layer(index=2).register_forward_hook(lambda m, i, o: seen.append(o.shape))
    model(torch.randn(2, 9, 9, 3))
    assert seen == [torch.Size([2, 9, 9, 8])]


@pytest.mark.parametrize("name", GRAPHS)
def test_every_test_graph_is_unchanged(name):
    from tests.keras_oracle import build_graph_pair

    _, model, xs = build_graph_pair(name)
    model.fold_batch_norm = False  # folding is tested in test_folding.py
    xs = [torch.from_numpy(x) for x in xs]
    xs = xs if len(xs) > 1 else xs[0]
    with torch.no_grad():
        ours = model(xs)
        handle = model.register_forward_hook(lambda *_: None)
        plain = model(xs)
        handle.remove()
    for a, b in zip(ours if isinstance(ours, list) else [ours],
                    plain if isinstance(plain, list) else [plain]):
        assert torch.equal(a, b)


def test_a_copy_runs_its_own_layers():
    model = branchy()
    twin = copy.deepcopy(model)
    with torch.no_grad():
        for p in twin.parameters():
            p.zero_()
    x = torch.randn(2, 9, 9, 3)
    assert not torch.equal(model.eval()(x)[0], twin.eval()(x)[0])
    steps, *_ = twin._plans[1]
    owners = {id(getattr(fn, "__self__", fn)) for fn, *_ in steps}
    assert owners.isdisjoint(id(m) for m in model.modules())


def test_a_sequential_passes_views_on_once_built():
    torch.manual_seed(0)
    model = kconv.Sequential([L.Conv2D(4, 3, padding="same", activation="relu"),
                              L.BatchNormalization(), L.MaxPooling2D(),
                              L.Conv2D(4, 3), L.Flatten(), L.Dense(2)])
    x = torch.randn(2, 8, 8, 3)
    first = model(x)  # built by this call: layer by layer
    steps, *_ = model._layout[1][False, False][0]  # every layer's, each checking its input
    assert sum(fn is layout.to_channels_first for fn, *_ in steps) == 1
    steps, *_ = model._layout[1][False, True][0]  # on an input of the built shape
    assert sum(fn is layout.to_channels_first for fn, *_ in steps) == 0  # a view of it
    assert torch.equal(model(x), first)
    model.add(L.Dense(3))
    assert model(x).shape == (2, 3) and model._layout[0] == model.layers


def test_a_sequential_of_any_image_size_checks_every_input():
    """Built for (None, None, 3), no input has its exact shape: the plan in which the layers
    check what they receive runs (regression: the built shape's Nones were not handled)."""
    model = kconv.Sequential([kconv.Input((None, None, 3)), L.Conv2D(4, 3, padding="same"),
                              L.BatchNormalization(), L.GlobalMaxPooling2D(), L.Dense(2)])
    for shape in ((2, 9, 7, 3), (1, 12, 12, 3)):
        x = torch.randn(shape)
        unplanned = x
        for layer in model.layers:
            unplanned = layer(unplanned)
        torch.testing.assert_close(model(x), unplanned)
    assert model._layout[3] is None


def test_a_chain_without_maps_keeps_the_plain_loop():
    model = kconv.Sequential([kconv.Input((5,)), L.Dense(4), L.Activation("relu")])
    model(torch.randn(2, 5))
    assert model._layout[0] == model.layers and model._layout[1][False, False][0] is None
    # On an input of the built shape the layers skip their checks (no views either way).
    steps = model._layout[1][False, True][0].steps
    assert [fn.__name__ for fn, *_ in steps] == ["call_planned", "call_planned"]


def test_padding_cropping_and_upsampling_pass_views_on():
    inputs = kconv.Input((7, 7, 2))
    x = L.Conv2D(3, 3, padding="same")(inputs)
    x = L.ZeroPadding2D(((0, 1), (2, 1)))(x)
    x = L.Cropping2D(((1, 0), (0, 2)))(L.Conv2D(3, 1)(x))
    x = L.UpSampling2D(2)(L.Conv2D(3, 1)(x))
    x = L.UpSampling2D((1, 2), interpolation="bilinear")(x)
    model = kconv.Model(inputs, L.Conv2D(2, 1)(x))
    kinds = [type(getattr(fn, "__self__", fn)).__name__ for fn, *_ in model._plans[1].steps
             if not isinstance(fn, torch.nn.Module)]
    assert {"ZeroPadding2D", "Cropping2D", "UpSampling2D"} <= set(kinds)
    x = torch.randn(2, 7, 7, 2)
    ours = model(x)
    handle = model.register_forward_hook(lambda *_: None)  # the layer-by-layer path
    assert torch.equal(ours, model(x))
    handle.remove()


def test_a_plan_releases_each_value_after_its_last_reader():
    model = branchy()
    planned = model._plans[1]
    released = [i for slots in planned.releases for i in slots]
    assert len(released) == len(set(released))  # once each
    assert set(released) | set(planned.outputs) == set(range(planned.count)) - {
        i for i in range(planned.count)
        if not any(i in (*ins, *outs) for _, ins, _, outs in planned.steps)}
    for index, slots in enumerate(planned.releases):
        for i in slots:  # read no later than where it is dropped
            assert not any(i in ins for _, ins, _, _ in planned.steps[index + 1:])
    values = layout.run(planned.steps, [torch.randn(2, 9, 9, 3)] + [None] * (planned.count - 1),
                        planned.releases)
    assert [i for i, v in enumerate(values) if v is not None] == sorted(planned.outputs)


def test_inner_layers_skip_their_checks_but_keep_penalties_and_own_forwards():
    """Past the model's input check, a layer in its own layout runs through call_planned
    (no module call); its activity penalty is still recorded, and a layer whose class
    overrides ``forward`` is still called through it."""
    calls = []

    class Traced(kconv.layers.Activation):
        def forward(self, x):
            calls.append(tuple(x.shape))
            return super().forward(x)

    inputs = kconv.Input((8,))
    hidden = kconv.layers.Dense(4, activity_regularizer="l2")(kconv.layers.Dense(6)(inputs))
    model = kconv.Model(inputs, Traced("relu")(hidden))
    calls.clear()  # the symbolic call
    kinds = [getattr(fn, "__name__", type(fn).__name__) for fn, *_ in model._plans[1].steps]
    assert kinds == ["call_planned", "call_planned", "Traced"]
    x = torch.randn(3, 8)
    y = model(x)
    assert calls == [(3, 4)]
    first, second = model.layers[1], model.layers[2]
    hidden = second.call(first.call(x))
    torch.testing.assert_close(y, torch.relu(hidden))
    (penalty,) = model.losses  # Keras's l2 (0.01) over the batch
    torch.testing.assert_close(penalty, 0.01 * hidden.square().sum() / 3)


def test_layers_reading_the_inputs_view_them_once_converted():
    """In a model's trusted plan, a layer that reads only the model's inputs runs on
    channels-first views of them, converted as calling it converts them."""
    inputs = [kconv.Input((6, 6, 2)), kconv.Input((6, 6, 2))]
    x = L.Conv2D(3, 3, padding="same")(L.Add()(inputs))
    y = L.Conv2D(3, 1, activation="relu")(inputs[0])
    model = kconv.Model(inputs, L.Concatenate()([x, y]))
    names = [getattr(fn, "__name__", "") for fn, *_ in model._plans[1].steps]
    assert names.count("call_planned_channels_first") == 2  # the Add and the second Conv2D
    a, b = torch.randn(2, 6, 6, 2), torch.randn(2, 6, 6, 2)
    single = kconv.Model(inputs[0], y)
    for net, xs in ((model, [a, b]), (single, a.double())):
        ours = net(xs)
        handle = net.register_forward_pre_hook(lambda *_: None)  # the layer-by-layer path
        plain = net(xs)
        handle.remove()
        assert ours.dtype == torch.float32 and torch.equal(ours, plain)
    with pytest.raises(TypeError, match="expects floating-point inputs; received torch.int64"):
        single(a.long())


def test_the_compiled_plan_runs_as_the_step_loop():
    """A plan runs as one generated function of its callables: the values of
    :func:`layout.run`'s loop, a layer with several outputs (a nested model) included, one
    function for every plan of the same structure, and a copy or a pickle of the model
    running its own layers."""
    torch.manual_seed(0)
    inner_in = kconv.Input((9, 9, 3))
    inner = kconv.Model(inner_in, [L.Conv2D(3, 1)(inner_in), L.Conv2D(3, 3, padding="same")(
        inner_in)])
    inputs = kconv.Input((9, 9, 3))
    a, b = inner(inputs)
    outer = kconv.Model(inputs, [L.Add()([a, b]), L.Flatten()(a)])
    for model in (branchy(), outer):
        model.eval()
        x = torch.randn(2, 9, 9, 3)
        planned = model._plans[1]
        assert planned.fns == tuple(fn for fn, *_ in planned.steps)
        values = layout.run(planned.steps, [x] + [None] * (planned.count - 1))
        expected = [values[i] for i in planned.outputs]
        with torch.no_grad():
            ours = layout.run_plan(planned, [x])
            assert all(torch.equal(a, b) for a, b in zip(ours, expected))
            assert type(model)(model.inputs, model.outputs)._plans[1].code is planned.code
            buffer = io.BytesIO()
            torch.save(model, buffer)
            buffer.seek(0)
            for twin in (copy.deepcopy(model), torch.load(buffer, weights_only=False)):
                owners = {id(getattr(fn, "__self__", fn)) for fn in twin._plans[1].fns}
                assert owners.isdisjoint(id(m) for m in model.modules())
                assert all(torch.equal(a, b) for a, b in zip(twin(x), model(x)))
    assert any(len(out_ids) == 2 for *_, out_ids in outer._plans[1].steps)


def test_an_error_inside_a_plan_shows_the_step():
    model = branchy()
    model.get_layer(index=2).weight.data = torch.randn(8, 5, 3, 3)  # a wrong kernel
    with pytest.raises(RuntimeError) as info:
        model(torch.randn(2, 9, 9, 3))
    frames = [f for f in info.traceback if str(f.path).startswith("<kconv plan")]
    assert frames and "= f1(v1)" in str(frames[0].statement)


@pytest.mark.parametrize("functional", [False, True])
def test_logits_run_the_layout_plan_as_the_forward_does(functional, monkeypatch):
    """``logits`` (what fit's loss takes for a softmax output) runs the same plan as the
    forward, less the output layer's activation: found slower than the forward by the
    views of every layer (#33, the MNIST CNN step below hand-written torch)."""
    layers = [L.Conv2D(4, 3, padding="same", activation="relu"), L.BatchNormalization(),
              L.MaxPooling2D(), L.Conv2D(4, 3), L.Flatten(), L.Dense(3, activation="softmax")]
    if functional:
        inputs = kconv.Input((8, 8, 3))
        x = inputs
        for layer in layers:
            x = layer(x)
        model = kconv.Model(inputs, x)
    else:
        model = kconv.Sequential([kconv.Input((8, 8, 3))] + layers)
    x = torch.randn(2, 8, 8, 3)
    expected = model(x)  # the plans are made
    calls = []
    forward = Layer.forward

    def counted(self, *args, **kwargs):
        if self is not model:
            calls.append(self)
        return forward(self, *args, **kwargs)
    monkeypatch.setattr(Layer, "forward", counted)
    model(x)
    in_forward, calls[:] = len(calls), []
    logits = model.logits(x)
    assert len(calls) == max(in_forward - 1, 0)  # the output layer's logits, not forward
    torch.testing.assert_close(torch.softmax(logits, -1), expected, rtol=0, atol=1e-7)
    monkeypatch.setattr(Layer, "forward", forward)
    # A float64 input is converted as the forward converts it, a pooling layer first too.
    pooled = kconv.Sequential([kconv.Input((8, 8, 3)), L.MaxPooling2D(), L.Conv2D(4, 3),
                               L.Flatten(), L.Dense(3, activation="softmax")])
    if functional:
        pooled = kconv.Model(pooled.inputs[0], pooled.outputs[0])
    x = torch.randn(2, 8, 8, 3, dtype=torch.float64)
    assert pooled.logits(x).dtype == torch.float32
    torch.testing.assert_close(torch.softmax(pooled.logits(x), -1), pooled(x))
