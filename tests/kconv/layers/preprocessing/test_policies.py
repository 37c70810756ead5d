"""RandAugment and AugMix: Keras's operations at Keras's strength, chosen per batch;
outputs equal Keras's for the same choices; Keras's distributions; training-only; configs
both ways; bad arguments."""

import keras
import numpy as np
import pytest
import scipy.stats
import torch

import kconv
from tests.keras_oracle import assert_config_round_trip, to_numpy

X = np.random.default_rng(7).random((6, 8, 9, 3)).astype("float32") * 200 + 20


def test_operations_are_keras_layers_at_keras_strength():
    layer = kconv.layers.RandAugment(factor=0.4, value_range=(0, 1))
    k_layer = keras.layers.RandAugment(factor=0.4, value_range=(0, 1))
    names = [type(op).__name__ for op in layer.operations]
    assert names == [type(getattr(k_layer, key)).__name__ for key in k_layer._AUGMENT_LAYERS]
    for op, key in zip(layer.operations, k_layer._AUGMENT_LAYERS):
        theirs = getattr(k_layer, key).get_config()
        for option, value in op.get_config().items():
            if option not in ("name", "seed"):
                expected = theirs[option]
                assert (list(value) if isinstance(value, tuple) else value) == \
                    (list(expected) if isinstance(expected, tuple) else expected), (key, option)


def test_composition_on_the_same_choices_equals_keras():
    """The deterministic operations through Keras's own sublayers, then any chain of
    operations as the composition of kconv's layers (each tested against Keras). Keras's
    RandAugment.transform_images itself cannot be the reference on torch: it runs every
    operation's transform, and RandomBrightness's adds in place, so brightness is applied
    whatever was chosen (TensorFlow tensors are immutable, so on TensorFlow it is not)."""
    layer, k_layer = kconv.layers.RandAugment(num_ops=2, seed=1), keras.layers.RandAugment()
    layer.train()
    images = torch.from_numpy(X).permute(0, 3, 1, 2)
    expected = to_numpy(k_layer.equalization.transform_images(
        k_layer.auto_contrast.transform_images(keras.ops.convert_to_tensor(X)), None))
    ours = layer.apply(images, [(9, None), (10, None)])
    np.testing.assert_allclose(ours.permute(0, 2, 3, 1).numpy(), expected, atol=1e-3)
    params = layer.sample(len(X), 8, 9, "cpu")
    chained = images
    for i, drawn in params:
        op = layer.operations[i]
        chained = op.apply(chained, drawn) if i < 9 else op.transform(chained)
    assert torch.equal(layer.apply(images, params), chained)


def test_choices_are_uniform_and_random_only_in_training():
    layer = kconv.layers.RandAugment(num_ops=3, seed=2)
    chosen = np.concatenate([[i for i, _ in layer.sample(1, 8, 9, "cpu")]
                             for _ in range(700)])
    counts = np.bincount(chosen, minlength=11)
    assert scipy.stats.chisquare(counts).pvalue > 1e-3
    x = torch.from_numpy(X)
    layer.eval()
    assert torch.equal(layer(x), x)
    layer.train()
    assert not torch.equal(layer(x), x)


@pytest.mark.parametrize("layer", [
    kconv.layers.RandAugment(value_range=(0, 1), num_ops=3, factor=(0.1, 0.6),
                             interpolation="nearest", seed=4),
    kconv.layers.AugMix(value_range=(0, 1), num_chains=2, chain_depth=4, factor=(0.1, 0.5),
                        alpha=0.7, all_ops=False, interpolation="nearest", seed=4)],
    ids=lambda layer: type(layer).__name__)
def test_config_opens_both_ways(layer):
    assert_config_round_trip(layer)


@pytest.mark.parametrize("kwargs, name", [({"num_ops": 0}, "num_ops"), ({"factor": 2.0}, "factor"),
                                          ({"interpolation": "cubic"}, "interpolation")])
def test_bad_arguments_are_one_line(kwargs, name):
    with pytest.raises((ValueError, TypeError)) as error:
        kconv.layers.RandAugment(**kwargs)
    assert name in str(error.value) and "\n" not in str(error.value)


@pytest.mark.parametrize("all_ops", [True, False])
def test_augmix_operations_are_keras_layers_at_keras_strength(all_ops):
    layer = kconv.layers.AugMix(factor=0.6, value_range=(0, 1), all_ops=all_ops)
    k_layer = keras.layers.AugMix(factor=0.6, value_range=(0, 1), all_ops=all_ops)
    assert len(layer.operations) == len(k_layer._augment_layers)
    for op, key in zip(layer.operations, k_layer._augment_layers):
        theirs = getattr(k_layer, key)
        assert type(op).__name__ == type(theirs).__name__
        for option, value in op.get_config().items():
            if option not in ("name", "seed"):
                expected = theirs.get_config()[option]
                assert (list(value) if isinstance(value, tuple) else value) == \
                    (list(expected) if isinstance(expected, tuple) else expected), (key, option)


def test_augmix_mixes_chains_as_keras():
    """Keras's AugMix.transform_images on kconv's draws (mixing weights, blend, chains of
    the operations whose drawn parameters Keras's layers read as they are) equals kconv's."""
    layer, k_layer = kconv.layers.AugMix(seed=3), keras.layers.AugMix()
    layer.train()
    x = np.random.default_rng(8).random((6, 8, 9, 3)).astype("float32") * 255
    images = torch.from_numpy(x).permute(0, 3, 1, 2)
    params = layer.sample(6, 8, 9, "cpu")
    names = layer.NAMES  # shear, translation, posterization, the deterministic, sharpness
    params["chain_transforms"] = [[layer.draw(i, 6, 8, 9, "cpu") for i in chain]
                                  for chain in ([0, 5], [3, 10, 6], [1])]
    ours = layer.apply(images, params).permute(0, 2, 3, 1).numpy()
    theirs = to_numpy(k_layer.transform_images(keras.ops.convert_to_tensor(x), {
        "chain_mixing_weights": params["chain_mixing_weights"],
        "weight_sample": params["weight_sample"],
        "chain_transforms": [[{"layer_name": names[i], "transformation": p} for i, p in chain]
                             for chain in params["chain_transforms"]]}))
    np.testing.assert_allclose(ours, theirs, atol=1e-3)


def test_augmix_draws_follow_keras():
    """Dirichlet(alpha) chain weights, a Beta(alpha, alpha) blend, each chain slot one of the
    operations or none uniformly; seeded; only in training."""
    layer = kconv.layers.AugMix(num_chains=4, chain_depth=5, alpha=0.5, seed=6)
    draws = [layer.sample(2, 8, 9, "cpu") for _ in range(300)]
    weights = np.stack([d["chain_mixing_weights"].numpy() for d in draws])
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, rtol=1e-5)
    assert scipy.stats.kstest(weights[:, 0], "beta", (0.5, 1.5)).pvalue > 1e-3
    blends = [float(d["weight_sample"]) for d in draws]
    assert scipy.stats.kstest(blends, "beta", (0.5, 0.5)).pvalue > 1e-3
    lengths = [len(chain) for d in draws for chain in d["chain_transforms"]]
    assert abs(np.mean(lengths) - 5 * 11 / 12) < 0.15
    chosen = [i for d in draws for chain in d["chain_transforms"] for i, _ in chain]
    assert scipy.stats.chisquare(np.bincount(chosen, minlength=11)).pvalue > 1e-3
    x = torch.from_numpy(X)
    assert torch.equal(kconv.layers.AugMix(seed=6).train()(x),
                       kconv.layers.AugMix(seed=6).train()(x))
    assert torch.equal(layer.eval()(x), x)
    out = layer.train()(x)
    assert not torch.equal(out, x) and out.min() >= 0 and out.max() <= 255


@pytest.mark.parametrize("kwargs, name", [
    ({"num_chains": 0}, "num_chains"), ({"chain_depth": 1.5}, "chain_depth"),
    ({"alpha": 0.0}, "alpha"), ({"all_ops": "yes"}, "all_ops"), ({"factor": -0.1}, "factor")])
def test_augmix_bad_arguments_are_one_line(kwargs, name):
    with pytest.raises((ValueError, TypeError)) as error:
        kconv.layers.AugMix(**kwargs)
    assert name in str(error.value) and "\n" not in str(error.value)
