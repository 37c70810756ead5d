"""Keras Applications' builders against Keras's: layer names and order, parameter counts,
Keras's weights files loaded with Keras's outputs, the arguments (include_top, pooling,
classes, classifier_activation, input_tensor, input_shape), preprocess_input, and the
transfer-learning idiom (frozen base called with training=False, a new head, fine-tuning)."""

import importlib

import keras
import keras.src.applications.nasnet as keras_nasnet
import numpy as np
import pytest
import torch

import kconv
from tests.keras_oracle import to_numpy

BUILDERS = {"VGG16": 32, "VGG19": 32, "ResNet50": 32, "ResNet101": 32, "ResNet152": 32,
            "ResNet50V2": 32, "ResNet101V2": 32, "ResNet152V2": 32, "DenseNet121": 32,
            "DenseNet169": 32, "DenseNet201": 32, "MobileNet": 32, "MobileNetV2": 32,
            "MobileNetV3Small": 32, "MobileNetV3Large": 32,
            **{f"EfficientNetB{i}": 32 for i in range(8)},
            **{f"EfficientNetV2{v}": 32 for v in ("B0", "B1", "B2", "B3", "S", "M", "L")},
            "InceptionV3": 75, "InceptionResNetV2": 75, "Xception": 71,
            **{f"ConvNeXt{v}": 32 for v in ("Tiny", "Small", "Base", "Large", "XLarge")},
            "NASNetMobile": 32, "NASNetLarge": 32}
# One network of each family runs every argument variant (the others share its code). The
# default suite runs them all for the first five families and the first for the others
# (and MobileNetV2's second: pooling with Keras's automatic names), one for their deeper
# members (SLOW) up to ResNet152 and DenseNet201; the deep tier (-m deep) runs the rest.
FULL = {"VGG16", "VGG19", "ResNet50", "ResNet50V2", "DenseNet121", "MobileNet", "MobileNetV2",
        "MobileNetV3Small", "EfficientNetB0", "EfficientNetV2B0", "InceptionV3", "Xception",
        "ConvNeXtTiny", "NASNetMobile"}
FAST = {("VGG16", v) for v in range(4)} | {("VGG19", v) for v in range(4)} | \
    {(n, v) for n in ("ResNet50", "ResNet50V2", "DenseNet121") for v in range(4)} | \
    {(n, 0) for n in FULL} | {("MobileNetV2", 1), ("MobileNetV3Large", 0)}
SLOW = {(n, 0) for n in ("ResNet101", "ResNet152", "ResNet101V2", "ResNet152V2", "DenseNet169",
                         "DenseNet201")}
# Networks so deep that, with random moving statistics, their float32 outputs are rounding
# noise amplified (Keras's own float32 and float64 outputs differ by 40-80%, measured for
# EfficientNetV2M/L): they load with Keras's initial statistics, where they are
# well-conditioned (Keras and kconv agree to 1e-6); the others prove the statistics' loading.
ILL_CONDITIONED = {"EfficientNetV2S", "EfficientNetV2M", "EfficientNetV2L"}
VARIANTS = [dict(classes=7, classifier_activation=None),
            dict(include_top=False, pooling="avg"), dict(include_top=False, pooling="max"),
            dict(include_top=False)]
# Each family's own arguments.
FAMILY_ARGUMENTS = [
    ("MobileNet", dict(alpha=0.5, depth_multiplier=2, dropout=0.3, classes=5)),
    ("MobileNetV2", dict(alpha=1.3, classes=5)),
    ("MobileNetV3Small", dict(alpha=0.75, minimalistic=True, include_preprocessing=False)),
    ("MobileNetV3Large", dict(alpha=1.25, dropout_rate=0.0, classes=5)),
    ("EfficientNetV2B0", dict(include_preprocessing=False, classes=5)),
    ("EfficientNetV2B0", dict(classes=5, input_shape=(32, 40, 1))),  # [-1, 1], not ImageNet's
    ("ConvNeXtTiny", dict(include_preprocessing=False, include_top=False, pooling="max")),
]
CASES = [pytest.param(n, VARIANTS[v], id=f"{n}-{v}", marks=() if (n, v) in FAST else
                      pytest.mark.slow if (n, v) in SLOW else pytest.mark.deep)
         for n in BUILDERS for v in (range(len(VARIANTS)) if n in FULL else (0,))]
CASES += [pytest.param(n, kwargs, id=f"{n}-{i}") for i, (n, kwargs) in
          enumerate(FAMILY_ARGUMENTS, len(VARIANTS))]


def keras_builder(name):
    """Keras's builder; NASNetMobile through Keras's NASNet, since Keras 3 refuses the
    builder itself on its torch backend (kconv builds it)."""
    if name != "NASNetMobile":
        return getattr(keras.applications, name)

    def build(input_shape=None, include_top=True, weights=None, pooling=None, classes=1000,
              classifier_activation="softmax"):
        return keras_nasnet.NASNet(input_shape, 1056, 4, 32, False, 2, include_top, weights,
                                   None, pooling, classes, 224, classifier_activation,
                                   "nasnet_mobile")
    return build


@pytest.mark.parametrize("name, kwargs", CASES)
def test_builders_are_kerass_and_load_its_weights(name, kwargs, tmp_path):
    size = BUILDERS[name]
    kwargs = {"input_shape": (size + 8, size, 3), **kwargs}
    keras.backend.clear_session()
    kconv.clear_session()
    keras.utils.set_random_seed(0)
    theirs = keras_builder(name)(weights=None, **kwargs)
    ours = getattr(kconv.applications, name)(**kwargs)
    assert [layer.name for layer in ours.layers] == [layer.name for layer in theirs.layers]
    assert ours.count_params() == theirs.count_params() and ours.name == theirs.name
    rng = np.random.default_rng(1)
    for layer in theirs.layers:  # moving statistics that are not the identity
        if isinstance(layer, keras.layers.BatchNormalization) and name not in ILL_CONDITIONED:
            for w in layer.weights[2:]:
                w.assign(rng.uniform(0.5, 1.5, w.shape).astype("float32"))
    path = str(tmp_path / "w.weights.h5")
    theirs.save_weights(path)
    loaded = getattr(kconv.applications, name)(weights=path, **kwargs).eval()
    x = rng.uniform(0, 255, (2,) + kwargs["input_shape"]).astype("float32")
    expected = to_numpy(theirs(x, training=False))
    scale = max(np.abs(expected).max(), 1e-3)
    np.testing.assert_allclose(loaded(torch.from_numpy(x)).detach().numpy(), expected,
                               rtol=1e-4, atol=1e-5 * scale)


@pytest.mark.parametrize("module, mode", [
    ("vgg16", "caffe"), ("resnet50", "caffe"), ("resnet", "caffe"), ("resnet_v2", "tf"),
    ("densenet", "torch"), ("mobilenet", "tf"), ("mobilenet_v2", "tf"), ("mobilenet_v3", None),
    ("efficientnet", None), ("efficientnet_v2", None), ("inception_v3", "tf"),
    ("inception_resnet_v2", "tf"), ("xception", "tf"), ("convnext", None), ("nasnet", "tf")])
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_preprocess_input_is_kerass(module, mode, data_format):
    x = np.random.default_rng(2).uniform(0, 255, (2, 5, 6, 3)).astype("float32")
    if data_format == "channels_first":
        x = x.transpose(0, 3, 1, 2).copy()
    theirs = to_numpy(getattr(keras.applications, module).preprocess_input(
        x.copy(), data_format=data_format))
    ours = getattr(kconv.applications, module).preprocess_input(x, data_format=data_format)
    np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-5)
    tensor = getattr(kconv.applications, module).preprocess_input(torch.from_numpy(x),
                                                                  data_format=data_format)
    np.testing.assert_allclose(tensor.numpy(), theirs, rtol=1e-6, atol=1e-5)
    torch_mode = kconv.applications.imagenet_utils.preprocess_input(x, data_format, "torch")
    np.testing.assert_allclose(torch_mode, to_numpy(
        keras.applications.imagenet_utils.preprocess_input(x.copy(), data_format, "torch")),
        rtol=1e-6, atol=1e-5)


@pytest.mark.parametrize("module", ["vgg16", "resnet_v2", "mobilenet_v2", "mobilenet_v3",
                                    "efficientnet_v2", "inception_resnet_v2", "convnext"])
def test_family_modules_import_as_kerass(module):
    """``from keras.applications.<family> import ...`` ports by its import alone."""
    ours = importlib.import_module(f"kconv.applications.{module}")
    theirs = getattr(keras.applications, module)
    builders = [n for n in dir(theirs) if n[0].isupper()]
    assert all(callable(getattr(ours, n)) for n in builders)
    assert ours is getattr(kconv.applications, module)
    assert callable(ours.preprocess_input) and callable(ours.decode_predictions)


def test_arguments_and_refusals(tmp_path):
    inputs = kconv.Input((40, 40, 3))
    model = kconv.applications.VGG16(include_top=False, input_tensor=inputs)
    assert model.inputs[0] is inputs and model.output_shape == (None, 1, 1, 512)
    assert kconv.applications.ResNet50(include_top=False).build_shape == (None, None, None, 3)
    with pytest.raises(ValueError, match="download"):
        kconv.applications.ResNet50(weights="imagenet")
    with pytest.raises(ValueError, match="weights"):
        kconv.applications.ResNet50(weights=str(tmp_path / "missing.h5"))
    with pytest.raises(ValueError, match="at least 32x32"):
        kconv.applications.VGG19(input_shape=(16, 16, 3))
    with pytest.raises(ValueError, match="static `input_shape`"):
        kconv.applications.VGG16(input_shape=(None, None, 3))
    with pytest.raises(ValueError, match="pooling"):
        kconv.applications.ResNet50V2(include_top=False, pooling="mean")
    with pytest.raises(ValueError, match="at least 75x75"):
        kconv.applications.InceptionV3(input_shape=(71, 71, 3))
    with pytest.raises(ValueError, match="alpha"):
        kconv.applications.MobileNetV2(alpha=0)
    with pytest.raises(ValueError, match="at least 32x32"):
        kconv.applications.MobileNetV3Small(input_shape=(16, 40, 3))
    kconv.config.set_image_data_format("channels_first")
    for name in ("DenseNet121", "ConvNeXtTiny", "NASNetMobile"):  # as Keras refuses them
        with pytest.raises(ValueError, match="does not support the `channels_first`"):
            getattr(kconv.applications, name)()


def test_transfer_learning_idiom():
    """keras.io's transfer learning: a frozen base called with training=False and a new
    head train as in Keras (the base, BatchNormalization included, stays as it was);
    then, unfrozen, the base's weights fine-tune while its BatchNormalization stays in
    inference mode (its statistics unchanged), as keras.io's guide and tf.keras have it.
    (Keras 3.15's functional models override a recorded training=False during fit, so
    there its statistics move: kconv follows the guide.)"""
    rng = np.random.default_rng(3)
    x = kconv.applications.resnet_v2.preprocess_input(rng.uniform(0, 255, (16, 32, 32, 3)))
    y = rng.integers(0, 2, 16).astype("float32")

    def build(lib):
        lib.utils.set_random_seed(4)
        base = lib.applications.ResNet50V2(include_top=False, input_shape=(32, 32, 3),
                                           **({"weights": None} if lib is keras else {}))
        base.trainable = False
        inputs = lib.Input((32, 32, 3))
        features = base(inputs, training=False)
        pooled = lib.layers.GlobalAveragePooling2D()(features)
        outputs = lib.layers.Dense(1, activation="sigmoid")(pooled)
        return base, lib.Model(inputs, outputs)

    k_base, k_model = build(keras)
    base, model = build(kconv)
    model.set_weights(k_model.get_weights())
    frozen = [w.copy() for w in model.get_weights()]
    for m, lib in ((k_model, keras), (model, kconv)):
        m.compile(lib.optimizers.SGD(0.01), "binary_crossentropy", metrics=["accuracy"])
    fit = dict(epochs=1, batch_size=8, shuffle=False, verbose=0)
    theirs, ours = k_model.fit(x, y, **fit).history, model.fit(x, y, **fit).history
    np.testing.assert_allclose(ours["loss"], theirs["loss"], rtol=1e-4)
    for a, b in zip(base.get_weights(), frozen[:len(base.get_weights())]):
        np.testing.assert_array_equal(a, b)
    base.trainable = True
    model.compile(kconv.optimizers.SGD(1e-3), "binary_crossentropy")
    before = {name: value.clone() for name, value in base.state_dict().items()}
    model.fit(x, y, **fit)
    after = base.state_dict()
    statistics = [n for n in before if n.endswith(("running_mean", "running_var"))]
    assert statistics and all(torch.equal(before[n], after[n]) for n in statistics)
    trained = [n for n in before if not torch.equal(before[n], after[n])]
    assert trained and not set(trained) & set(statistics)
