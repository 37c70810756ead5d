"""The MNIST recipe end to end (MNIST CNN, RMSprop, batch 64, 5 epochs, the embedded data):
wall time and test accuracy of ``python train.py`` vs the same recipe in Keras 3 on
TensorFlow and in a plain torch loop, each in its own process, printed side by side.
Targets: train.py <= 0.8x Keras-TF's wall time, at >= 0.990 test accuracy.

Run: python benchmarks/mnist_recipe.py [--epochs 5]   (needs tensorflow-cpu for the Keras
column; it is skipped otherwise)
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def keras_tf(epochs):
    os.environ["KERAS_BACKEND"] = "tensorflow"
    import keras
    import numpy as np

    from kconv.datasets import mnist
    (x, y), (xt, yt) = mnist.load_data()
    x = x[..., None].astype("float32") / 255
    xt = xt[..., None].astype("float32") / 255
    keras.utils.set_random_seed(42)
    L = keras.layers
    model = keras.Sequential([
        keras.Input((28, 28, 1)), L.Conv2D(32, 3, activation="relu"), L.MaxPooling2D(2),
        L.Conv2D(64, 3, activation="relu"), L.MaxPooling2D(2), L.Conv2D(64, 3, activation="relu"),
        L.Flatten(), L.Dense(64, activation="relu"), L.Dense(10, activation="softmax")])
    model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(x, y, batch_size=64, epochs=epochs, validation_data=(xt, yt),
              verbose=2)
    _, acc = model.evaluate(xt, yt, batch_size=256, verbose=0)
    return float(np.float64(acc))


def plain_torch(epochs):
    import torch
    import torch.nn.functional as F

    sys.path.insert(0, ROOT)
    from benchmarks.train_step import TorchMnistCNN
    from kconv.datasets import mnist
    torch.manual_seed(42)
    (x, y), (xt, yt) = (tuple(map(torch.from_numpy, split)) for split in mnist.load_data())
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


def timed(name, epochs):
    start = time.perf_counter()
    result = subprocess.run([sys.executable, __file__, "--worker", name, "--epochs", str(epochs)],
                            capture_output=True, text=True, cwd=ROOT)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        return seconds, None, result.stderr.strip().splitlines()[-1]
    return seconds, float(result.stdout.strip().splitlines()[-1]), None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--worker", choices=("train.py", "keras-tf", "torch"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        fn = {"train.py": run_train_py, "keras-tf": keras_tf, "torch": plain_torch}[args.worker]
        print(fn(args.epochs))
        return
    rows = {name: timed(name, args.epochs) for name in ("train.py", "keras-tf", "torch")}
    print(f"MNIST recipe, {args.epochs} epochs, batch 64, {os.cpu_count()} CPUs")
    print(f"{'run':<10} {'wall s':>8} {'test acc':>9} {'vs keras-tf':>12}")
    base = rows["keras-tf"][0] if rows["keras-tf"][1] is not None else None
    for name, (seconds, acc, error) in rows.items():
        if acc is None:
            print(f"{name:<10} failed: {error}")
            continue
        ratio = f"{seconds / base:12.2f}" if base else f"{'-':>12}"
        print(f"{name:<10} {seconds:8.1f} {acc:9.4f} {ratio}")


if __name__ == "__main__":
    main()
