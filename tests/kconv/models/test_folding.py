"""Inference folding: a convolution and the BatchNormalization after it run as one
convolution without autograd, with the unfolded outputs to float32 rounding; everything
that could observe the difference keeps the two layers."""

import copy
import io

import pytest
import torch

import kconv
from kconv.models.folding import FoldedStep

L = kconv.layers


def randomize(model, seed=0):
    """Moving statistics, scales and offsets that are not the identity."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for layer in model.modules():
            if isinstance(layer, L.BatchNormalization):
                layer.running_mean.copy_(torch.randn(layer.running_mean.shape, generator=g))
                layer.running_var.copy_(torch.rand(layer.running_var.shape, generator=g) + 0.3)
                for p in (layer.weight, layer.bias):
                    if p is not None:
                        p.copy_(torch.randn(p.shape, generator=g))
    return model.eval()


def folded_steps(model, plan=None):
    steps = (plan or model._plans[2])[0]
    return [step for step, *_ in steps if isinstance(step, FoldedStep)]


def assert_folds_to_the_same(model, x, count):
    unfolded = model(x)  # autograd on: the layers as written
    with torch.no_grad():
        folded = model(x)
    for a, b in zip(*(v if isinstance(v, list) else [v] for v in (folded, unfolded))):
        torch.testing.assert_close(a, b.detach(), rtol=1e-5, atol=1e-5)
    steps = folded_steps(model) if not isinstance(model, kconv.Sequential) else \
        folded_steps(model, model._layout[1][False, True][1])
    assert len(steps) == count
    assert all(step._key is not None for step in steps)  # each ran folded


def every_convolution():
    inputs = kconv.Input((12, 12, 3))
    x = L.BatchNormalization()(L.Conv2D(8, 3, padding="same")(inputs))  # reads the input
    x = L.ReLU()(x)
    x = L.BatchNormalization(scale=False)(L.SeparableConv2D(6, 3, strides=2, padding="same",
                                                            use_bias=False)(x))
    x = L.BatchNormalization(center=False)(L.DepthwiseConv2D(3, depth_multiplier=2)(x))
    x = L.BatchNormalization(epsilon=0.5)(L.Conv2D(4, 2, dilation_rate=2, groups=2)(x))
    return kconv.Model(inputs, [x, L.GlobalAveragePooling2D()(x)])


def test_every_convolution_folds_with_the_unfolded_outputs():
    assert_folds_to_the_same(randomize(every_convolution()), torch.randn(3, 12, 12, 3), 4)


def test_ranks_and_channels_first_fold():
    model = kconv.Sequential([kconv.Input((20, 4)), L.Conv1D(5, 3, padding="causal"),
                              L.BatchNormalization(), L.Conv1D(3, 1), L.BatchNormalization(),
                              L.Flatten()])
    assert_folds_to_the_same(randomize(model), torch.randn(2, 20, 4), 2)
    model = kconv.Sequential([kconv.Input((6, 6, 6, 2)),
                              L.Conv3D(3, 3, strides=2, padding="same"),
                              L.BatchNormalization()])
    assert_folds_to_the_same(randomize(model), torch.randn(2, 6, 6, 6, 2), 1)
    inputs = kconv.Input((3, 9, 9))
    x = L.Conv2D(4, 3, data_format="channels_first", padding="same")(inputs)
    model = kconv.Model(inputs, L.Flatten()(L.BatchNormalization(axis=1)(x)))
    assert_folds_to_the_same(randomize(model), torch.randn(2, 3, 9, 9), 1)


def test_float64_and_inference_mode_fold():
    model = randomize(every_convolution())
    x = torch.randn(2, 12, 12, 3)
    expected = model(x)[0].detach()
    with torch.inference_mode():
        torch.testing.assert_close(model(x)[0], expected, rtol=1e-5, atol=1e-5)
    with torch.no_grad():  # the weights cached under inference mode serve here too
        torch.testing.assert_close(model(x)[0], expected, rtol=1e-5, atol=1e-5)
    model.double()
    with torch.no_grad():
        torch.testing.assert_close(model(x.double())[0], expected.double(), rtol=1e-5,
                                   atol=1e-5)


def test_a_changed_weight_or_statistic_is_refolded():
    model = randomize(every_convolution())
    x = torch.randn(2, 12, 12, 3)
    with torch.no_grad():
        before = model(x)[0]
        conv = model.get_layer(index=1)
        conv.weight.mul_(2.0)  # in place: the version counter moves
        bn = model.get_layer(index=2)
        bn.running_mean.add_(1.0)
        after = model(x)[0]
    assert not torch.allclose(before, after)
    torch.testing.assert_close(after, model(x)[0].detach(), rtol=1e-5, atol=1e-5)
    twin = randomize(every_convolution(), seed=1)
    with torch.no_grad():
        twin(x)  # folded with its own weights and cached
    twin.load_state_dict(model.state_dict())  # copied in place
    with torch.no_grad():
        loaded, copied = twin(x)[0], copy.deepcopy(twin)(x)[0]
    expected = model(x)[0].detach()
    torch.testing.assert_close(loaded, expected, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(copied, expected, rtol=1e-5, atol=1e-5)


def test_an_optimizer_step_is_refolded():
    model = randomize(every_convolution())
    x = torch.randn(2, 12, 12, 3)
    with torch.no_grad():
        model(x)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    model.train()
    model(x)[0].square().mean().backward()
    optimizer.step()
    model.eval()
    with torch.no_grad():
        folded = model(x)[0]
    torch.testing.assert_close(folded, model(x)[0].detach(), rtol=1e-5, atol=1e-5)


def test_training_statistics_are_never_folded():
    model = randomize(every_convolution()).train()
    x = torch.randn(4, 12, 12, 3)
    twin = copy.deepcopy(model)
    with torch.no_grad():
        ours = model(x)[0]
    theirs = twin(x)[0]  # autograd on: unfolded
    torch.testing.assert_close(ours, theirs.detach(), rtol=1e-5, atol=1e-5)
    for a, b in zip(model.buffers(), twin.buffers()):  # the moving statistics moved alike
        torch.testing.assert_close(a, b)
    assert all(step._key is None for step in folded_steps(model))
    frozen = randomize(every_convolution())
    frozen.trainable = False
    frozen.train()  # a frozen BatchNormalization uses its moving statistics: folds
    assert_folds_to_the_same(frozen, x, 4)


def test_what_could_see_the_convolution_output_is_not_folded():
    inputs = kconv.Input((8, 8, 2))
    a = L.Conv2D(3, 3, activation="relu")(inputs)  # BatchNormalization after relu
    b = L.Conv2D(3, 1)(a)
    c = L.BatchNormalization()(b)
    d = L.Add()([b, c])  # the convolution's output read twice
    e = L.Conv2D(3, 1)(d)
    f = L.BatchNormalization()(e)
    g = L.Conv2DTranspose(3, 2, strides=2)(f)  # transposed kernels: not folded
    h = L.BatchNormalization()(g)
    i = L.Conv2D(3, 1, activity_regularizer="l2")(h)
    j = L.BatchNormalization()(i)
    model = randomize(kconv.Model(inputs, [a, L.BatchNormalization()(a), e, j]))
    assert model._plans[2] is model._plans[1]  # e is an output itself: nothing folds


def test_the_switch_and_hooks_keep_the_layers():
    model = randomize(every_convolution())
    x = torch.randn(2, 12, 12, 3)
    model.fold_batch_norm = False
    with torch.no_grad():
        assert torch.equal(model(x)[0], model(x)[0])
        plain = model(x)[0]
    assert torch.equal(plain, model(x)[0].detach())
    assert all(step._key is None for step in folded_steps(model))
    model.fold_batch_norm = True
    seen = []
    handle = model.get_layer(index=1).register_forward_hook(lambda m, i, o: seen.append(o))
    with torch.no_grad():
        model(x)
    handle.remove()
    assert len(seen) == 1 and seen[0].shape == (2, 12, 12, 8)
    assert all(step._key is None for step in folded_steps(model))


def test_autocast_and_bad_inputs_run_unfolded():
    model = randomize(every_convolution())
    x = torch.randn(2, 12, 12, 3)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        model(x)
    assert all(step._key is None for step in folded_steps(model))
    with torch.no_grad(), pytest.raises(ValueError, match=r"expected shape=\(None, 12, 12, "
                                                          r"3\), found shape=\(2, 12, 12, 4\)"):
        model(torch.randn(2, 12, 12, 4))


def test_a_nested_model_folds_inside():
    block = randomize(kconv.Sequential([kconv.Input((6, 6, 2)), L.Conv2D(4, 3),
                                        L.BatchNormalization()]))
    inputs = kconv.Input((6, 6, 2))
    outer = kconv.Model(inputs, L.Flatten()(block(inputs))).eval()
    x = torch.randn(2, 6, 6, 2)
    expected = outer(x).detach()
    with torch.no_grad():
        torch.testing.assert_close(outer(x), expected, rtol=1e-5, atol=1e-5)
    assert folded_steps(block, block._layout[1][False, True][1])[0]._key is not None


def test_a_relu_after_a_folded_pair_runs_in_place_inside_it():
    inputs = kconv.Input((8, 8, 3))
    x = L.ReLU(6.0)(L.BatchNormalization()(L.Conv2D(4, 3)(inputs)))
    x = L.Activation("relu")(L.BatchNormalization()(L.Conv2D(4, 1)(x)))
    x = L.ReLU(max_value=0.5)(L.BatchNormalization()(L.Conv2D(4, 1)(x)))
    y = L.BatchNormalization()(L.Conv2D(4, 1)(x))
    z = L.Add()([L.ReLU()(y), y])  # y is read twice: its ReLU stays a step
    w = L.LeakyReLU()(L.BatchNormalization()(L.Conv2D(4, 1)(z)))  # no in-place form kept
    model = randomize(kconv.Model(inputs, w))
    assert_folds_to_the_same(model, torch.randn(2, 8, 8, 3), 5)
    attached = [type(getattr(s.act_fn, "__self__", s.act_fn)).__name__
                for s in folded_steps(model)]
    assert attached == ["ReLU", "Activation", "ReLU", "NoneType", "NoneType"]
    kinds = [type(getattr(fn, "__self__", fn)).__name__ for fn, *_ in model._plans[2].steps]
    assert kinds.count("ReLU") == 1 and kinds.count("LeakyReLU") == 1
    buffer = io.BytesIO()  # the in-place ReLUs (a ceiling of 0.5 included) pickle
    torch.save(model, buffer)
    buffer.seek(0)
    loaded = torch.load(buffer, weights_only=False)
    x = torch.randn(2, 8, 8, 3)
    with torch.no_grad():
        assert torch.equal(loaded(x), model(x))
    assert all(step._key is not None for step in folded_steps(loaded))


def test_folded_kernels_are_in_the_memory_format_of_the_maps():
    model = randomize(every_convolution())  # its first convolution reads the input itself
    with torch.no_grad():
        model(torch.randn(2, 12, 12, 3))
    first = folded_steps(model)[0]
    assert not first.in_first and first._folded[0].is_contiguous(
        memory_format=torch.channels_last) and not first._folded[0].is_contiguous()
    assert model.get_layer(index=1).weight.is_contiguous(memory_format=torch.channels_last)
    inputs = kconv.Input((3, 9, 9))  # channels_first: NCHW maps, contiguous kernels
    x = L.Conv2D(4, 3, data_format="channels_first")(inputs)
    model = randomize(kconv.Model(inputs, L.BatchNormalization(axis=1)(x)))
    with torch.no_grad():
        model(torch.randn(2, 3, 9, 9))
    assert folded_steps(model)[0]._folded[0].is_contiguous()
    assert model.get_layer(index=1).weight.is_contiguous()


def test_the_switch_takes_a_bool_only():
    model = every_convolution()
    with pytest.raises(TypeError, match="Invalid type for argument `fold_batch_norm`: expected "
                                        "a bool \\(True or False\\). Received: "
                                        "fold_batch_norm='no'"):
        model.fold_batch_norm = "no"
    assert model.fold_batch_norm is True
    model.fold_batch_norm = False
    assert model.fold_batch_norm is False and every_convolution().fold_batch_norm is True
