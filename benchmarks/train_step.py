"""Training-step throughput (images/s) of StridedNet (96x96x3, batch 32) and the MNIST CNN
(batch 64): kconv (through ``models``) vs the same networks hand-written in plain torch
(channels_last memory, the same TF padding, BN epsilon/momentum and l2 penalty), vs Keras 3
on its torch backend and vs Keras 3 on TensorFlow (``train_on_batch``, in a worker process
that runs its rounds interleaved with the others), printed as ratios from one run.
Targets: kconv/torch >= 1.0; StridedNet kconv/keras-tf >= 1.8.

Run: python benchmarks/train_step.py [--rounds 5] [--steps 3] [--no-keras] [--no-tf]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "torch")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

import kconv  # noqa: E402
import models  # noqa: E402


class TorchStridedNet(nn.Module):
    """StridedNet in plain torch; input NCHW in channels_last memory, 96x96."""

    def __init__(self, classes):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 7, stride=2)
        blocks, cin = [], 16
        for f in (32, 64, 128):
            blocks += [nn.Conv2d(cin, f, 3, padding=1), nn.ReLU(), nn.BatchNorm2d(f, 1e-3, 0.01),
                       nn.Conv2d(f, f, 3, stride=2), nn.ReLU(), nn.BatchNorm2d(f, 1e-3, 0.01),
                       nn.Dropout(0.25)]
            cin = f
        self.blocks = nn.ModuleList(blocks)
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(4608, 512), nn.ReLU(),
                                  nn.BatchNorm1d(512, 1e-3, 0.01), nn.Dropout(0.5),
                                  nn.Linear(512, classes))

    def forward(self, x):
        x = self.conv1(x)
        for layer in self.blocks:
            if isinstance(layer, nn.Conv2d) and layer.stride == (2, 2):
                # TF 'same' for stride 2: (1, 1) at 45 and 23, (0, 1) at 12.
                x = F.pad(x, (1, 1, 1, 1) if x.shape[-1] % 2 else (0, 1, 0, 1))
            x = layer(x)
        return self.head(x.permute(0, 2, 3, 1))  # flatten in (H, W, C) order like Keras

    def penalty(self):
        convs = [self.conv1] + [m for m in self.blocks if isinstance(m, nn.Conv2d)]
        return 0.0005 * sum(m.weight.square().sum() for m in convs)


class TorchMnistCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
                                  nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
                                  nn.Conv2d(64, 64, 3), nn.ReLU())
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(576, 64), nn.ReLU(), nn.Linear(64, 10))

    def forward(self, x):
        return self.head(self.body(x).permute(0, 2, 3, 1))

    def penalty(self):
        return 0.0


# Each network's batch size, input shape, classes, hand-written torch twin, and its
# optimizer for kconv, for torch and (by name) for Keras.
SETUPS = [
    ("stridednet", 32, (96, 96, 3), 4, lambda: TorchStridedNet(4),
     lambda p: kconv.optimizers.Adam(p, learning_rate=1e-4),
     lambda p: torch.optim.Adam(p, lr=1e-4, eps=1e-7), "adam"),
    ("mnist_cnn", 64, (28, 28, 1), 10, TorchMnistCNN,
     lambda p: kconv.optimizers.RMSprop(p),
     lambda p: torch.optim.RMSprop(p, lr=1e-3, alpha=0.9, eps=1e-7), "rmsprop"),
]


def kconv_step(model, optimizer):
    def step(x_nhwc, x_nchw, y):
        loss = F.cross_entropy(model.logits(x_nhwc), y) + sum(model.losses, 0.0)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return step


def torch_step(model, optimizer):
    def step(x_nhwc, x_nchw, y):
        loss = F.cross_entropy(model(x_nchw), y) + model.penalty()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return step


def keras_step(kconv_model, optimizer):
    """The same network rebuilt in Keras from the kconv layers' Keras configs."""
    from tests.keras_oracle import keras_model_like  # imports keras (KERAS_BACKEND's)

    k_model = keras_model_like(kconv_model)
    k_model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")

    def step(x_nhwc, x_nchw, y):
        k_model.train_on_batch(x_nhwc, y)
    return step


class TensorFlowWorker:
    """Keras 3 on TensorFlow in its own process (a process has one Keras backend). Each
    call runs one round of steps there and returns its seconds, so its rounds interleave
    with the in-process contenders'."""

    def __init__(self, name, n, shape, classes, optimizer):
        env = dict(os.environ, KERAS_BACKEND="tensorflow", TF_CPP_MIN_LOG_LEVEL="3")
        spec = json.dumps([name, n, shape, classes, optimizer])
        self.process = subprocess.Popen([sys.executable, __file__, "--tf-worker", spec],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        text=True, env=env)
        if self.process.stdout.readline().strip() != "ready":
            raise RuntimeError("the TensorFlow worker failed to start (is tensorflow installed?)")

    def __call__(self, steps):
        self.process.stdin.write(f"{steps}\n")
        self.process.stdin.flush()
        return float(self.process.stdout.readline())

    def close(self):
        self.process.stdin.close()
        self.process.wait()


def tf_worker(spec):
    """The worker's side: build the network, warm up, then time rounds on request."""
    import numpy as np

    name, n, shape, classes, optimizer = json.loads(spec)
    step = keras_step(models.get_model(name, classes=classes, input_shape=shape), optimizer)
    rng = np.random.default_rng(0)
    x = rng.random((n, *shape), dtype=np.float32)
    y = rng.integers(0, classes, n)
    for _ in range(2):
        step(x, None, y)
    print("ready", flush=True)
    for line in sys.stdin:
        start = time.perf_counter()
        for _ in range(int(line)):
            step(x, None, y)
        print(time.perf_counter() - start, flush=True)


def measure(contenders, batch, rounds, steps, worker=None):
    """Images/s per contender (median of ``rounds``), the worker's rounds interleaved."""
    x, y = batch
    for fn in contenders.values():
        for _ in range(2):
            fn(*x, y)
    samples = {key: [] for key in contenders}
    if worker is not None:
        samples["keras-tf"] = []
    for _ in range(rounds):
        for key, fn in contenders.items():
            start = time.perf_counter()
            for _ in range(steps):
                fn(*x, y)
            samples[key].append((time.perf_counter() - start) / steps)
        if worker is not None:
            samples["keras-tf"].append(worker(steps) / steps)
            time.sleep(0.5)  # TensorFlow's idle threads spin a while and would slow the next
    return {key: len(y) / statistics.median(v) for key, v in samples.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--no-keras", action="store_true", help="skip Keras (torch backend)")
    parser.add_argument("--no-tf", action="store_true", help="skip Keras on TensorFlow")
    parser.add_argument("--tf-worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.tf_worker:
        return tf_worker(args.tf_worker)
    torch.manual_seed(0)
    print(f"torch={torch.__version__} threads={torch.get_num_threads()} (CPU, fp32)")
    columns = ("kconv", "torch", "keras", "keras-tf")
    header = f"{'network':<12}" + "".join(f"{c + ' img/s':>15}" for c in columns) + \
        "".join(f"{'kconv/' + c:>15}" for c in columns[1:])
    print(header)
    print("-" * len(header))
    for name, n, shape, classes, torch_net, k_opt, t_opt, keras_opt in SETUPS:
        net = models.get_model(name, classes=classes, input_shape=shape)
        ref = torch_net().to(memory_format=torch.channels_last)
        x_nhwc = torch.rand((n,) + shape)
        x_nchw = x_nhwc.permute(0, 3, 1, 2)  # channels_last memory, no copy
        y = torch.randint(0, classes, (n,))
        contenders = {"kconv": kconv_step(net, k_opt(net.parameters())),
                      "torch": torch_step(ref, t_opt(ref.parameters()))}
        if not args.no_keras:
            contenders["keras"] = keras_step(net, keras_opt)
        worker = None if args.no_tf else TensorFlowWorker(name, n, shape, classes, keras_opt)
        try:
            rate = measure(contenders, ((x_nhwc, x_nchw), y), args.rounds, args.steps, worker)
        finally:
            if worker is not None:
                worker.close()
        nan = float("nan")
        print(f"{name:<12}" + "".join(f"{rate.get(c, nan):15.1f}" for c in columns) +
              "".join(f"{rate['kconv'] / rate.get(c, nan):15.2f}" for c in columns[1:]))


if __name__ == "__main__":
    main()
