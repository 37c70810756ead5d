"""Random Keras models as library-neutral specs: Sequential chains and functional graphs
with branches, merges and residuals, over every layer kconv implements, all ranks, both data
formats, and each argument over its valid range (regularizers, constraints, initializers
and activations included).

A spec is data: an input shape and a list of nodes ``(class name, kwargs, input indices)``,
so the same model is built in Keras and in kconv by :func:`build`. The generator grows a
graph in Keras itself, layer by layer: a layer Keras refuses on the current shape is
replaced by another draw, so every spec is a model Keras can build.
"""

import dataclasses
import math

import numpy as np

ACTIVATIONS = ("relu", "linear", "tanh", "sigmoid", "elu", "selu", "softplus", "softsign",
               "swish", "gelu", "relu6", "hard_sigmoid", "leaky_relu", "mish", "silu",
               "exponential", "log_sigmoid", "hard_silu", "celu", "tanh_shrink", "softmax")
INITIALIZERS = ("glorot_uniform", "glorot_normal", "he_normal", "he_uniform", "lecun_normal",
                "lecun_uniform", "zeros", "ones", "orthogonal", "random_normal",
                "random_uniform", "truncated_normal",
                {"class_name": "RandomNormal",
                 "config": {"mean": 0.1, "stddev": 0.2, "seed": 3}},
                {"class_name": "VarianceScaling", "config": {
                    "scale": 2.0, "mode": "fan_avg", "distribution": "uniform", "seed": 1}},
                {"class_name": "Constant", "config": {"value": 0.5}})
MERGES = ("Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate")
TWO_INPUTS = MERGES + ("Dot",)


@dataclasses.dataclass
class Node:
    cls: str
    kwargs: dict
    inputs: tuple


@dataclasses.dataclass
class Graph:
    """A random model: ``input_shape`` (batch axis excluded), ``nodes`` in topological
    order (node i's output is tensor i + 1; tensor 0 is the input), and its output tensor
    index; ``sequential`` when it is a chain built as a ``Sequential``."""

    seed: int
    input_shape: tuple
    nodes: list
    output: int
    sequential: bool
    loss: str
    optimizer: tuple

    def describe(self):
        lines = [f"Input{self.input_shape}"]
        for i, node in enumerate(self.nodes, 1):
            lines.append(f"t{i} = {node.cls}({node.kwargs}) <- {list(node.inputs)}")
        return "\n".join(lines)


def build(lib, graph):
    """The graph's model in ``lib`` (``keras`` or ``kconv``)."""
    if graph.sequential:
        return lib.Sequential([lib.Input(graph.input_shape)]
                              + [_layer(lib, node) for node in graph.nodes])
    tensors = [lib.Input(graph.input_shape)]
    for node in graph.nodes:
        args = [tensors[i] for i in node.inputs]
        tensors.append(_layer(lib, node)(args if node.cls in TWO_INPUTS else args[0]))
    return lib.Model(tensors[0], tensors[graph.output])


def _layer(lib, node):
    return _make(lib, node.cls, node.kwargs)


def _make(lib, cls, kwargs):
    if cls == "Pipeline":  # its layers are (class name, kwargs) pairs
        return lib.layers.Pipeline([_make(lib, c, k) for c, k in kwargs["layers"]])
    if cls in ("TimeDistributed", "SpectralNormalization"):  # layer: a (class, kwargs) pair
        return getattr(lib.layers, cls)(_make(lib, *kwargs["layer"]),
                                        **{k: v for k, v in kwargs.items() if k != "layer"})
    return getattr(lib.layers, cls)(**kwargs)


# ----------------------------------------------------------------------------- arguments
class _Draw:
    """The random choices of one graph, with the current tensor's layout."""

    def __init__(self, seed):
        self.rng = np.random.default_rng(seed)

    def pick(self, options, p=None):
        return options[int(self.rng.choice(len(options), p=p))]

    def chance(self, p):
        return bool(self.rng.random() < p)

    def int(self, low, high):
        return int(self.rng.integers(low, high + 1))

    def float(self, low, high, digits=3):
        return round(float(self.rng.uniform(low, high)), digits)

    def ints(self, rank, low, high, scalar=0.4):
        """An int (Keras broadcasts it) or a tuple of ``rank`` ints."""
        if self.chance(scalar):
            return self.int(low, high)
        return tuple(self.int(low, high) for _ in range(rank))

    def activation(self):
        return self.pick(ACTIVATIONS) if self.chance(0.6) else None

    def initializer(self):
        return self.pick(INITIALIZERS)

    def regularizer(self, p=0.25):
        if not self.chance(p):
            return None
        kind = self.pick(("l1", "l2", "L1L2", "l2"))
        if kind in ("l1", "l2") and self.chance(0.3):
            return kind  # the string id, with Keras's default factor
        if kind == "L1L2":
            return {"class_name": "L1L2", "config": {"l1": self.float(1e-4, 1e-2, 5),
                                                     "l2": self.float(1e-4, 1e-2, 5)}}
        return {"class_name": kind.upper(), "config": {kind: self.float(1e-4, 1e-2, 5)}}

    def constraint(self, rank, p=0.2):
        if not self.chance(p):
            return None
        kind = self.pick(("MaxNorm", "NonNeg", "UnitNorm", "MinMaxNorm"))
        if kind == "NonNeg":
            return "non_neg" if self.chance(0.5) else {"class_name": "NonNeg", "config": {}}
        axis = self.pick([0, -1, list(range(max(rank - 1, 1)))])
        config = {"axis": axis}
        if kind == "MaxNorm":
            config["max_value"] = self.float(0.5, 3.0)
        if kind == "MinMaxNorm":
            config.update(min_value=self.float(0.0, 0.5), max_value=self.float(0.8, 2.0),
                          rate=self.float(0.2, 1.0))
        return {"class_name": kind, "config": config}


class _Shape:
    """The layout of a feature map: (batch, *spatial, C) or (batch, C, *spatial)."""

    def __init__(self, shape, data_format):
        self.shape = tuple(shape)
        self.data_format = data_format

    @property
    def rank(self):
        return len(self.shape) - 2

    @property
    def channel_axis(self):
        return -1 if self.data_format == "channels_last" else 1

    @property
    def channels(self):
        return self.shape[self.channel_axis]

    @property
    def spatial(self):
        return self.shape[1:-1] if self.data_format == "channels_last" else self.shape[2:]


def _conv_common(d, s, kernel_rank):
    """Arguments every convolution shares."""
    kwargs = {"kernel_size": d.ints(s.rank, 1, 3), "padding": d.pick(("valid", "same")),
              "activation": d.activation(), "use_bias": d.chance(0.8),
              "bias_initializer": d.initializer(), "bias_regularizer": d.regularizer(0.1),
              "activity_regularizer": d.regularizer(0.1), "bias_constraint": d.constraint(1, 0.1)}
    if d.chance(0.5):
        kwargs["strides"] = d.ints(s.rank, 1, 2)
    elif d.chance(0.4):
        kwargs["dilation_rate"] = d.ints(s.rank, 1, 2)
    if s.data_format == "channels_first" or d.chance(0.3):
        kwargs["data_format"] = s.data_format
    return kwargs


def _conv(d, s):
    kwargs = _conv_common(d, s, s.rank + 2)
    kwargs.update(filters=d.int(1, 6), kernel_initializer=d.initializer(),
                  kernel_regularizer=d.regularizer(), kernel_constraint=d.constraint(s.rank + 2))
    if d.chance(0.2):
        groups = d.pick([g for g in (1, 2, 3) if s.channels % g == 0])
        kwargs.update(groups=groups, filters=groups * d.int(1, 3))
    return f"Conv{s.rank}D", kwargs


def _conv_transpose(d, s):
    kwargs = _conv_common(d, s, s.rank + 2)
    kwargs.update(filters=d.int(1, 5), kernel_initializer=d.initializer(),
                  kernel_regularizer=d.regularizer(), kernel_constraint=d.constraint(s.rank + 2))
    return f"Conv{s.rank}DTranspose", kwargs


def _depthwise(d, s):
    if s.rank > 2:
        return None
    kwargs = _conv_common(d, s, s.rank + 2)
    kwargs.update(depth_multiplier=d.int(1, 2), depthwise_initializer=d.initializer(),
                  depthwise_regularizer=d.regularizer(),
                  depthwise_constraint=d.constraint(s.rank + 2))
    return f"DepthwiseConv{s.rank}D", kwargs


def _separable(d, s):
    if s.rank > 2:
        return None
    kwargs = _conv_common(d, s, s.rank + 2)
    kwargs.update(filters=d.int(1, 5), depth_multiplier=d.int(1, 2),
                  depthwise_initializer=d.initializer(), pointwise_initializer=d.initializer(),
                  depthwise_regularizer=d.regularizer(0.15),
                  pointwise_regularizer=d.regularizer(0.15),
                  depthwise_constraint=d.constraint(s.rank + 2, 0.1),
                  pointwise_constraint=d.constraint(s.rank + 2, 0.1))
    return f"SeparableConv{s.rank}D", kwargs


def _pooling(d, s):
    kind = d.pick(("Max", "Average"))
    if d.chance(0.2):
        kwargs = {"output_size": d.ints(s.rank, 1, 5)}
        if s.data_format == "channels_first" or d.chance(0.3):
            kwargs["data_format"] = s.data_format
        return f"Adaptive{kind}Pooling{s.rank}D", kwargs
    pool = d.ints(s.rank, 1, 3)
    kwargs = {"pool_size": pool, "padding": d.pick(("valid", "same"))}
    if d.chance(0.5):
        kwargs["strides"] = d.ints(s.rank, 1, 3)
    if kind == "Average" and kwargs["padding"] == "same" and _asymmetric_same(
            s.spatial, pool, kwargs.get("strides") or pool):
        # Keras's torch backend counts replicated pixels there (KERAS_SEMANTICS §5);
        # kconv follows TensorFlow, tested against TF's rule in test_pooling.py.
        kwargs["padding"] = "valid"
    if s.data_format == "channels_first" or d.chance(0.3):
        kwargs["data_format"] = s.data_format
    return f"{kind}Pooling{s.rank}D", kwargs


def _asymmetric_same(spatial, pool, strides):
    rank = len(spatial)
    pool = pool if isinstance(pool, tuple) else (pool,) * rank
    strides = strides if isinstance(strides, tuple) else (strides,) * rank
    return any(max((math.ceil(n / st) - 1) * st + k - n, 0) % 2
               for n, k, st in zip(spatial, pool, strides))


def _batch_norm(d, s):
    kwargs = {"axis": s.channel_axis if s.data_format == "channels_first" or d.chance(0.5)
              else len(s.shape) - 1,
              "momentum": d.pick((0.99, 0.9, d.float(0.5, 0.999))),
              "epsilon": d.pick((1e-3, 1e-5, d.float(1e-4, 1e-1, 5))),
              "center": d.chance(0.85), "scale": d.chance(0.85),
              "gamma_regularizer": d.regularizer(0.1), "beta_regularizer": d.regularizer(0.1),
              "gamma_constraint": d.constraint(1, 0.1), "beta_constraint": d.constraint(1, 0.1)}
    return "BatchNormalization", kwargs


def _layer_norm(d, s):
    if s.data_format == "channels_first" or d.chance(0.3):
        # Keras's torch backend hands contiguous non-trailing axes to F.layer_norm, which
        # refuses them: only trailing axis sets are drawn.
        axis = d.pick((-1, [len(s.shape) - 2, len(s.shape) - 1]))
    else:
        axis = -1
    kwargs = {"axis": axis, "epsilon": d.pick((1e-3, 1e-6)), "center": d.chance(0.8),
              "scale": d.chance(0.8), "gamma_regularizer": d.regularizer(0.1)}
    return "LayerNormalization", kwargs


def _group_norm(d, s):
    groups = d.pick([g for g in (1, 2, 3, 4) if s.channels % g == 0])
    return "GroupNormalization", {"groups": groups, "axis": s.channel_axis,
                                  "epsilon": d.pick((1e-3, 1e-5)), "center": d.chance(0.8),
                                  "scale": d.chance(0.8)}


def _activation(d, s):
    kind = d.pick(("Activation", "ReLU", "LeakyReLU", "PReLU", "ELU", "Softmax"))
    if kind == "Activation":
        return kind, {"activation": d.pick(ACTIVATIONS)}
    if kind == "ReLU":
        return kind, {"max_value": d.pick((None, 6.0, d.float(0.5, 3.0))),
                      "negative_slope": d.pick((0.0, d.float(0.0, 0.5))),
                      "threshold": d.pick((0.0, d.float(-0.5, 0.5)))}
    if kind == "LeakyReLU":
        return kind, {"negative_slope": d.float(0.0, 0.5)}
    if kind == "PReLU":
        shared = d.pick((None, list(range(1, len(s.shape) - 1)), [1]))
        return kind, {"alpha_initializer": d.pick(("zeros", "ones", "random_normal")),
                      "shared_axes": shared, "alpha_regularizer": d.regularizer(0.1),
                      "alpha_constraint": d.constraint(1, 0.1)}
    if kind == "ELU":
        return kind, {"alpha": d.float(0.1, 2.0)}
    return kind, {"axis": d.pick((-1, s.channel_axis))}


def _unit_norm(d, s):
    if d.chance(0.5):
        return "UnitNormalization", {"axis": d.pick((-1, s.channel_axis,
                                                     list(range(1, len(s.shape)))))}
    # Keras's torch backend hands axes to F.rms_norm, which takes trailing ones only.
    return "RMSNormalization", {"axis": d.pick((-1, [len(s.shape) - 2, len(s.shape) - 1])),
                                "epsilon": d.pick((1e-6, 1e-3))}


def _dropout(d, s):
    # Rate 0: fit's masks are random in both libraries (the noise itself is tested apart).
    kind = d.pick(("Dropout", f"SpatialDropout{s.rank}D", "GaussianNoise", "GaussianDropout",
                   "AlphaDropout"))
    if kind == "GaussianNoise":
        return kind, {"stddev": 0.0, "seed": d.int(0, 99)}
    kwargs = {"rate": 0.0}
    if kind in ("GaussianDropout", "AlphaDropout") and d.chance(0.5):
        kwargs["seed"] = d.int(0, 99)
    if kind != "Dropout" and s.rank > 1:
        kwargs["data_format"] = s.data_format
    return kind, kwargs


def _padding(d, s):
    kind = d.pick(("ZeroPadding", "Cropping", "UpSampling"))
    kwargs = {}
    if kind == "ZeroPadding":
        kwargs["padding"] = d.pick((d.int(1, 2), tuple((d.int(0, 2), d.int(0, 2))
                                                       for _ in range(s.rank))))
    elif kind == "Cropping":
        kwargs["cropping"] = tuple((d.int(0, 1), d.int(0, 1)) for _ in range(s.rank))
    else:
        kwargs["size"] = d.ints(s.rank, 1, 2)
        if s.rank == 2:
            kwargs["interpolation"] = d.pick(("nearest", "bilinear"))
    if s.rank == 1:
        kwargs = {{"padding": "padding", "cropping": "cropping", "size": "size"}[k]:
                  (v[0] if isinstance(v, tuple) and k != "padding" else v)
                  for k, v in kwargs.items()}
        if kind == "ZeroPadding" and isinstance(kwargs["padding"], tuple):
            kwargs["padding"] = kwargs["padding"][0]
        if kind == "UpSampling" and isinstance(kwargs["size"], tuple):
            kwargs["size"] = kwargs["size"][0]
    elif s.data_format == "channels_first" or d.chance(0.3):
        kwargs["data_format"] = s.data_format
    return f"{kind}{s.rank}D", kwargs


def _rescaling(d, s):
    if d.chance(0.4):  # Normalization with its statistics given
        channels = s.channels
        return "Normalization", {
            "axis": s.channel_axis, "mean": [d.float(-1.0, 1.0) for _ in range(channels)],
            "variance": [d.float(0.2, 3.0) for _ in range(channels)],
            "invert": d.chance(0.2)}
    if s.data_format == "channels_last" and d.chance(0.3):  # per channel (the last axis)
        return "Rescaling", {"scale": [d.float(-2.0, 2.0) for _ in range(s.channels)],
                             "offset": [d.float(-1.0, 1.0) for _ in range(s.channels)]}
    return "Rescaling", {"scale": d.float(-2.0, 2.0), "offset": d.float(-1.0, 1.0)}


def _reshape(d, s):
    """Permute or Reshape that keep the channel axis where the data format has it."""
    spatial = list(s.spatial)
    first = 1 if s.data_format == "channels_last" else 2  # the first spatial axis
    if s.rank > 1 and d.chance(0.5):
        order = list(range(first, first + s.rank))
        d.rng.shuffle(order)
        dims = order + [len(s.shape) - 1] if s.data_format == "channels_last" else \
            [1] + order
        return "Permute", {"dims": tuple(dims)}
    if d.chance(0.5) and s.rank > 1:  # merge the spatial axes into one
        spatial = [math.prod(spatial)]
    else:
        spatial = spatial[::-1]
    target = tuple(spatial) + (s.channels,) if s.data_format == "channels_last" else \
        (s.channels,) + tuple(spatial)
    return "Reshape", {"target_shape": target}


def _augmentation(d, s):
    """An image preprocessing layer (rank 2 only). Half the random ones take factors of
    zero, which make them the identity in fit too, so that fit can be compared; RandomCrop
    keeps the input's size (Keras 3.15 returns its input unchanged in inference, so a real
    crop breaks Keras's own predict)."""
    if s.rank != 2:
        return None
    height, width = s.spatial
    fmt = {"data_format": s.data_format}
    quiet = d.chance(0.5)

    def factor(low=-0.5):
        if quiet:
            return 0.0
        return d.pick((d.float(0.0, 0.5), (d.float(low, 0.0), d.float(0.0, 0.5))))
    geometric = {"fill_mode": d.pick(("reflect", "wrap", "constant", "nearest")),
                 "interpolation": d.pick(("bilinear", "nearest")),
                 "fill_value": d.float(-1.0, 1.0), "seed": d.int(0, 99), **fmt}
    kinds = ("RandomFlip", "RandomRotation", "RandomZoom", "RandomTranslation",
             "RandomContrast", "RandomBrightness", "RandomCrop", "Resizing", "CenterCrop",
             "RandomInvert", "Solarization", "RandomPosterization", "RandomSharpness",
             "RandomShear", "RandomGaussianBlur", "RandomErasing", "CutMix", "MixUp",
             "RandomPerspective", "RandomElasticTransform", "AugMix",
             "ContrastLimitedAdaptiveHistogramEqualization")
    # Not Equalization: Keras 3.15's symbolic call returns its input tensor itself, so a
    # Keras graph silently leaves the layer out (tests/kconv/layers/preprocessing tests it).
    if s.data_format == "channels_last":  # Keras 3.15 takes channels_first extrema wrongly
        kinds += ("AutoContrast",)
    if s.channels == 3:  # the colour layers take RGB only
        kinds += ("RandomGrayscale", "RandomColorDegeneration", "RandomSaturation",
                  "RandomHue", "RandomColorJitter", "RandAugment")
    kind = d.pick(kinds)
    value_range = {"value_range": d.pick(((0, 255), (-1, 1), (0, 1), (-4, 4)))}
    if kind in ("RandomInvert", "RandomGrayscale"):
        return kind, {"factor": 0.0 if quiet else d.float(0.0, 1.0), **fmt,
                      **({} if kind == "RandomGrayscale" else value_range)}
    if kind == "Solarization":
        return kind, {"addition_factor": 0.0 if quiet else d.float(0.0, 0.5),
                      "threshold_factor": 0.0 if quiet else d.float(0.0, 1.0), **value_range,
                      **fmt}
    if kind == "RandomPosterization":
        bits = d.int(1, 8)
        return kind, {"factor": (bits, bits) if quiet else d.int(2, 8), **value_range, **fmt}
    if kind == "RandomSharpness":
        return kind, {"factor": (0.5, 0.5) if quiet else d.float(0.0, 1.0), **value_range,
                      **fmt}
    if kind == "RandomShear":  # pairs in [0, 1]: Keras cannot load its config of a number
        return kind, {"x_factor": 0.0 if quiet else (0.0, d.float(0.0, 0.5)),
                      "y_factor": 0.0 if quiet else (d.float(0.0, 0.2), d.float(0.2, 0.5)),
                      **geometric}
    if kind == "RandomGaussianBlur":
        size = d.pick((1, 3, 5))
        return kind, {"factor": 0.0 if quiet else d.float(0.2, 1.0), "kernel_size": size,
                      "sigma": d.pick((1.0, (d.float(0.1, 0.5), d.float(0.5, 1.0)))),
                      **value_range, **fmt}
    if kind == "RandomPerspective":
        return kind, {"factor": 0.0 if quiet else d.float(0.2, 1.0),
                      "scale": d.float(0.0, 1.0), "fill_value": geometric["fill_value"],
                      "interpolation": geometric["interpolation"], **fmt}
    if kind == "RandomErasing":
        return kind, {"factor": 0.0 if quiet else d.float(0.2, 1.0),
                      "scale": d.pick(((0.02, 0.33), (d.float(0.0, 0.3), d.float(0.3, 1.0)))),
                      "fill_value": d.pick((None, d.float(-1.0, 1.0))), **value_range, **fmt}
    if kind == "RandomElasticTransform":
        return kind, {"factor": 0.0 if quiet else d.pick((1.0, d.float(0.2, 1.0))),
                      "scale": d.pick((d.float(0.0, 1.0), (d.float(0.0, 0.4), d.float(0.4, 1.0)))),
                      **geometric, "fill_mode": d.pick(("reflect", "mirror", "wrap", "constant",
                                                        "nearest")), **value_range}
    if kind == "AugMix":  # the colour operations take RGB only
        return kind, {**value_range, **fmt, "num_chains": d.int(1, 3),
                      "chain_depth": d.int(1, 3), "factor": d.float(0.05, 0.9),
                      "alpha": d.float(0.3, 2.0), "all_ops": s.channels == 3 and d.chance(0.5),
                      "interpolation": geometric["interpolation"], "seed": d.int(0, 99)}
    if kind == "ContrastLimitedAdaptiveHistogramEqualization":
        return kind, _clahe(d, height, width, {**value_range, **fmt})
    if kind == "CutMix":
        return kind, {"factor": d.float(0.1, 1.0), **fmt}
    if kind == "MixUp":
        return kind, {"alpha": d.float(0.1, 1.0), **fmt}
    if kind == "AutoContrast":
        return kind, {**value_range, **fmt}
    if kind in ("RandomColorDegeneration", "RandomSaturation", "RandomHue"):
        return kind, {"factor": 0.0 if quiet else d.float(0.0, 0.9), **value_range, **fmt}
    if kind == "RandAugment":
        strength = d.pick((d.float(0.05, 0.9), (d.float(0.0, 0.3), d.float(0.3, 0.9))))
        return kind, {**value_range, **fmt, "num_ops": d.int(1, 3), "factor": strength,
                      "interpolation": geometric["interpolation"], "seed": d.int(0, 99)}
    if kind == "RandomColorJitter":
        return kind, {**value_range, **fmt, **{
            f"{part}_factor": d.pick((None, 0.0 if quiet else d.float(0.05, 0.5)))
            for part in ("brightness", "contrast", "saturation", "hue")}}
    if kind == "RandomFlip":
        return kind, {"mode": d.pick(("horizontal", "vertical", "horizontal_and_vertical")),
                      **fmt}
    if kind == "RandomRotation":
        return kind, {"factor": factor(), **geometric}
    if kind == "RandomZoom":
        return kind, {"height_factor": factor(-0.4),
                      "width_factor": d.pick((None, factor(-0.4))), **geometric}
    if kind == "RandomTranslation":
        return kind, {"height_factor": factor(), "width_factor": factor(), **geometric}
    if kind in ("RandomContrast", "RandomBrightness"):
        value = 0.0 if quiet else d.float(0.0, 0.9) if kind == "RandomContrast" else factor()
        return kind, {"factor": value, "value_range": d.pick(((0, 255), (-1, 1), (0, 1))),
                      **fmt}
    if kind == "RandomCrop":
        return kind, {"height": height, "width": width, **fmt}
    if kind == "CenterCrop":
        return kind, {"height": d.int(2, height + 2), "width": d.int(2, width + 2), **fmt}
    aspect = d.pick(({}, {"crop_to_aspect_ratio": True},
                     {"pad_to_aspect_ratio": True, "fill_value": d.float(-1.0, 1.0)}))
    return kind, {"height": d.int(2, 12), "width": d.int(2, 12),
                  "interpolation": d.pick(("bilinear", "nearest", "bicubic")),
                  "antialias": d.chance(0.3), **aspect, **fmt}


def _clahe(d, height, width, common):
    """A grid that divides the image and a clip limit that is a whole number of pixels (or
    none): there Keras on torch computes what TensorFlow does (elsewhere it pads by
    repeating the edge and truncates the limit; kconv follows TensorFlow)."""
    grid = tuple(d.pick([g for g in range(1, size + 1) if size % g == 0])
                 for size in (height, width))
    area = (height // grid[0]) * (width // grid[1])
    limits = [0.0, d.float(256.0, 300.0)]  # none, or above any count
    if area & (area - 1) == 0:  # a power of two: 256·k/area is exact
        limits.append(256.0 * d.int(1, 3) / area)
    return {"clip_limit": d.pick(limits), "tile_grid_size": grid, **common}


def stochastic(node):
    """Whether a node draws random numbers in training, or jumps at its inputs' rounding
    (CLAHE's mapping of a tile of a few pixels sends each to 0 or 255 by which of a few
    histogram bins it falls in, so the rounding differences of the first step decide the
    second): then fit cannot be compared step by step."""
    if node.cls == "ContrastLimitedAdaptiveHistogramEqualization":
        return True
    if node.cls == "Pipeline":
        return any(stochastic(Node(c, k, ())) for c, k in node.kwargs["layers"])
    if node.cls == "TimeDistributed":
        return stochastic(Node(*node.kwargs["layer"], ()))
    if node.cls in ("RandomFlip", "CutMix", "MixUp", "RandAugment", "AugMix"):
        return True
    if node.cls in ("RandomPosterization", "RandomSharpness"):
        return not isinstance(node.kwargs["factor"], tuple)
    keys = ("factor", "height_factor", "width_factor", "addition_factor", "threshold_factor",
            "x_factor", "y_factor", "brightness_factor", "contrast_factor", "saturation_factor",
            "hue_factor")
    return (node.cls.startswith("Random") or node.cls == "Solarization") and \
        node.cls != "RandomCrop" and any(node.kwargs.get(k) not in (None, 0.0) for k in keys)


def _pipeline(d, s):
    """A Pipeline of one to three image preprocessing draws on the same shape."""
    if s.rank != 2:
        return None
    parts = [_augmentation(d, s) for _ in range(d.int(1, 3))]
    parts = [p for p in parts if p[0] not in ("Resizing", "CenterCrop", "RandomCrop")]
    return ("Pipeline", {"layers": parts}) if parts else None


def _time_distributed(d, s):
    """A layer of one rank less applied along the first spatial axis (channels_last)."""
    if s.data_format != "channels_last" or s.rank < 2:
        return None
    rank = s.rank - 1
    kind = d.pick(("conv", "batch_norm", "pool", "dense"))
    if kind == "conv":
        inner = (f"Conv{rank}D", {"filters": d.int(1, 4), "kernel_size": d.ints(rank, 1, 3),
                                  "padding": "same", "activation": d.activation(),
                                  "kernel_regularizer": d.regularizer()})
    elif kind == "batch_norm":
        inner = ("BatchNormalization", {"momentum": d.pick((0.99, 0.8)),
                                        "center": d.chance(0.8)})
    elif kind == "pool":
        inner = (f"{d.pick(('Max', 'Average'))}Pooling{rank}D",
                 {"pool_size": d.ints(rank, 1, 2), "padding": "same"})
    else:
        inner = ("Dense", {"units": d.int(1, 4), "activation": d.activation()})
    return "TimeDistributed", {"layer": inner}


def _spectral(d, s):
    """A convolution (plain, transposed or depthwise) or a Dense on the last axis, its
    kernel spectrally normalized in training."""
    family = d.pick((_conv, _conv_transpose, _depthwise, None))
    inner = family(d, s) if family is not None else \
        _dense(d, d.int(1, 5), d.activation())
    if inner is None:
        return None
    return "SpectralNormalization", {"layer": inner, "power_iterations": d.int(1, 3)}


def _pass_through(d, s):
    if d.chance(0.5):
        return "Identity", {}
    return "ActivityRegularization", {"l1": d.pick((0.0, d.float(0.0, 0.01, 4))),
                                      "l2": d.pick((0.0, d.float(0.0, 0.01, 4)))}


# Each family with its weight in the draw.
FEATURE_MAP_LAYERS = ((_conv, 6), (_conv_transpose, 1.5), (_depthwise, 1.5), (_separable, 1.5),
                      (_pooling, 3), (_batch_norm, 2.5), (_layer_norm, 1), (_group_norm, 1),
                      (_activation, 2.5), (_dropout, 1), (_padding, 2), (_rescaling, 0.5),
                      (_unit_norm, 0.7), (_pass_through, 0.5), (_augmentation, 2.5),
                      (_reshape, 0.7), (_pipeline, 0.3), (_time_distributed, 0.7),
                      (_spectral, 0.8))


def _head(d, s):
    """Flatten or global pooling, then Dense layers."""
    if d.chance(0.4):
        return "Flatten", {"data_format": s.data_format} if d.chance(0.5) else {}
    kind = d.pick(("Average", "Max"))
    kwargs = {"data_format": s.data_format} if s.data_format == "channels_first" or \
        d.chance(0.3) else {}
    return f"Global{kind}Pooling{s.rank}D", kwargs


def _dense(d, units, activation):
    return "Dense", {"units": units, "activation": activation, "use_bias": d.chance(0.85),
                     "kernel_initializer": d.initializer(),
                     "kernel_regularizer": d.regularizer(), "bias_regularizer": d.regularizer(0.1),
                     "kernel_constraint": d.constraint(2), "bias_constraint": d.constraint(1, 0.1),
                     "activity_regularizer": d.regularizer(0.1)}


# ----------------------------------------------------------------------------- graphs
class _Builder:
    """Grows a spec while building it in Keras, to learn shapes and refusals."""

    def __init__(self, keras, seed, d, input_shape):
        self.keras, self.d = keras, d
        self.policies = np.random.default_rng([seed, 8])  # apart: the graphs stay as drawn
        self.tensors = [keras.Input(input_shape)]
        self.nodes = []

    def add(self, cls, kwargs, inputs):
        """Append the node if Keras builds it; its tensor index, or None. Now and then the
        layer states Keras's ``dtype="float32"`` policy explicitly (its config and files
        then carry it both ways; mixed policies round differently in the two libraries, by
        design, and are checked apart in tests/kconv/mixed_precision)."""
        if cls != "Pipeline" and self.policies.random() < 0.08:
            kwargs = {**kwargs, "dtype": "float32"}
        args = [self.tensors[i] for i in inputs]
        try:
            layer = _make(self.keras, cls, kwargs)
            out = layer(args if cls in TWO_INPUTS else args[0])
        except Exception:  # Keras refuses this draw (shape too small, bad combination)
            return None
        if any(dim == 0 for dim in out.shape[1:]) or math.prod(out.shape[1:]) > 4096:
            return None
        self.nodes.append(Node(cls, kwargs, tuple(inputs)))
        self.tensors.append(out)
        return len(self.tensors) - 1

    def shape(self, index, data_format):
        return _Shape(self.tensors[index].shape, data_format)


def random_graph(seed, keras):
    """The random model of ``seed`` (deterministic), grown in ``keras``."""
    d = _Draw(seed)
    rank = d.pick((1, 2, 3), p=(0.25, 0.6, 0.15))
    data_format = "channels_first" if d.chance(0.3) else "channels_last"
    size = {1: (10, 18), 2: (6, 11), 3: (4, 7)}[rank]
    spatial = tuple(d.int(*size) for _ in range(rank))
    channels = d.int(1, 4)
    shape = spatial + (channels,) if data_format == "channels_last" else (channels,) + spatial
    keras.backend.clear_session()
    b = _Builder(keras, seed, d, shape)
    sequential = d.chance(0.35)
    current = 0
    depth = d.int(2, 7)
    families, weights = zip(*FEATURE_MAP_LAYERS)
    p = np.array(weights) / sum(weights)
    while len(b.nodes) < depth:
        s = b.shape(current, data_format)
        if not sequential and d.chance(0.3) and len(b.nodes) + 2 <= depth + 2:
            merged = _branch_and_merge(b, d, current, data_format)
            if merged is not None:
                current = merged
                continue
        draw = families[int(d.rng.choice(len(families), p=p))](d, s)
        if draw is None:
            continue
        index = b.add(draw[0], draw[1], [current])
        if index is not None:
            current = index
    s = b.shape(current, data_format)
    index = None
    while index is None:
        index = b.add(*_head(d, s), [current])
    current = index
    if d.chance(0.15):  # (N, F) -> (N, n, F) -> (N, n·F)
        repeated = b.add("RepeatVector", {"n": d.int(1, 3)}, [current])
        if repeated is not None:
            current = b.add("Flatten", {}, [repeated]) or current
    if not sequential and d.chance(0.2):  # two projections and their (cosine) product
        units = d.int(2, 6)
        left = b.add(*_dense(d, units, d.activation()), [current])
        right = b.add(*_dense(d, units, d.activation()), [current])
        if left is not None and right is not None:
            current = b.add("Dot", {"axes": d.pick((1, -1)), "normalize": d.chance(0.5)},
                            [left, right]) or current
    if d.chance(0.4):
        current = b.add(*_dense(d, d.int(2, 8), d.activation()), [current]) or current
    loss = d.pick(("sparse_categorical_crossentropy", "categorical_crossentropy", "mse",
                   "binary_crossentropy"))
    classes = d.int(2, 4)
    activation = {"mse": d.pick((None, "tanh")), "binary_crossentropy": "sigmoid"}.get(
        loss, "softmax")
    final = None
    while final is None:
        final = b.add(*_dense(d, classes, activation), [current])
    optimizer = d.pick((("SGD", {"learning_rate": d.float(0.005, 0.05), "momentum": d.pick(
        (0.0, 0.9)), "nesterov": d.chance(0.3)}),
        ("Adam", {"learning_rate": d.float(1e-4, 5e-3, 5), "amsgrad": d.chance(0.2)}),
        ("RMSprop", {"learning_rate": d.float(1e-4, 5e-3, 5), "rho": d.pick((0.9, 0.8)),
                     "momentum": d.pick((0.0, 0.5)), "centered": d.chance(0.2)})))
    return Graph(seed, shape, b.nodes, final, sequential, loss, optimizer)


def _branch_and_merge(b, d, current, data_format):
    """A side branch from the current tensor (or an earlier one of the same shape) that
    keeps its shape, merged back: residuals, gates and concatenations."""
    s = b.shape(current, data_format)
    same = [i for i, t in enumerate(b.tensors) if tuple(t.shape) == s.shape]
    start = d.pick(same)
    merge = d.pick(MERGES)
    filters = s.channels if merge != "Concatenate" else d.int(1, 4)
    conv = {"filters": filters, "kernel_size": d.ints(s.rank, 1, 3), "padding": "same",
            "activation": d.activation(), "kernel_initializer": d.initializer(),
            "kernel_regularizer": d.regularizer()}
    if data_format == "channels_first" or d.chance(0.3):
        conv["data_format"] = data_format
    branch = b.add(f"Conv{s.rank}D", conv, [start])
    if branch is None:
        return None
    if d.chance(0.4):
        name, kwargs = d.pick((_batch_norm, _activation, _dropout))(d, b.shape(branch,
                                                                               data_format))
        branch = b.add(name, kwargs, [branch]) or branch
    kwargs = {"axis": s.channel_axis} if merge == "Concatenate" else {}
    inputs = [current, branch] if d.chance(0.5) else [branch, current]
    return b.add(merge, kwargs, inputs)
