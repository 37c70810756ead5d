"""Keras Applications networks in kconv vs Keras 3 on its torch backend vs the same network
through TF -> ONNX -> onnx2torch, and torchvision's own build of the architecture (the
hand-written torch equivalent, where torchvision is installed): inference and
training-step images/s, ratios from one interleaved run.

Every contender runs the same weights: each network is built in Keras (``weights=None``,
logits), saved as ``.keras``; kconv opens that file with ``kconv.models.load_model``; the
converter path loads it in Keras on TensorFlow (``--tf-python``, a Python with
tensorflow-cpu, tf2onnx and onnx: Keras's ``model.export(format="onnx")`` runs tf2onnx there),
and ``onnx2torch`` turns the ONNX graph into a torch module here (``pip install onnx2torch``).
A contender whose packages are missing is reported as skipped. Outputs are checked against
Keras's before timing.

The training step is forward + mean-square loss + backward, in training mode (BatchNormalization
on batch statistics) for kconv and Keras. The ONNX graph is an inference graph (its
BatchNormalization uses the moving statistics, some of it folded into the convolutions), so
its training step does less work than the others: it is printed as a bound and left out of
"the fastest other".

torchvision's networks are its own variants (ResNet50 v1.5, its MobileNetV2 and
EfficientNetB0), close to Keras's in size and work but not the same weights.

Inference also times kconv with ``fold_batch_norm = False`` (kconv-unfolded: each
BatchNormalization run as written, outputs equal to Keras's to the bit).

Target (issue 13): kconv >= 1.0x the fastest other contender.

Run: python benchmarks/applications.py [--models ResNet50,MobileNetV2,EfficientNetB0]
     [--size 96] [--batch 8] [--rounds 5] [--tf-python PATH]
"""

import argparse
import os
import subprocess
import sys
import tempfile

os.environ.setdefault("KERAS_BACKEND", "torch")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402
import torch  # noqa: E402

import kconv  # noqa: E402
from benchmarks.functional import keras_step, step  # noqa: E402
from benchmarks.timing import interleaved  # noqa: E402

EXPORT = """
import os, sys
os.environ["KERAS_BACKEND"] = "tensorflow"
import keras, numpy as np
model = keras.models.load_model(sys.argv[1])
model(np.zeros((1,) + tuple(model.input_shape[1:]), "float32"))  # export needs a called model
model.export(sys.argv[2], format="onnx", verbose=False)
"""


def onnx_module(keras_path, tf_python, folder):
    """The network as a torch module through TF -> ONNX -> onnx2torch, or the reason why
    not."""
    if not tf_python:
        return "no --tf-python given"
    try:
        from onnx2torch import convert
    except ImportError:
        return "onnx2torch is not installed"
    onnx_path = os.path.join(folder, "model.onnx")
    done = subprocess.run([tf_python, "-c", EXPORT, keras_path, onnx_path],
                          capture_output=True, text=True)
    if done.returncode != 0:
        return "export failed: " + (done.stderr.strip().splitlines() or ["?"])[-1]
    module = convert(onnx_path)
    inputs = [n.name for n in module.graph.nodes if n.op == "placeholder"]
    if len(inputs) != 1:  # e.g. EfficientNet's Normalization statistics left as inputs
        return f"the converted graph takes {len(inputs)} inputs ({', '.join(inputs)})"
    return module


TORCHVISION = {"ResNet50": "resnet50", "MobileNetV2": "mobilenet_v2",
               "EfficientNetB0": "efficientnet_b0"}


def torchvision_module(name):
    """torchvision's own build of the architecture (the hand-written torch equivalent: the
    same family, torchvision's variant of it, NCHW), or the reason why not."""
    try:
        import torchvision
    except ImportError:
        return "torchvision is not installed"
    if name not in TORCHVISION:
        return f"torchvision has no {name}"
    return getattr(torchvision.models, TORCHVISION[name])(weights=None, num_classes=1000)


def forward(model, x, fold=True):
    def run():
        if isinstance(model, kconv.Model):
            model.fold_batch_norm = fold
        with torch.inference_mode():
            model(x)
    return run


def keras_forward(model, x):
    def run():
        with torch.inference_mode():
            model(x, training=False)
    return run


def check(name, ours, theirs):
    scale = float(np.abs(theirs).max())
    error = float(np.abs(ours - theirs).max()) / max(scale, 1e-12)
    print(f"  {name}: max |difference| / max |Keras| = {error:.1e}")


def report(title, seconds, batch, unequal=()):
    """Print images/s and ratios; ``unequal``: contenders that do less work here (read
    as bounds, left out of "the fastest other")."""
    base = seconds["kconv"]
    print(f"  {title}: images/s, and kconv's speed over each")
    for name, s in seconds.items():
        mark = "  (less work: a bound)" if name in unequal else ""
        print(f"    {name:<14} {batch / s:9.1f} img/s   kconv/{name} {s / base:5.2f}{mark}")
    others = [s for name, s in seconds.items()
              if not name.startswith("kconv") and name not in unequal]
    if others:
        print(f"    kconv over the fastest other doing the same work: {min(others) / base:.2f}x")


def bench(name, args, folder):
    import keras

    keras.utils.set_random_seed(0)
    k_model = getattr(keras.applications, name)(
        weights=None, input_shape=(args.size, args.size, 3), classes=1000,
        classifier_activation=None)
    path = os.path.join(folder, f"{name}.keras")
    k_model.save(path)
    ours = kconv.models.load_model(path)
    converted = onnx_module(path, args.tf_python, folder)
    hand = torchvision_module(name)
    x = torch.from_numpy(np.random.default_rng(0).uniform(
        0, 255, (args.batch, args.size, args.size, 3)).astype("float32"))

    print(f"\n{name} at {args.size}x{args.size}, batch {args.batch}, "
          f"{k_model.count_params():,} parameters")
    theirs = keras.ops.convert_to_numpy(k_model(x, training=False))
    with torch.inference_mode():
        check("kconv", ours.eval()(x).numpy(), theirs)
        if isinstance(converted, torch.nn.Module):
            check("onnx2torch", converted.eval()(x).numpy(), theirs)
        else:
            print(f"  onnx2torch skipped: {converted}")
    xn = x.permute(0, 3, 1, 2).contiguous()
    if isinstance(hand, torch.nn.Module):
        print(f"  torchvision {TORCHVISION[name]}: {sum(p.numel() for p in hand.parameters()):,} "
              "parameters (its own variant; timed on NCHW input)")
    else:
        print(f"  torchvision skipped: {hand}")

    others = {"onnx2torch": (converted, x), "torchvision": (hand, xn)}
    for title, run, keras_run, training in (("inference", forward, keras_forward, False),
                                            ("training step", step, keras_step, True)):
        contenders = {"kconv": run(ours.train(training), x),
                      "keras-torch": keras_run(k_model, x)}
        if not training:  # BatchNormalization folded (the default) and not
            contenders["kconv-unfolded"] = forward(ours, x, fold=False)
        for label, (module, inputs) in others.items():
            if isinstance(module, torch.nn.Module):
                contenders[label] = run(module.train(training), inputs)
        # The converted graph has no BatchNormalization left to train (folded into the
        # convolutions): its training step computes no batch statistics.
        report(title, interleaved(contenders, args.rounds, warmup=2), args.batch,
               unequal=("onnx2torch",) if training else ())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="ResNet50,MobileNetV2,EfficientNetB0")
    parser.add_argument("--size", type=int, default=96)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--tf-python", help="a Python with tensorflow-cpu, tf2onnx and onnx")
    args = parser.parse_args(argv)
    print(f"torch={torch.__version__} threads={torch.get_num_threads()}")
    with tempfile.TemporaryDirectory() as folder:
        for name in args.models.split(","):
            bench(name, args, folder)


if __name__ == "__main__":
    main()
