"""RandAugment: Keras's eleven operations at Keras's strength, chosen per batch; outputs
equal Keras's for the same choices; training-only; configs both ways; bad arguments."""

import keras
import numpy as np
import pytest
import scipy.stats
import torch

import kconv
from kconv.models.deserialization import layer_from_config
from tests.keras_oracle import to_numpy

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
    ours = layer.apply(images, {"layer_idxes": [9, 10], "transforms": {}})
    np.testing.assert_allclose(ours.permute(0, 2, 3, 1).numpy(), expected, atol=1e-3)
    params = layer.sample(len(X), 8, 9, "cpu")
    chained = images
    for i in params["layer_idxes"]:
        op = layer.operations[i]
        chained = op.apply(chained, params["transforms"][i]) if i < 9 else op.transform(chained)
    assert torch.equal(layer.apply(images, params), chained)


def test_choices_are_uniform_and_random_only_in_training():
    layer = kconv.layers.RandAugment(num_ops=3, seed=2)
    chosen = np.concatenate([layer.sample(1, 8, 9, "cpu")["layer_idxes"]
                             for _ in range(700)])
    counts = np.bincount(chosen, minlength=11)
    assert scipy.stats.chisquare(counts).pvalue > 1e-3
    x = torch.from_numpy(X)
    layer.eval()
    assert torch.equal(layer(x), x)
    layer.train()
    assert not torch.equal(layer(x), x)


def test_config_opens_both_ways():
    layer = kconv.layers.RandAugment(value_range=(0, 1), num_ops=3, factor=(0.1, 0.6),
                                     interpolation="nearest", seed=4)
    k_layer = keras.layers.deserialize({"module": "keras.layers", "class_name": "RandAugment",
                                        "config": layer.get_config()})

    def plain(config):
        return {k: list(v) if isinstance(v, tuple) else v for k, v in config.items()
                if k != "dtype"}
    assert plain(k_layer.get_config()) == plain(layer.get_config())
    again = layer_from_config({"class_name": "RandAugment", "config": k_layer.get_config()}, 0)
    assert plain(again.get_config()) == plain(layer.get_config())


@pytest.mark.parametrize("kwargs, name", [({"num_ops": 0}, "num_ops"), ({"factor": 2.0}, "factor"),
                                          ({"interpolation": "cubic"}, "interpolation")])
def test_bad_arguments_are_one_line(kwargs, name):
    with pytest.raises((ValueError, TypeError)) as error:
        kconv.layers.RandAugment(**kwargs)
    assert name in str(error.value) and "\n" not in str(error.value)
