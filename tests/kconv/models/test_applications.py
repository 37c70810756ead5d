"""Keras Applications architectures (weights=None: no downloads) saved by Keras as .keras and
whole-model .h5 open in kconv with Keras's logits, at a small input size."""

import keras
import numpy as np
import pytest
import torch

import kconv

# name: the smallest input size the architecture accepts (and it is fast there)
ARCHITECTURES = {"VGG16": 32, "VGG19": 32, "ResNet50": 32, "ResNet50V2": 32, "MobileNet": 32,
                 "MobileNetV2": 32, "DenseNet121": 32, "Xception": 71, "InceptionV3": 75,
                 "InceptionResNetV2": 75, "EfficientNetB0": 32, "EfficientNetV2B0": 32}


@pytest.mark.parametrize("ext", [".keras", ".h5"])
@pytest.mark.parametrize("name", ARCHITECTURES)
def test_applications_open_with_kerass_logits(name, ext, tmp_path):
    size = ARCHITECTURES[name]
    keras.utils.set_random_seed(0)
    k_model = getattr(keras.applications, name)(weights=None, input_shape=(size, size, 3),
                                                classes=10, classifier_activation=None)
    path = tmp_path / f"{name}{ext}"
    k_model.save(path)
    model = kconv.models.load_model(path).eval()
    assert model.count_params() == k_model.count_params()
    x = np.random.default_rng(1).uniform(0, 255, (2, size, size, 3)).astype("float32")
    theirs = keras.ops.convert_to_numpy(k_model(x, training=False))
    ours = model(torch.from_numpy(x)).detach().numpy()
    scale = np.abs(theirs).max()
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-5 * max(scale, 1e-3))


def test_an_architecture_built_from_keras_ops_is_refused_by_name(tmp_path):
    """MobileNetV3 computes hard-sigmoid with ``keras.ops`` on tensors (x + 3.0), which a
    Keras file records as operations, not layers: refused in one line, nothing run."""
    k_model = keras.applications.MobileNetV3Small(weights=None, input_shape=(32, 32, 3),
                                                  classes=10)
    k_model.save(tmp_path / "m.keras")
    with pytest.raises(ValueError) as info:
        kconv.models.load_model(tmp_path / "m.keras")
    message = str(info.value)
    assert "\n" not in message and "keras.src.ops.numpy" in message
