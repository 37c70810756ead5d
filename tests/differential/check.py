"""The differential checks of one random graph against Keras (its torch backend, in this
process): files both ways, weights and parameter counts, and one epoch of ``fit``.

Tolerances (float32 throughout):
- outputs: ``|Δ| <= 1e-4 * (1 + max|reference|)`` after loading or building, and after
  ``fit`` at Keras's fitted weights (kconv's own fitted model is compared with a fresh kconv
  model given its weights, at ``1e-6``); float32 rounding is about 1e-7 relative per
  operation and these graphs are at most a dozen layers deep, so the bound leaves two
  orders of magnitude for rounding that grows with depth, while a wrong padding, axis,
  layout or formula is off by far more;
- History, ``evaluate``: ``1e-4`` relative plus ``1e-5`` (the losses are means over 24
  samples of a few operations each);
- weights after ``fit``: ``1e-4 * (1 + max|w|)``. Adam and RMSprop divide a gradient by
  its own size, so a gradient that is pure rounding noise (a bias that BatchNormalization
  cancels) steps by ``±learning_rate`` at random in either library; the layers holding such
  a weight (found by comparing kconv's float32 and float64 gradients) are frozen in both
  before ``fit``, so every weight that does train is compared at the tight bound;
- moments follow TensorFlow (:func:`keras_moments_as_tensorflow`);
- cross-entropies follow TensorFlow: where kconv computes one from the logits, Keras is fitted
  on the same graph ending in its logits (see :func:`_keras_reference`);
- ill-conditioned graphs: where kconv's float32 outputs differ from its float64 ones by a
  tenth of the output tolerance or more (a normalization of a vector that is zero but for
  rounding, say: cosines of noise), either library's float32 result is rounding noise
  amplified. The cross-library output comparisons then allow four times that measured
  error besides the tolerance, and ``fit`` is not compared (its loss would be of the
  noise); the run counts such graphs apart (:class:`IllConditioned`).
"""

import contextlib
import dataclasses
import math
import os
import warnings

import numpy as np
import torch

from tests.differential.generator import build, random_graph, stochastic

BATCH, SAMPLES, FIT_BATCH = 8, 24, 8


class Mismatch(AssertionError):
    """A difference between kconv and Keras, with the seed and a one-line reproduction."""


def reproduce(seed):
    return f"python -m tests.differential --seed {seed}"


class Skipped(Exception):
    """Keras itself refuses this graph (or computes non-finite numbers on it)."""


class IllConditioned(Exception):
    """The graph's float32 outputs are amplified rounding noise: its outputs matched
    Keras's within that noise, and fit was not compared."""


def _numpy(x):
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def _compare(seed, what, actual, expected, atol_scale=1e-4, rtol=0.0, noise=0.0):
    actual, expected = _numpy(actual).astype("float64"), _numpy(expected).astype("float64")
    if actual.shape != expected.shape:
        raise Mismatch(f"seed {seed}: {what}: shape {actual.shape} != Keras's "
                       f"{expected.shape}; reproduce: {reproduce(seed)}")
    tolerance = atol_scale * (1 + np.abs(expected).max(initial=0.0)) + rtol * np.abs(expected) \
        + 4 * noise
    excess = np.abs(actual - expected) - tolerance
    if not np.all(excess <= 0):
        worst = np.abs(actual - expected).max()
        raise Mismatch(f"seed {seed}: {what}: max |Δ| = {worst:.3g} over tolerance "
                       f"{atol_scale:g}·(1 + max|Keras|); reproduce: {reproduce(seed)}")


def random_weights(keras_model, rng):
    """Weights that keep activations near unit scale: kernels ~ N(0, 1/fan_in), small
    biases, gammas near 1, positive moving variances."""
    values = []
    for w in keras_model.weights:
        shape, path = tuple(w.shape), w.path
        if "moving_variance" in path or path.endswith("variance"):
            values.append(rng.uniform(0.5, 1.5, shape))
        elif "gamma" in path:
            values.append(1.0 + 0.2 * rng.standard_normal(shape))
        elif any(k in path for k in ("bias", "beta", "moving_mean", "alpha")):
            values.append(0.2 * rng.standard_normal(shape))
        else:
            fan_in = math.prod(shape[:-1]) if len(shape) > 1 else 1
            values.append(rng.standard_normal(shape) / math.sqrt(max(fan_in, 1)))
    return [v.astype("float32") for v in values]


def _targets(graph, outputs, rng):
    classes = outputs.shape[-1]
    labels = rng.integers(0, classes, outputs.shape[0])
    if graph.loss == "sparse_categorical_crossentropy":
        return labels
    if graph.loss == "categorical_crossentropy":
        return np.eye(classes, dtype="float32")[labels]
    if graph.loss == "binary_crossentropy":
        return (rng.random(outputs.shape) < 0.5).astype("float32")
    return rng.standard_normal(outputs.shape).astype("float32")


@contextlib.contextmanager
def keras_moments_as_tensorflow():
    """Within the block, Keras's torch backend computes TensorFlow's two-pass moments. Its
    own ``moments`` takes E[x²] - E[x]², which loses digits when a mean dwarfs the spread
    (random graphs make such inputs for BatchNormalization and GroupNormalization); the
    design follows TensorFlow, which subtracts the mean first, as kconv does."""
    from keras.src import backend

    def moments(x, axes, keepdims=False, synchronized=False):
        x = backend.convert_to_tensor(x)
        dtype = x.dtype
        x = x.float() if dtype in (torch.float16, torch.bfloat16) else x
        axes = tuple(axes) if isinstance(axes, (list, tuple)) else (axes,)
        variance, mean = torch.var_mean(x, dim=axes, keepdim=keepdims, correction=0)
        return mean.to(dtype), variance.to(dtype)

    own = backend.nn.moments
    backend.nn.moments = moments
    try:
        yield
    finally:
        backend.nn.moments = own


def check_graph(seed, workdir, fit=True):
    """Run every check on the graph of ``seed``; returns the graph. Raises
    :class:`Mismatch` on a difference and :class:`Skipped` where Keras refuses."""
    with keras_moments_as_tensorflow():
        return _check_graph(seed, workdir, fit)


def _check_graph(seed, workdir, fit):
    import keras

    import kconv

    rng = np.random.default_rng(seed + 1_000_003)
    try:
        graph = random_graph(seed, keras)
        keras.utils.set_random_seed(seed)
        k_model = build(keras, graph)
    except Exception as e:  # pragma: no cover - the generator only keeps what Keras builds
        raise Skipped(f"Keras cannot build graph {seed}: {e}") from None
    weights = random_weights(k_model, rng)
    k_model.set_weights(weights)
    x = rng.standard_normal((SAMPLES,) + graph.input_shape).astype("float32")
    try:
        expected = _numpy(keras.ops.convert_to_numpy(k_model(x[:BATCH], training=False)))
    except Exception as e:
        raise Skipped(f"Keras cannot run graph {seed}: {e}") from None
    if not np.all(np.isfinite(expected)):
        raise Skipped(f"graph {seed} is not finite in Keras")
    noise = _rounding_noise(graph, weights, x[:BATCH])
    ill = noise >= 1e-5 * (1 + np.abs(expected).max())

    # Keras's files open in kconv with Keras's outputs, weights and parameter counts.
    paths = {ext: os.path.join(workdir, f"keras{ext}") for ext in (".keras", ".h5")}
    written = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for ext, path in paths.items():
            try:
                k_model.save(path)
                written[ext] = path
            except TypeError:  # Keras 3.15 cannot write RandomBrightness into a .h5
                if ext == ".keras":
                    raise
    kconv.clear_session()
    for ext, path in written.items():
        loaded = kconv.models.load_model(path)
        _compare(seed, f"kconv.load_model(Keras's {ext}) outputs", loaded.predict(
            x[:BATCH], verbose=0), expected, noise=noise)
        _same_weights(seed, f"Keras's {ext}", loaded, k_model)

    # The same spec written against kconv (`import kconv as keras`) is the same model.
    kconv.clear_session()
    model = build(kconv, graph)
    if model.count_params() != k_model.count_params():
        raise Mismatch(f"seed {seed}: count_params {model.count_params()} != Keras's "
                       f"{k_model.count_params()}; reproduce: {reproduce(seed)}")
    _check_summary_counts(seed, model, k_model)
    model.set_weights(weights)
    _same_weights(seed, "set_weights", model, k_model)
    _compare(seed, "the model built in kconv: outputs", model.predict(x[:BATCH], verbose=0),
             expected, noise=noise)

    # kconv's files open in Keras with kconv's outputs.
    for ext in (".keras", ".h5"):
        path = os.path.join(workdir, f"kconv{ext}")
        model.save(path)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            again = keras.models.load_model(path, compile=False)
        _compare(seed, f"keras.models.load_model(kconv's {ext}) outputs",
                 keras.ops.convert_to_numpy(again(x[:BATCH], training=False)), expected,
                 noise=noise)
    if ill:
        raise IllConditioned(f"seed {seed}: float32 outputs are rounding noise (max "
                             f"|float32 - float64| = {noise:.3g}): outputs equal within it, "
                             "fit not compared")
    if fit:
        _check_fit(seed, graph, k_model, model, x, rng)
    return graph


def _rounding_noise(graph, weights, x):
    """The largest difference between kconv's float32 and float64 outputs on ``x``."""
    import kconv

    outputs = []
    for dtype in (torch.float32, torch.float64):
        model = build(kconv, graph)
        model.set_weights(weights)
        model.to(dtype).eval()
        with torch.no_grad():
            outputs.append(model(torch.from_numpy(x).to(dtype)).double())
    return float((outputs[0] - outputs[1]).abs().max())


def run_one(seed):
    """``(seed, status, detail)`` of one graph, status 'ok', 'ill-conditioned' (see
    :class:`IllConditioned`), 'skipped', 'mismatch' or 'error' (an exception in kconv or in
    the checks)."""
    import tempfile
    import traceback

    torch.set_num_threads(1)
    warnings.simplefilter("ignore")  # Keras's advice on odd draws (softmax over one unit)
    with tempfile.TemporaryDirectory() as workdir:
        try:
            check_graph(seed, workdir)
            return seed, "ok", ""
        except Skipped as e:
            return seed, "skipped", str(e)
        except IllConditioned as e:
            return seed, "ill-conditioned", str(e)
        except Mismatch as e:
            return seed, "mismatch", str(e)
        except Exception:
            return seed, "error", (f"seed {seed}: {traceback.format_exc(limit=-4)}"
                                   f"reproduce: {reproduce(seed)}")


def _same_weights(seed, what, model, k_model):
    ours, theirs = model.get_weights(), k_model.get_weights()
    if len(ours) != len(theirs):
        raise Mismatch(f"seed {seed}: {what}: {len(ours)} weights, Keras has {len(theirs)}; "
                       f"reproduce: {reproduce(seed)}")
    for i, (a, b) in enumerate(zip(ours, theirs)):
        _compare(seed, f"{what}: weight {i} ({k_model.weights[i].path})", a, b, 1e-7)


def _check_summary_counts(seed, model, k_model):
    """summary()'s totals: trainable and non-trainable parameter counts."""
    def count(weights):
        return sum(math.prod(w.shape) for w in weights)
    for what in ("trainable_weights", "non_trainable_weights"):
        ours, theirs = count(getattr(model, what)), count(getattr(k_model, what))
        if ours != theirs:
            raise Mismatch(f"seed {seed}: {what}: {ours} parameters, Keras has {theirs}; "
                           f"reproduce: {reproduce(seed)}")
    lines = []
    model.summary(print_fn=lines.append)
    text = "\n".join(lines)
    total = f"{k_model.count_params():,}"
    if f"Total params: {total}" not in text:
        raise Mismatch(f"seed {seed}: summary() does not say 'Total params: {total}'; "
                       f"reproduce: {reproduce(seed)}")


def _noisy_layers(graph, weights, x, y):
    """Positions (among the layers that hold weights) of the layers with a trainable weight
    whose gradient on the first batch is float32 rounding noise: kconv's float32 gradient
    differs from its float64 one by over 1 % of the float64 magnitude (plus Adam's 1e-7),
    or the float64 gradient is a millionth of the largest (zero in exact arithmetic).
    Adam and RMSprop divide a gradient by its own size, so such noise (a bias before
    BatchNormalization, which cancels it; anything before a LayerNormalization over one
    channel) moves the weight by a full step of random sign in either library; with SGD
    the step is small, but a constraint can magnify it (UnitNorm of one value is its
    sign)."""
    import kconv

    grads = []
    for dtype in (torch.float32, torch.float64):
        model = build(kconv, graph)
        model.set_weights(weights)
        model.to(dtype)
        model.compile("sgd", graph.loss)
        model.train()
        target = torch.as_tensor(y[:FIT_BATCH])
        loss = model._step(torch.from_numpy(x[:FIT_BATCH]).to(dtype),
                           target.to(dtype) if target.is_floating_point() else target, None,
                           training=True)[0]
        trainable = [w for w in model.weights if isinstance(w, torch.nn.Parameter)]
        grads.append([g if g is not None else torch.zeros_like(w) for w, g in zip(
            trainable, torch.autograd.grad(loss, trainable, allow_unused=True))])
        owners = [i for i, layer in enumerate(_weighted_layers(model))
                  for w in layer.weights if isinstance(w, torch.nn.Parameter)]
    noisy = set()
    scale = max((float(g.abs().max()) for g in grads[1] if g.numel()), default=0.0)
    for owner, g32, g64 in zip(owners, *grads):
        # Rounding noise now, or a gradient that is zero but for rounding (a normalizer
        # over one channel cancels it), whose float32 value is noise at every step.
        if torch.any((g32.double() - g64).abs() > 0.01 * (g64.abs() + 1e-7)) or \
                (g64.numel() and float(g64.abs().max()) <= 1e-6 * scale):
            noisy.add(owner)
    return noisy


def _weighted_layers(model):
    return [layer for layer in model.layers if layer.weights]


def _keras_reference(keras, graph, k_model, model, metric):
    """``(Keras model, loss, metric, activation)`` to fit against. kconv computes a
    cross-entropy from the logits when the model ends in the matching softmax or sigmoid, as
    TensorFlow does; Keras's torch backend clips the probabilities to ``[1e-7, 1 - 1e-7]``
    instead, and the two part once a probability saturates (the design follows TensorFlow).
    There Keras fits the same graph ending in its logits with a loss from the logits (plus
    the last layer's activity regularizer, which acts on the probabilities), and its outputs
    go through the activation (a numpy function) before they are compared."""
    ops = keras.ops
    head = model._outputs_compiled[0]
    if not model._logits_form(head.loss)[0]:
        return k_model, graph.loss, metric, None
    final = graph.nodes[graph.output - 1]
    logits_graph = dataclasses.replace(graph, nodes=graph.nodes[:graph.output - 1] + [
        dataclasses.replace(final, kwargs={**final.kwargs, "activation": None,
                                           "activity_regularizer": None})]
        + graph.nodes[graph.output:])
    reference = build(keras, logits_graph)
    reference.set_weights(k_model.get_weights())
    regularizer = keras.regularizers.get(final.kwargs.get("activity_regularizer"))
    factors = regularizer.get_config() if regularizer is not None else {}
    l1, l2 = factors.get("l1", 0.0), factors.get("l2", 0.0)
    sigmoid = final.kwargs["activation"] == "sigmoid"
    cross_entropy = getattr(keras.losses, graph.loss)

    def loss(y, z):  # per sample: Keras divides an activity penalty by the batch size
        p = ops.sigmoid(z) if sigmoid else ops.softmax(z)
        p = ops.reshape(p, (ops.shape(p)[0], -1))
        return cross_entropy(y, z, from_logits=True) + l1 * ops.sum(ops.abs(p), -1) \
            + l2 * ops.sum(ops.square(p), -1)

    if sigmoid:
        def activation(z):
            return 1 / (1 + np.exp(-np.asarray(z, "float64")))
        if metric == "mae":
            metric = keras.metrics.MeanMetricWrapper(
                lambda y, z: ops.mean(ops.abs(y - ops.sigmoid(z)), -1), name="mae")
    else:
        def activation(z):
            z = np.asarray(z, "float64")
            e = np.exp(z - z.max(-1, keepdims=True))
            return e / e.sum(-1, keepdims=True)
    return reference, loss, metric, activation


def _check_fit(seed, graph, k_model, model, x, rng):
    import keras

    import kconv

    y = _targets(graph, _numpy(k_model.predict(x, verbose=0)), rng)
    name, kwargs = graph.optimizer
    metric = "accuracy" if graph.loss.endswith("categorical_crossentropy") else "mae"
    model.compile(getattr(kconv.optimizers, name)(**kwargs), graph.loss, metrics=[metric])
    if any(stochastic(node) for node in graph.nodes):
        # Augmentation draws differ between the libraries: fit must run, then predict as a
        # fresh model with its weights (the augmentation gone).
        history = model.fit(x, y, epochs=1, batch_size=FIT_BATCH, verbose=0).history
        if not all(np.all(np.isfinite(v)) for v in history.values()):
            return  # diverged on its draws (an explosive random graph): nothing to compare
        fresh = build(kconv, graph)
        fresh.set_weights(model.get_weights())
        _compare(seed, "predict after fit with augmentation (against a fresh model)",
                 model.predict(x, verbose=0), fresh.predict(x, verbose=0), 1e-6)
        return
    k_model, loss, k_metric, activation = _keras_reference(keras, graph, k_model, model,
                                                           metric)
    k_model.compile(getattr(keras.optimizers, name)(**kwargs), loss, metrics=[k_metric])
    if activation is None:
        def activation(outputs):
            return outputs
    # Freeze, in both, the layers that would step on rounding noise (with SGD the step is
    # small, but a UnitNorm constraint on one value turns its sign into ±1).
    noisy = _noisy_layers(graph, model.get_weights(), x, y)
    for i, (ours, theirs) in enumerate(zip(_weighted_layers(model), _weighted_layers(k_model))):
        if i in noisy:
            ours.trainable = theirs.trainable = False
    fit = dict(epochs=1, batch_size=FIT_BATCH, shuffle=False, verbose=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            theirs = k_model.fit(x, y, **fit).history
        except RuntimeError as e:  # RandomBrightness adds in place, which autograd refuses
            raise Skipped(f"Keras cannot fit graph {seed}: {e}") from None
    ours = model.fit(x, y, **fit).history
    if set(ours) != set(theirs):
        raise Mismatch(f"seed {seed}: fit History keys {sorted(ours)} != Keras's "
                       f"{sorted(theirs)}; reproduce: {reproduce(seed)}")
    if not all(np.all(np.isfinite(v)) for v in theirs.values()):
        return  # Keras diverged on this draw: nothing to compare
    for key in theirs:
        _compare(seed, f"fit History[{key!r}]", ours[key], theirs[key], 1e-5, 1e-4)
    for i, (a, b) in enumerate(zip(model.get_weights(), k_model.get_weights())):
        _compare(seed, f"weight {i} ({k_model.weights[i].path}) after fit with {name}", a, b)
    # After fit: the model predicts and evaluates as a fresh kconv model given its weights
    # (no stale state), and a fresh model given Keras's fitted weights gives Keras's
    # outputs. Comparing fitted outputs across the libraries directly would bound the
    # weights' rounding times the graph's sensitivity, which some random graphs make large.
    k_evaluation = k_model.evaluate(x, y, verbose=0)
    if not np.all(np.isfinite(k_evaluation)):
        return  # the fitted model overflows in Keras too: nothing more to compare
    fresh = build(kconv, graph)
    for ours, same in zip(_weighted_layers(model), _weighted_layers(fresh)):
        same.trainable = ours.trainable  # the frozen layers too
    fresh.compile(getattr(kconv.optimizers, name)(**kwargs), graph.loss, metrics=[metric])
    fresh.set_weights(model.get_weights())
    _compare(seed, "predict after fit (against a fresh model with its weights)",
             model.predict(x, verbose=0), fresh.predict(x, verbose=0), 1e-6)
    _compare(seed, "evaluate after fit (against a fresh model with its weights)",
             model.evaluate(x, y, verbose=0), fresh.evaluate(x, y, verbose=0), 1e-6, 1e-5)
    fresh.set_weights(k_model.get_weights())
    _compare(seed, "predict with Keras's fitted weights", fresh.predict(x, verbose=0),
             activation(_numpy(k_model.predict(x, verbose=0))))
    _compare(seed, "evaluate with Keras's fitted weights", fresh.evaluate(x, y, verbose=0),
             k_evaluation, 1e-5, 1e-4)
