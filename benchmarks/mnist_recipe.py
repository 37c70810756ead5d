"""The MNIST recipe end to end (MNIST CNN, RMSprop, batch 64, 5 epochs, the embedded data,
validation on the test images every epoch): wall time and test accuracy of
``python train.py``, of the Keras lecture code run on kconv (``compile``/``fit``), of the
same code in Keras 3 on TensorFlow and of a plain torch loop, each in its own process,
printed side by side with ratios.
Targets: train.py <= 0.8x Keras-TF; kconv fit <= 1.05x the torch loop and <= 0.75x
Keras-TF; all at about 0.99 test accuracy.

Run: python benchmarks/mnist_recipe.py [--epochs 5] [--tf-python PATH]
(the Keras-TF column needs tensorflow-cpu, in this interpreter or in the one given by
--tf-python, e.g. a separate virtual environment; it is reported as failed otherwise)
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _mnist():
    """The embedded MNIST, read by kconv's loader module alone (no torch import, so a
    TensorFlow-only interpreter can run the Keras worker)."""
    import importlib.util

    path = os.path.join(ROOT, "kconv", "datasets", "mnist.py")
    spec = importlib.util.spec_from_file_location("mnist_loader", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.load_data()


def keras_tf(epochs):
    os.environ["KERAS_BACKEND"] = "tensorflow"
    import keras
    import numpy as np

    (x, y), (xt, yt) = _mnist()
    x = x[..., None].astype("float32") / 255
    xt = xt[..., None].astype("float32") / 255
    keras.utils.set_random_seed(42)
    return float(np.float64(_lecture_recipe(keras, (x, y), (xt, yt), epochs)))


def _lecture_recipe(lib, train, test, epochs):
    """The lecture's Keras code, on ``lib`` (keras or kconv): the test accuracy."""
    L = lib.layers
    model = lib.Sequential([
        lib.Input((28, 28, 1)), L.Conv2D(32, 3, activation="relu"), L.MaxPooling2D(2),
        L.Conv2D(64, 3, activation="relu"), L.MaxPooling2D(2), L.Conv2D(64, 3, activation="relu"),
        L.Flatten(), L.Dense(64, activation="relu"), L.Dense(10, activation="softmax")])
    model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(*train, batch_size=64, epochs=epochs, validation_data=test, verbose=2)
    return model.evaluate(*test, batch_size=256, verbose=0)[1]


def kconv_fit(epochs):
    """The lecture's Keras code on kconv: Sequential, compile, fit, evaluate."""
    sys.path.insert(0, ROOT)
    import kconv

    (x, y), (xt, yt) = _mnist()
    x = x[..., None].astype("float32") / 255
    xt = xt[..., None].astype("float32") / 255
    kconv.utils.set_random_seed(42)
    return float(_lecture_recipe(kconv, (x, y), (xt, yt), epochs))


def plain_torch(epochs):
    import torch
    import torch.nn.functional as F

    sys.path.insert(0, ROOT)
    from benchmarks.train_step import TorchMnistCNN
    torch.manual_seed(42)
    (x, y), (xt, yt) = (tuple(map(torch.from_numpy, split)) for split in _mnist())
    x = (x.float() / 255)[:, None].contiguous(memory_format=torch.channels_last)
    xt = (xt.float() / 255)[:, None].contiguous(memory_format=torch.channels_last)
    model = TorchMnistCNN().to(memory_format=torch.channels_last)
    opt = torch.optim.RMSprop(model.parameters(), lr=1e-3, alpha=0.9, eps=1e-7)
    for _ in range(epochs):
        model.train()
        for idx in torch.randperm(len(y)).split(64):
            loss = F.cross_entropy(model(x[idx]), y[idx].long())
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            acc = sum((model(xt[i:i + 256]).argmax(1) == yt[i:i + 256]).sum().item()
                      for i in range(0, len(yt), 256)) / len(yt)
        print(f"val_acc {acc:.4f}", flush=True)
    return acc


def run_train_py(epochs):
    with tempfile.TemporaryDirectory() as out:
        subprocess.run([sys.executable, os.path.join(ROOT, "train.py"), "--epochs", str(epochs),
                        "--out-dir", out], check=True, cwd=ROOT, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        with open(os.path.join(out, "report.json")) as f:
            return json.load(f)["accuracy"]


def timed(name, epochs, python):
    start = time.perf_counter()
    result = subprocess.run([python, __file__, "--worker", name, "--epochs", str(epochs)],
                            capture_output=True, text=True, cwd=ROOT)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        return seconds, None, result.stderr.strip().splitlines()[-1]
    return seconds, float(result.stdout.strip().splitlines()[-1]), None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--tf-python", default=sys.executable,
                        help="the interpreter that has tensorflow-cpu (default: this one)")
    parser.add_argument("--worker", choices=tuple(WORKERS), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(WORKERS[args.worker](args.epochs))
        return
    rows = {name: timed(name, args.epochs,
                        args.tf_python if name == "keras-tf" else sys.executable)
            for name in WORKERS}
    print(f"MNIST recipe, {args.epochs} epochs, batch 64, {os.cpu_count()} CPUs")
    print(f"{'run':<10} {'wall s':>8} {'test acc':>9} {'vs keras-tf':>12} {'vs torch':>9}")
    bases = {name: rows[name][0] if rows[name][1] is not None else None
             for name in ("keras-tf", "torch")}
    for name, (seconds, acc, error) in rows.items():
        if acc is None:
            print(f"{name:<10} failed: {error}")
            continue
        ratios = [f"{seconds / base:{width}.2f}" if base else f"{'-':>{width}}"
                  for base, width in ((bases["keras-tf"], 12), (bases["torch"], 9))]
        print(f"{name:<10} {seconds:8.1f} {acc:9.4f} {ratios[0]} {ratios[1]}")


WORKERS = {"train.py": run_train_py, "fit": kconv_fit, "keras-tf": keras_tf,
           "torch": plain_torch}


if __name__ == "__main__":
    main()
