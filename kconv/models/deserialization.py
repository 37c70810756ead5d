"""Models from Keras configs: ``Sequential`` and functional models, in Keras 3's spelling
(``.keras`` files) and Keras 2's (``model_config`` of whole-model ``.h5`` files).

Only Keras's built-in layers, initializers, regularizers and constraints are rebuilt; a
custom object, a Lambda layer or an unknown layer is refused with the layer's name, so no
code from a file ever runs.
"""

import contextlib
import inspect

from kconv import layers as layers_lib
from kconv import ops
from kconv.layers.input_layer import Input
from kconv.mixed_precision import policy as policies
from kconv.models.model import Model
from kconv.models.sequential import Sequential
from kconv.symbolic import KerasTensor

LAYER_CLASSES = {cls.__name__: cls for cls in (
    layers_lib.Conv1D, layers_lib.Conv2D, layers_lib.Conv3D, layers_lib.Dense,
    layers_lib.Activation, layers_lib.Dropout,
    layers_lib.Flatten, layers_lib.MaxPooling2D, layers_lib.AveragePooling2D,
    layers_lib.GlobalAveragePooling2D, layers_lib.GlobalMaxPooling2D,
    layers_lib.BatchNormalization, layers_lib.Add, layers_lib.Subtract, layers_lib.Multiply,
    layers_lib.Average, layers_lib.Maximum, layers_lib.Minimum, layers_lib.Concatenate,
    layers_lib.Dot, layers_lib.ReLU, layers_lib.LeakyReLU, layers_lib.PReLU, layers_lib.ELU,
    layers_lib.Softmax, layers_lib.Rescaling, layers_lib.ZeroPadding1D,
    layers_lib.ZeroPadding2D, layers_lib.ZeroPadding3D, layers_lib.Cropping1D,
    layers_lib.Cropping2D, layers_lib.Cropping3D, layers_lib.UpSampling1D,
    layers_lib.UpSampling2D, layers_lib.UpSampling3D, layers_lib.Reshape, layers_lib.Permute,
    layers_lib.RepeatVector, layers_lib.MaxPooling1D, layers_lib.MaxPooling3D,
    layers_lib.AveragePooling1D, layers_lib.AveragePooling3D, layers_lib.GlobalAveragePooling1D,
    layers_lib.GlobalAveragePooling3D, layers_lib.GlobalMaxPooling1D,
    layers_lib.GlobalMaxPooling3D, layers_lib.DepthwiseConv1D, layers_lib.DepthwiseConv2D,
    layers_lib.SeparableConv1D, layers_lib.SeparableConv2D, layers_lib.Conv1DTranspose,
    layers_lib.Conv2DTranspose, layers_lib.Conv3DTranspose, layers_lib.LayerNormalization,
    layers_lib.GroupNormalization, layers_lib.SpatialDropout1D, layers_lib.SpatialDropout2D,
    layers_lib.SpatialDropout3D, layers_lib.GaussianNoise, layers_lib.Normalization,
    layers_lib.Identity, layers_lib.ActivityRegularization, layers_lib.GaussianDropout,
    layers_lib.AlphaDropout, layers_lib.UnitNormalization, layers_lib.RMSNormalization,
    layers_lib.RandomFlip, layers_lib.RandomRotation, layers_lib.RandomTranslation,
    layers_lib.RandomZoom, layers_lib.RandomBrightness, layers_lib.RandomContrast,
    layers_lib.CenterCrop, layers_lib.RandomCrop, layers_lib.Resizing,
    layers_lib.AdaptiveAveragePooling1D, layers_lib.AdaptiveAveragePooling2D,
    layers_lib.AdaptiveAveragePooling3D, layers_lib.AdaptiveMaxPooling1D,
    layers_lib.AdaptiveMaxPooling2D, layers_lib.AdaptiveMaxPooling3D,
    layers_lib.AutoContrast, layers_lib.RandomColorDegeneration, layers_lib.RandomColorJitter,
    layers_lib.RandomGrayscale, layers_lib.RandomHue, layers_lib.RandomInvert,
    layers_lib.RandomPosterization, layers_lib.RandomSaturation, layers_lib.RandomSharpness,
    layers_lib.Solarization, layers_lib.RandomShear, layers_lib.RandomGaussianBlur,
    layers_lib.Equalization, layers_lib.RandomErasing, layers_lib.CutMix, layers_lib.MixUp,
    layers_lib.Pipeline, layers_lib.MaxNumBoundingBoxes, layers_lib.RandomPerspective,
    layers_lib.TimeDistributed, layers_lib.RandAugment,
    layers_lib.SpectralNormalization, layers_lib.AugMix, layers_lib.RandomElasticTransform,
    layers_lib.ContrastLimitedAdaptiveHistogramEqualization)}
# Keras's own internal layers of Keras Applications, loaded by name (never user code).
KERAS_INTERNAL = {("keras.src.applications.inception_resnet_v2", "CustomScaleLayer"):
                  layers_lib.CustomScaleLayer,
                  ("keras.src.applications.convnext", "LayerScale"): layers_lib.LayerScale,
                  ("keras.src.applications.convnext", "StochasticDepth"):
                  layers_lib.StochasticDepth}
LAYER_CLASSES.update({cls.__name__: cls for cls in KERAS_INTERNAL.values()})
LAYER_CLASSES.update({"Convolution1D": layers_lib.Conv1D, "Convolution2D": layers_lib.Conv2D,
                      "Convolution3D": layers_lib.Conv3D, "MaxPool2D": layers_lib.MaxPooling2D,
                      "AvgPool2D": layers_lib.AveragePooling2D})
MODEL_CLASSES = ("Sequential", "Functional", "Model")
# Keras layers outside the convolutional toolkit, refused with what they are.
OUTSIDE_TOOLKIT = {
    "a recurrent layer": ("RNN", "LSTM", "GRU", "SimpleRNN", "LSTMCell", "GRUCell",
                          "SimpleRNNCell", "StackedRNNCells", "Bidirectional", "ConvLSTM1D",
                          "ConvLSTM2D", "ConvLSTM3D"),
    "an attention layer": ("Attention", "AdditiveAttention", "MultiHeadAttention",
                           "GroupQueryAttention", "EinsumDense"),
    "an embedding layer": ("Embedding", "ReversibleEmbedding"),
    "a text or structured-data preprocessing layer": (
        "TextVectorization", "StringLookup", "IntegerLookup", "Hashing", "HashedCrossing",
        "CategoryEncoding", "Discretization"),
    "an audio preprocessing layer": ("MelSpectrogram", "STFTSpectrogram"),
    "a sequence masking layer": ("Masking",),
    "a wrapper of another framework's code": ("TorchModuleWrapper", "JaxLayer", "FlaxLayer",
                                              "TFSMLayer"),
    "a layer of arbitrary Python code": ("Lambda",),
}
_OUTSIDE = {name: kind for kind, names in OUTSIDE_TOOLKIT.items() for name in names}
_OPS_MODULE = "keras.src.ops.numpy"  # keras.ops calls recorded in a graph
_KERAS_MODULES = ("keras", "keras.layers", "keras.initializers", "keras.regularizers",
                  "keras.constraints", "keras.src.models.sequential", "keras.models",
                  "keras.src.models.functional")
# Keras arguments kconv does not take, accepted at these (their default) values only.
_IGNORABLE = {"lora_rank": None, "lora_alpha": None, "quantization_config": None,
              "renorm": False, "renorm_clipping": None, "renorm_momentum": 0.99,
              "synchronized": False}
# Keras 2's input shape of a first layer: read by the Sequential, not by the layer.
_INPUT_KEYS = ("batch_input_shape", "input_dim")


def _check_safe(obj, where):
    """Refuse custom or registered objects anywhere in a config."""
    if isinstance(obj, dict):
        if obj.get("registered_name") not in (None, obj.get("class_name")) or (
                "module" in obj and obj["module"] not in _KERAS_MODULES):
            raise ValueError(f"{where} uses a custom object {obj.get('class_name')!r} "
                             f"(module {obj.get('module')!r}); kconv loads only Keras's "
                             "built-in layers, initializers, regularizers and constraints")
        for value in obj.values():
            _check_safe(value, where)
    elif isinstance(obj, list):
        for value in obj:
            _check_safe(value, where)


def layer_from_config(entry, index):
    """A kconv layer from one Keras layer config (``{"class_name", "config"}``)."""
    name = entry.get("class_name")
    config = dict(entry.get("config") or {})
    where = f"layer {index} ({name} {config.get('name', '')!r})"
    if name in MODEL_CLASSES:
        return model_from_config(entry)
    if name in _OUTSIDE:
        raise ValueError(f"{where}: {name} is {_OUTSIDE[name]}, outside kconv's "
                         "convolutional toolkit (convolution, pooling, normalization, "
                         "reshaping, merging, activation, dropout and image preprocessing "
                         "layers)")
    if name not in LAYER_CLASSES:
        raise ValueError(f"{where}: kconv has no {name} layer (it builds "
                         f"{', '.join(sorted(LAYER_CLASSES))})")
    internal = (entry.get("module"), name) in KERAS_INTERNAL
    _check_safe({key: value for key, value in entry.items()
                 if key != "inbound_nodes" and not (internal and key in ("module",
                                                                         "registered_name"))},
                where)
    cls = LAYER_CLASSES[name]
    accepted = set(inspect.signature(cls.__init__).parameters) - {"self"}
    dtype = config.pop("dtype", None)
    policy = dtype.get("config", {}).get("name") if isinstance(dtype, dict) else dtype
    kwargs = {}
    # Keras writes every layer's policy; float32 ones stay implicit (so a torch.autocast
    # of the caller's applies) unless the model mixes precisions.
    if policy is not None and (policy != "float32" or _MIXED["on"]):
        try:
            kwargs["dtype"] = policies.get(policy)
        except (TypeError, ValueError):
            raise ValueError(f"{where}: dtype policy {policy!r} is not supported (kconv "
                             f"has float32, mixed_float16 and mixed_bfloat16)") from None
    for key, value in config.items():
        if key == "axis" and isinstance(value, list) and len(value) == 1:
            kwargs[key] = value[0]  # Keras 2 saves a built BatchNormalization's axis as [3]
        elif key in accepted:
            kwargs[key] = tuple(value) if isinstance(value, list) and key != "axis" else value
        elif key in _INPUT_KEYS or (key in _IGNORABLE and value == _IGNORABLE[key]):
            continue
        else:
            raise ValueError(f"{where}: Keras argument {key}={value!r} is not supported by "
                             "kconv")
    if isinstance(kwargs.get("activation"), dict):
        raise ValueError(f"{where}: custom activation {kwargs['activation']!r}")
    return cls(**kwargs)


def _is_operation(entry):
    """A ``keras.ops`` node: named by its module, or (in a legacy ``.h5``, which drops
    modules) an operation's class name with a config of its name alone (a layer's config
    always holds more)."""
    if "module" in entry:
        return entry["module"] == _OPS_MODULE
    return (entry.get("class_name") in ops.OPERATIONS
            and set(entry.get("config") or {}) <= {"name"})


def _operation_from_config(entry, index):
    """A ``keras.ops`` node's :class:`~kconv.ops.Operation` and its inbound specs: the
    numbers among the node's arguments become the operation's constants."""
    name = entry.get("class_name")
    config = entry.get("config") or {}
    where = f"layer {index} ({name} {config.get('name', '')!r})"
    if name not in ops.OPERATIONS or entry.get("registered_name") not in (None, name):
        raise ValueError(f"{where}: kconv has no keras.ops operation {name!r} from module "
                         f"{_OPS_MODULE!r} (it builds {', '.join(sorted(ops.OPERATIONS))})")
    if set(config) - {"name"}:
        raise ValueError(f"{where}: operation arguments {sorted(set(config) - {'name'})} are "
                         "not supported by kconv")
    layouts = set()
    for spec in entry.get("inbound_nodes") or []:
        args = spec.get("args") if isinstance(spec, dict) else None
        if not isinstance(args, list) or spec.get("kwargs") or not all(
                _is_tensor_spec(a) or ops._is_number(a) for a in args):
            raise ValueError(f"{where}: unreadable operation node {spec!r} (kconv reads "
                             "tensors and numbers as arguments)")
        layouts.add(tuple(None if _is_tensor_spec(a) else a for a in args))
    if len(layouts) != 1:
        raise ValueError(f"{where}: an operation needs one call (found {len(layouts)} "
                         "different ones)")
    try:
        return ops.OPERATIONS[name](layouts.pop(), name=config.get("name"))
    except ValueError as e:
        raise ValueError(f"{where}: {e}") from None


def _is_tensor_spec(value):
    return isinstance(value, dict) and value.get("class_name") == "__keras_tensor__"


def _input_from_config(config):
    shape = config.get("batch_shape") or config.get("batch_input_shape")
    return Input(batch_shape=tuple(shape), dtype=config.get("dtype"), name=config.get("name"))


def model_from_config(config):
    """A kconv ``Sequential`` or functional ``Model`` from a Keras model config.

    Raises:
        ValueError: the config holds another kind of model, or a layer kconv does not
            build (named), or a custom object.
    """
    if not _MIXED["on"] and _mixed_policies(config):
        with _mixed_file():
            return model_from_config(config)
    kind = config.get("class_name")
    body = config.get("config") or {}
    if kind == "Sequential":
        return _sequential_from_config(body, (config.get("build_config") or {}).get(
            "input_shape"))
    if kind in ("Functional", "Model"):
        return _functional_from_config(body)
    raise ValueError(f"kconv builds Sequential and functional models; the file holds a "
                     f"{kind!r} model (a subclassed model cannot be rebuilt from its config)")


_MIXED = {"on": False}  # the model being rebuilt has a mixed dtype policy somewhere


@contextlib.contextmanager
def _mixed_file():
    _MIXED["on"] = True
    try:
        yield
    finally:
        _MIXED["on"] = False


def _mixed_policies(value):
    """Whether a config holds a mixed dtype policy anywhere."""
    if isinstance(value, dict):
        if value.get("class_name") in ("DTypePolicy", "Policy") and \
                str((value.get("config") or {}).get("name", "")).startswith("mixed_"):
            return True
        return any(_mixed_policies(v) for v in value.values())
    if isinstance(value, list):
        return any(_mixed_policies(v) for v in value)
    return False


def _sequential_from_config(body, build_shape=None):
    layers = []
    for index, entry in enumerate(body.get("layers", [])):
        entry_config = entry.get("config") or {}
        if entry.get("class_name") == "InputLayer":
            layers.append(_input_from_config(entry_config))
            continue
        layer = layer_from_config(entry, index)
        if not layers and entry_config.get("batch_input_shape"):  # Keras 2's first layer
            layers.append(Input(batch_shape=tuple(entry_config["batch_input_shape"])))
        layers.append(layer)
    if layers and not isinstance(layers[0], KerasTensor):
        build = (body.get("build_input_shape") or build_shape or (body.get("layers") or [{}])[
            0].get("build_config", {}).get("input_shape"))
        if build:
            layers.insert(0, Input(batch_shape=tuple(build)))
    return Sequential(layers, name=body.get("name"))


def _history_refs(spec, operation=False):
    """``(refs, as_list)`` of one inbound node: Keras 3's ``{"args": ...}`` or Keras 2's
    ``[[name, node_index, tensor_index, kwargs], ...]``."""
    if isinstance(spec, dict):
        # A recorded ``training`` flag is the symbolic call's default; the model's mode
        # decides, as Keras's fit/evaluate/predict pass ``training`` to every layer.
        kwargs = {k: v for k, v in (spec.get("kwargs") or {}).items()
                  if not (k == "training" and v in (None, True, False))
                  and not (k == "mask" and v is None)}
        if kwargs:
            raise ValueError(f"call arguments {kwargs} are not supported by kconv")
        args = spec.get("args") or []
        if operation:  # a keras.ops node: its tensor operands, in order
            return [tuple(a["config"]["keras_history"]) for a in args
                    if _is_tensor_spec(a)], True
        first = args[0] if args else None
        as_list = isinstance(first, (list, tuple))
        items = list(first) if as_list else [first]
        refs = [tuple(item["config"]["keras_history"]) for item in items]
        return refs, as_list
    refs = [tuple(item[:3]) for item in spec]
    return refs, len(refs) > 1


def _tensor_refs(value):
    """``(structure, refs)`` of ``input_layers``/``output_layers``: one triple, a list or a
    dict of them."""
    if isinstance(value, dict):
        return tuple(value), [tuple(item[:3]) for item in value.values()]
    if value and isinstance(value[0], str):
        return None, [tuple(value[:3])]
    refs = [tuple(item[:3]) for item in value]
    return (None if len(refs) == 1 else "list"), refs


def _functional_from_config(body):
    layers, tensors, pending = {}, {}, []
    for index, entry in enumerate(body.get("layers", [])):
        name = entry.get("name") or (entry.get("config") or {}).get("name")
        if entry.get("class_name") == "InputLayer":
            tensor = _input_from_config(entry.get("config") or {})
            layers[name] = tensor._keras_history[0]
            tensors[(name, 0, 0)] = tensor
            continue
        operation = _is_operation(entry)
        layers[name] = (_operation_from_config(entry, index) if operation
                        else layer_from_config(entry, index))
        for node_index, spec in enumerate(entry.get("inbound_nodes") or []):
            try:
                refs, as_list = _history_refs(spec, operation)
            except (KeyError, TypeError, IndexError, ValueError) as e:
                raise ValueError(f"layer {index} ({name!r}): unreadable inbound node "
                                 f"({e})") from None
            pending.append((name, node_index, refs, as_list))
            training = (spec.get("kwargs") or {}).get("training") if isinstance(spec, dict) \
                else None
            if isinstance(training, bool) and isinstance(layers[name], Model):
                # A nested model's explicit training= (Keras records a default False on
                # other layers' nodes, which fit overrides; kconv honors it on models).
                layers[name]._fixed_training = training
                layers[name].train(training)
    while pending:  # call each layer once its inputs exist, in each layer's node order
        ready = [item for item in pending if all(ref in tensors for ref in item[2])
                 and not any(other[0] == item[0] and other[1] < item[1] for other in pending)]
        if not ready:
            names = sorted({item[0] for item in pending})
            raise ValueError(f"Cannot rebuild the graph: the inputs of layers {names} are "
                             "never computed")
        for name, node_index, refs, as_list in ready:
            inputs = [tensors[ref] for ref in refs]
            outputs = layers[name](inputs if as_list else inputs[0])
            for i, tensor in enumerate(outputs if isinstance(outputs, list) else [outputs]):
                tensors[(name, node_index, i)] = tensor
            pending.remove((name, node_index, refs, as_list))

    def gather(key):
        structure, refs = _tensor_refs(body.get(key) or [])
        if not refs:
            raise ValueError(f"Cannot rebuild the graph: the config has no {key}")
        missing = [ref for ref in refs if ref not in tensors]
        if missing:
            raise ValueError(f"Cannot rebuild the graph: {key} names unknown tensors {missing}")
        found = [tensors[ref] for ref in refs]
        if isinstance(structure, tuple):
            return dict(zip(structure, found))
        return found[0] if structure is None else found

    return Model(gather("input_layers"), gather("output_layers"), name=body.get("name"))
