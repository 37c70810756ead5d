"""RandomContrast and RandomBrightness against Keras: outputs on the same draws, Keras's
distributions and factor semantics, training-only and clipping, bad arguments (their
configs are checked with the other colour layers', in test_color_and_tone.py)."""

import keras
import numpy as np
import pytest
import scipy.stats
import torch

import kconv
from tests.keras_oracle import to_numpy

L = kconv.layers
X = np.random.default_rng(1).random((8, 5, 6, 3)).astype("float32") * 255


@pytest.mark.parametrize("name, kwargs, key", [
    ("RandomContrast", {"factor": 0.5}, "contrast_factor"),
    ("RandomContrast", {"factor": (0.3, 0.9), "value_range": (0, 1)}, "contrast_factor"),
    ("RandomBrightness", {"factor": 0.4}, "rgb_delta"),
    ("RandomBrightness", {"factor": (-0.6, 0.1), "value_range": (-1, 1)}, "rgb_delta"),
])
def test_outputs_on_the_same_draws_and_distributions_are_keras(name, kwargs, key):
    layer = getattr(L, name)(seed=2, **kwargs)
    k_layer = getattr(keras.layers, name)(seed=3, **kwargs)
    x = X / 255 if kwargs.get("value_range") == (0, 1) else X
    params = layer.sample(len(x), 5, 6, "cpu")
    ours = layer.apply(torch.from_numpy(x).movedim(-1, 1), params).movedim(1, -1).numpy()
    theirs = to_numpy(k_layer.transform_images(keras.ops.convert_to_tensor(x), {
        key: keras.ops.convert_to_tensor(params[key].numpy().reshape(-1, 1, 1, 1))}))
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-4)
    draws = np.concatenate([layer.sample(100, 5, 6, "cpu")[key].numpy() for _ in range(20)])
    k_draws = np.concatenate([to_numpy(k_layer.get_random_transformation(
        np.zeros((100, 5, 6, 3), "float32"), training=True)[key]).ravel() for _ in range(20)])
    assert scipy.stats.ks_2samp(draws, k_draws).pvalue > 1e-3
    assert k_draws.min() - 0.02 * np.ptp(k_draws) <= draws.min() and \
        draws.max() <= k_draws.max() + 0.02 * np.ptp(k_draws)


def test_contrast_reads_a_number_as_keras_3_does():
    """Keras 3 turns ``factor=f`` into the range [1, 1 + f]: contrast is only raised."""
    assert L.RandomContrast(0.5).factor == keras.layers.RandomContrast(0.5).factor == (0, 0.5)
    draws = L.RandomContrast(0.5, seed=0).sample(10_000, 2, 2, "cpu")["contrast_factor"]
    assert 1.0 <= float(draws.min()) and float(draws.max()) <= 1.5


@pytest.mark.parametrize("layer", [L.RandomContrast(0.4), L.RandomBrightness(0.3)],
                         ids=lambda layer: type(layer).__name__)
def test_training_only_and_clipped(layer):
    x = torch.from_numpy(X)
    layer.eval()
    assert torch.equal(layer(x), x)
    layer.train()
    y = layer(x)
    assert not torch.equal(y, x) and float(y.min()) >= 0 and float(y.max()) <= 255


@pytest.mark.parametrize("call, name", [
    (lambda: L.RandomContrast(1.5), "factor"),
    (lambda: L.RandomContrast(-0.1), "factor"),
    (lambda: L.RandomBrightness((0.1,)), "factor"),
    (lambda: L.RandomBrightness(0.1, value_range=5), "value_range"),
])
def test_bad_arguments_are_one_line(call, name):
    with pytest.raises(ValueError) as error:
        call()
    assert name in str(error.value) and "\n" not in str(error.value)
