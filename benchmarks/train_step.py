"""Training-step throughput (images/s) of StridedNet (96x96x3, batch 32) and the MNIST CNN
(batch 64): kconv (through ``models``) vs the same networks hand-written in plain torch
(channels_last memory, the same TF padding, BN epsilon/momentum and l2 penalty), vs Keras 3
on its torch backend and vs Keras 3 on TensorFlow (``train_on_batch``, in a worker process
that runs its rounds interleaved with the others; with ``--xla`` also with
``jit_compile=True``, XLA), printed as ratios from one run. With ``--compiled``, kconv's
step compiled as ``compile(jit_compile=True)`` compiles it is a contender too.

Each network's step is also printed as a fraction of this machine's float32 matmul peak,
measured in the same run (the best of several 2048x2048 products), from the step's FLOPs
counted by ``torch.utils.flop_counter`` (forward and backward).
Targets: kconv/torch >= 1.0; StridedNet kconv/keras-tf >= 1.8 and >= 50 % of the peak.

Run: python benchmarks/train_step.py [--rounds 5] [--steps 3] [--no-keras] [--no-tf]
     [--xla] [--compiled]
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


def kconv_step(model, optimizer, compiled=False):
    def loss_of(x_nhwc, y):
        return F.cross_entropy(model.logits(x_nhwc), y) + sum(model.losses, 0.0)
    if compiled:  # what compile(jit_compile=True) compiles: forward and loss
        loss_of = torch.compile(loss_of)

    def step(x_nhwc, x_nchw, y):
        loss = loss_of(x_nhwc, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return step


def matmul_peak(size=2048, repeats=5):
    """This machine's float32 matmul rate (FLOP/s): the best of ``repeats`` products."""
    a, b = torch.rand(size, size), torch.rand(size, size)
    a @ b
    best = min(_timed(lambda: a @ b) for _ in range(repeats))
    return 2 * size ** 3 / best


def _timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def step_flops(model, x, y):
    """FLOPs of one training step's forward and backward (torch's flop counter)."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        F.cross_entropy(model.logits(x), y).backward()
    model.zero_grad(set_to_none=True)
    return counter.get_total_flops()


def torch_step(model, optimizer):
    def step(x_nhwc, x_nchw, y):
        loss = F.cross_entropy(model(x_nchw), y) + model.penalty()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return step


def keras_step(kconv_model, optimizer, jit_compile=False):
    """The same network rebuilt in Keras from the kconv layers' Keras configs."""
    from tests.keras_oracle import keras_model_like  # imports keras (KERAS_BACKEND's)

    k_model = keras_model_like(kconv_model)
    k_model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy",
                    jit_compile=jit_compile)

    def step(x_nhwc, x_nchw, y):
        k_model.train_on_batch(x_nhwc, y)
    return step


class TensorFlowWorker:
    """Keras 3 on TensorFlow in its own process (a process has one Keras backend). Each
    call runs one round of steps there and returns its seconds, so its rounds interleave
    with the in-process contenders'."""

    def __init__(self, name, n, shape, classes, optimizer, xla=False):
        env = dict(os.environ, KERAS_BACKEND="tensorflow", TF_CPP_MIN_LOG_LEVEL="3")
        spec = json.dumps([name, n, shape, classes, optimizer, xla])
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

    name, n, shape, classes, optimizer, xla = json.loads(spec)
    step = keras_step(models.get_model(name, classes=classes, input_shape=shape), optimizer,
                      jit_compile=xla)
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


def measure(contenders, batch, rounds, steps, workers=None):
    """Images/s per contender (median of ``rounds``), the workers' rounds interleaved."""
    x, y = batch
    for fn in contenders.values():
        for _ in range(2):
            fn(*x, y)
    workers = workers or {}
    samples = {key: [] for key in (*contenders, *workers)}
    for _ in range(rounds):
        for key, fn in contenders.items():
            start = time.perf_counter()
            for _ in range(steps):
                fn(*x, y)
            samples[key].append((time.perf_counter() - start) / steps)
        for key, worker in workers.items():
            samples[key].append(worker(steps) / steps)
            time.sleep(0.5)  # TensorFlow's idle threads spin a while and would slow the next
    return {key: len(y) / statistics.median(v) for key, v in samples.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--no-keras", action="store_true", help="skip Keras (torch backend)")
    parser.add_argument("--no-tf", action="store_true", help="skip Keras on TensorFlow")
    parser.add_argument("--xla", action="store_true",
                        help="also Keras on TensorFlow with jit_compile=True (XLA)")
    parser.add_argument("--compiled", action="store_true",
                        help="also kconv's step compiled (jit_compile=True)")
    parser.add_argument("--tf-worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.tf_worker:
        return tf_worker(args.tf_worker)
    torch.manual_seed(0)
    peak = matmul_peak()
    print(f"torch={torch.__version__} threads={torch.get_num_threads()} (CPU, fp32); "
          f"float32 matmul peak {peak / 1e9:.1f} GFLOP/s")
    columns = ("kconv", "torch", "keras", "keras-tf") + \
        (("kconv-jit",) if args.compiled else ()) + (("keras-xla",) if args.xla else ())
    header = f"{'network':<12}" + "".join(f"{c + ' img/s':>17}" for c in columns) + \
        "".join(f"{'kconv/' + c:>17}" for c in columns[1:])
    print(header)
    print("-" * len(header))
    peaks = []
    for name, n, shape, classes, torch_net, k_opt, t_opt, keras_opt in SETUPS:
        net = models.get_model(name, classes=classes, input_shape=shape)
        ref = torch_net().to(memory_format=torch.channels_last)
        x_nhwc = torch.rand((n,) + shape)
        x_nchw = x_nhwc.permute(0, 3, 1, 2)  # channels_last memory, no copy
        y = torch.randint(0, classes, (n,))
        flops = step_flops(net, x_nhwc, y) / n  # per image
        contenders = {"kconv": kconv_step(net, k_opt(net.parameters())),
                      "torch": torch_step(ref, t_opt(ref.parameters()))}
        if args.compiled:
            twin = models.get_model(name, classes=classes, input_shape=shape)
            contenders["kconv-jit"] = kconv_step(twin, k_opt(twin.parameters()), compiled=True)
        if not args.no_keras:
            contenders["keras"] = keras_step(net, keras_opt)
        workers = {} if args.no_tf else {
            "keras-tf": TensorFlowWorker(name, n, shape, classes, keras_opt)}
        if args.xla and not args.no_tf:
            workers["keras-xla"] = TensorFlowWorker(name, n, shape, classes, keras_opt, True)
        try:
            rate = measure(contenders, ((x_nhwc, x_nchw), y), args.rounds, args.steps, workers)
        finally:
            for worker in workers.values():
                worker.close()
        nan = float("nan")
        print(f"{name:<12}" + "".join(f"{rate.get(c, nan):17.1f}" for c in columns) +
              "".join(f"{rate['kconv'] / rate.get(c, nan):17.2f}" for c in columns[1:]))
        peaks.append(f"{name}: {flops / 1e9:.3f} GFLOP a training image; share of the peak: " +
                     ", ".join(f"{c} {rate[c] * flops / peak:.0%}" for c in columns
                               if c in rate))
    print("\n".join(peaks))


if __name__ == "__main__":
    main()
