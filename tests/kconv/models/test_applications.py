"""Keras Applications architectures (weights=None: no downloads) saved by Keras as .keras and
whole-model .h5 open in kconv with Keras's logits, at a small input size."""

import keras
import numpy as np
import pytest
import torch

import kconv

# name: the smallest input size the architecture accepts (and it is fast there)
ARCHITECTURES = {"VGG16": 32, "VGG19": 32, "ResNet50": 32, "ResNet101": 32, "ResNet152": 32,
                 "ResNet50V2": 32, "ResNet101V2": 32, "ResNet152V2": 32, "MobileNet": 32,
                 "MobileNetV2": 32, "MobileNetV3Small": 32, "MobileNetV3Large": 32,
                 "DenseNet121": 32, "DenseNet169": 32, "DenseNet201": 32, "Xception": 71,
                 "InceptionV3": 75, "InceptionResNetV2": 75,
                 **{f"EfficientNetB{i}": 32 for i in range(8)},
                 **{f"EfficientNetV2{v}": 32 for v in ("B0", "B1", "B2", "B3", "S")},
                 "ConvNeXtTiny": 32, "NASNetLarge": 32}


SLOW = {"ResNet152", "ResNet152V2", "DenseNet169", "InceptionResNetV2", "EfficientNetB5",
        "EfficientNetB6", "EfficientNetB7", "EfficientNetV2B2", "EfficientNetV2B3",
        "EfficientNetV2S"}  # over ~15 s each here
DEEP = {"NASNetLarge"}  # a minute: the deep tier (-m deep)


@pytest.mark.parametrize("name", [
    pytest.param(name, marks=pytest.mark.deep if name in DEEP else pytest.mark.slow)
    if name in SLOW | DEEP else name for name in ARCHITECTURES])
def test_applications_open_with_kerass_logits(name, tmp_path):
    size = ARCHITECTURES[name]
    keras.utils.set_random_seed(0)
    k_model = getattr(keras.applications, name)(weights=None, input_shape=(size, size, 3),
                                                classes=10, classifier_activation=None)
    rng = np.random.default_rng(1)
    for layer in k_model.layers:  # statistics and scales that are not the identity
        if isinstance(layer, keras.layers.BatchNormalization):
            for w in layer.weights:
                low, high = (-0.1, 0.1) if "mean" in w.path or "beta" in w.path else (0.7, 1.3)
                w.assign(rng.uniform(low, high, w.shape).astype("float32"))
    x = rng.uniform(0, 255, (2, size, size, 3)).astype("float32")
    theirs = keras.ops.convert_to_numpy(k_model(x, training=False))
    scale = np.abs(theirs).max()
    for ext in (".keras", ".h5"):
        path = tmp_path / f"{name}{ext}"
        k_model.save(path)
        model = kconv.models.load_model(path).eval()
        assert model.count_params() == k_model.count_params()
        ours = model(torch.from_numpy(x)).detach().numpy()
        np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-5 * max(scale, 1e-3),
                                   err_msg=ext)
    with torch.no_grad():  # BatchNormalization folded into the convolutions
        folded = model(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(folded, theirs, rtol=1e-4, atol=1e-5 * max(scale, 1e-3))
