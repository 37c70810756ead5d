"""The activation layers against Keras: values, weights (PReLU), configs."""

import keras
import numpy as np
import pytest
import torch

import kconv
from tests.keras_oracle import assert_close, copy_from_keras, keras_call

CASES = [
    ("ReLU", {}), ("ReLU", {"max_value": 6.0}), ("ReLU", {"negative_slope": 0.1}),
    ("ReLU", {"threshold": 0.5, "negative_slope": 0.2, "max_value": 1.5}),
    ("LeakyReLU", {}), ("LeakyReLU", {"negative_slope": 0.05}), ("ELU", {}),
    ("ELU", {"alpha": 0.5}), ("Softmax", {}), ("Softmax", {"axis": 1}),
    ("Softmax", {"axis": (1, 2)}), ("PReLU", {"alpha_initializer": "random_normal"}),
    ("PReLU", {"alpha_initializer": "random_normal", "shared_axes": (1, 2)}),
]


@pytest.mark.parametrize("name, kwargs", CASES,
                         ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES)])
def test_matches_keras(name, kwargs):
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 5)).astype("float32") * 2
    k_layer = getattr(keras.layers, name)(**kwargs)
    k_layer.build(x.shape)
    layer = getattr(kconv.layers, name)(**kwargs)
    layer.build_for((None,) + x.shape[1:])
    copy_from_keras(k_layer, layer)
    assert_close(layer(torch.from_numpy(x)), keras_call(k_layer, x), atol=1e-6)
    assert layer.count_params() == k_layer.count_params()
    theirs = k_layer.get_config()
    for key, value in layer.get_config().items():
        if key not in ("name", "alpha_initializer"):
            value = list(value) if isinstance(value, tuple) else value
            other = list(theirs[key]) if isinstance(theirs[key], tuple) else theirs[key]
            assert value == other, key


def test_keras2_alpha_and_the_layout_pass():
    assert kconv.layers.LeakyReLU(alpha=0.1).negative_slope == 0.1
    inputs = kconv.Input((6, 6, 3))
    x = kconv.layers.LeakyReLU()(kconv.layers.Conv2D(4, 3, padding="same")(inputs))
    model = kconv.Model(inputs, kconv.layers.GlobalAveragePooling2D()(x))
    assert any(getattr(fn, "__name__", "") == "call_channels_first" for fn, *_ in
               model._plans[1][0])
    x = torch.randn(2, 6, 6, 3)
    handle = model.register_forward_pre_hook(lambda *_: None)
    plain = model(x)
    handle.remove()
    assert torch.equal(model(x), plain)
