"""kconv layers as ordinary torch modules: torch.compile, autocast, devices, pickling."""

import io

import pytest
import torch

import kconv
from kconv.layers import (Activation, AveragePooling2D, BatchNormalization, Conv2D, Dense,
                          Dropout, Flatten, GlobalMaxPooling2D, Input, MaxPooling2D)


def every_layer_model(data_format="channels_last"):
    bn_axis = -1 if data_format == "channels_last" else 1
    shape = (13, 12, 3) if data_format == "channels_last" else (3, 13, 12)
    return kconv.Sequential([
        Input(shape),
        Conv2D(8, 3, strides=2, padding="same", data_format=data_format,
               activity_regularizer="l2", kernel_regularizer="l2"),
        Activation("relu"), BatchNormalization(axis=bn_axis),
        MaxPooling2D(3, 2, padding="same", data_format=data_format),
        Conv2D(8, 2, padding="same", data_format=data_format, activation="relu"),
        AveragePooling2D(2, 1, padding="same", data_format=data_format),
        Dropout(0.5), Flatten(data_format=data_format), Dense(6, activation="softmax"),
    ])


def _input(data_format):
    shape = (4, 13, 12, 3) if data_format == "channels_last" else (4, 3, 13, 12)
    return torch.randn(shape)


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_compile_fullgraph_has_no_graph_break(data_format):
    torch._dynamo.reset()
    model = every_layer_model(data_format)
    model.eval()
    x = _input(data_format)
    expected = model(x)
    compiled = torch.compile(model, fullgraph=True, backend="aot_eager")
    assert torch.allclose(compiled(x), expected, atol=1e-6)
    model.train()
    out = compiled(x)  # training mode: BN statistics, dropout, activity penalty
    (out.sum() + sum(model.losses)).backward()
    assert model[0].weight.grad is not None
    extra = [GlobalMaxPooling2D(data_format=data_format)]
    tail = torch.compile(kconv.Sequential([Input(x.shape[1:])] + extra), fullgraph=True,
                         backend="aot_eager")
    assert tail(x).shape == (4, 3)


def test_cpu_bf16_autocast():
    model = every_layer_model()
    x = torch.randn(4, 13, 12, 3)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = model(x)
    assert y.dtype == torch.bfloat16
    y.float().sum().backward()
    model.eval()
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        low = model(x).float()
    assert torch.allclose(low, model(x), atol=3e-2)


def test_state_dict_round_trip_and_pickle():
    model = every_layer_model()
    clone = every_layer_model()
    clone.load_state_dict(model.state_dict())
    model.eval()
    clone.eval()
    x = torch.randn(2, 13, 12, 3)
    assert torch.equal(model(x), clone(x))
    buffer = io.BytesIO()
    torch.save(model, buffer)
    buffer.seek(0)
    restored = torch.load(buffer, weights_only=False)
    assert torch.equal(restored(x), model(x))


def test_lazy_build_follows_the_input_device():
    layer = Conv2D(2, 3)
    y = layer(torch.zeros(1, 5, 5, 1, device="meta"))
    assert layer.weight.device.type == "meta" and y.shape == (1, 3, 3, 2)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_channels_last_and_autocast():
    model = every_layer_model().cuda()
    x = torch.randn(4, 13, 12, 3, device="cuda")
    with torch.autocast("cuda", dtype=torch.bfloat16):
        y = model(x)
    assert y.is_cuda and y.shape == (4, 6)
