"""kconv training on a CUDA GPU, in three parts, each printed side by side from one run:

1. Training-step images/s of StridedNet (96x96x3, batch 32, Adam) and the Ex1 CNN (32x32x3,
   batch 32, RMSprop): eager fp32 vs bf16 autocast vs ``torch.compile`` (alone and with
   bf16), as ratios to eager fp32; the hand-written torch StridedNet in channels_last vs
   contiguous (NCHW) memory (kconv's NHWC layers convolve channels_last views).
2. Feeding one CIFAR-sized epoch (50,000 uint8 32x32x3 images, Ex1 CNN): batches cut in
   host memory and copied, vs a dataset resident on the GPU (what train.py does there).
3. train.py's own run (Lightning, checkpoints and plots included) on synthetic data: the
   tutorial's 50-epoch StridedNet run on a Caltech-sized set (2,237 96x96 images, 75/25
   split, augmentation), target < 10 s; and the ten ablation variants on CIFAR-sized data,
   timed for --ablation-epochs epochs and scaled to 30, target < 300 s.

Run on a GPU machine: python benchmarks/gpu.py [--rounds 5] [--ablation-epochs 1]
Smoke test of the code paths anywhere: python benchmarks/gpu.py --device cpu --quick
"""

import argparse
import contextlib
import io
import logging
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import kconv  # noqa: E402
import models  # noqa: E402
import train  # noqa: E402
from benchmarks.timing import interleaved  # noqa: E402
from benchmarks.train_step import TorchStridedNet  # noqa: E402
from kconv.datasets import fake  # noqa: E402
from kconv.datasets import DataBundle, ImageDataModule  # noqa: E402
from kconv.datasets.datamodule import make_loader  # noqa: E402

NETWORKS = {"stridednet": ((96, 96, 3), 4, "adam"), "cifar_ex1": ((32, 32, 3), 10, "rmsprop")}
MODES = ("eager fp32", "bf16 autocast", "compile fp32", "compile bf16")


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed_rate(fns, n, rounds, steps, device):
    """Images/s per step function (``n`` images a step), interleaved and synchronized."""
    seconds = interleaved(fns, rounds, inner=steps, warmup=3, sync=lambda: sync(device))
    return {key: n / s for key, s in seconds.items()}


def kconv_step(name, mode, batch, device):
    shape, classes, optimizer = NETWORKS[name]
    torch.manual_seed(0)
    net = models.get_model(name, input_shape=shape, classes=classes).to(device)
    opt = kconv.optimizers.get(optimizer)(net.parameters())
    forward = net.logits
    if mode.startswith("compile"):
        # Every network's logits share Sequential.logits's code: forget the sizes seen with
        # the previous network, whose automatic dynamic shapes break inductor (torch 2.14).
        torch._dynamo.reset()
        forward = torch.compile(forward)
    x = torch.rand((batch, *shape), device=device)
    y = torch.randint(0, classes, (batch,), device=device)

    def step():
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled="bf16" in mode):
            loss = F.cross_entropy(forward(x), y) + sum(net.losses, torch.zeros((), device=device))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return step


def torch_stridednet_step(memory_format, batch, device):
    torch.manual_seed(0)
    net = TorchStridedNet(4).to(device, memory_format=memory_format)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, eps=1e-7)
    x = torch.rand(batch, 3, 96, 96, device=device).contiguous(memory_format=memory_format)
    y = torch.randint(0, 4, (batch,), device=device)

    def step():
        loss = F.cross_entropy(net(x), y) + net.penalty()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return step


def step_modes(device, rounds, steps, batch=32):
    print(f"\n1. training step, batch {batch}: images/s (ratio to eager fp32)")
    for name in NETWORKS:
        rates = timed_rate({m: kconv_step(name, m, batch, device) for m in MODES}, batch,
                           rounds, steps, device)
        base = rates["eager fp32"]
        print(f"{name:<12}" + "".join(f"  {m} {r:9.1f} ({r / base:.2f})" for m, r in
                                      rates.items()))
    rates = timed_rate({"channels_last": torch_stridednet_step(torch.channels_last, batch,
                                                                device),
                        "contiguous": torch_stridednet_step(torch.contiguous_format, batch,
                                                             device)},
                       batch, rounds, steps, device)
    print(f"{'torch StridedNet':<12}  channels_last {rates['channels_last']:9.1f}  contiguous "
          f"{rates['contiguous']:9.1f}  ({rates['channels_last'] / rates['contiguous']:.2f})")


def synthetic_bundle(n_train, n_test, shape, classes):
    """kconv's synthetic dataset (noise with a bright band per class) as a DataBundle."""
    h, w, c = shape
    (x, y), (xt, yt) = (tuple(map(torch.from_numpy, split))
                        for split in fake.load_data(n_train, n_test, (h, w), c, classes))
    return DataBundle(x, y, xt, yt, fake.class_names(classes), "synthetic data")


def data_residency(device, n, batch=32):
    print(f"\n2. one epoch of {n} CIFAR-sized images through the Ex1 CNN: images/s")
    data = synthetic_bundle(n, 1, (32, 32, 3), 10)
    system = models.ClassifierSystem("cifar_ex1").to(device)
    opt = system.configure_optimizers()
    rates = {}
    for where in ("host", "device"):
        loader = make_loader(data.x_train, data.y_train, batch, shuffle=True,
                             device=device if where == "device" else None)
        for timed in (False, True):  # a warm-up epoch, then the timed one
            sync(device)
            start = time.perf_counter()
            for x, y in loader:
                x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
                loss = F.cross_entropy(system.logits(system.prepare(x)), y)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
            sync(device)
        rates[where] = n / (time.perf_counter() - start)
    print(f"host batches {rates['host']:9.1f}  device-resident {rates['device']:9.1f}  "
          f"({rates['device'] / rates['host']:.2f})")


def quietly(fn, *args):
    """``fn(*args)`` with its printing (summaries, progress bars, reports) held back."""
    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        return fn(*args)


def train_py_runs(device, quick, ablation_epochs):
    accelerator = "gpu" if device.type == "cuda" else "cpu"
    caltech = synthetic_bundle(*((48, 16) if quick else (1677, 560)), (96, 96, 3), 4)
    cifar = synthetic_bundle(*((256, 64) if quick else (50000, 10000)), (32, 32, 3), 10)
    epochs = 2 if quick else 50
    print(f"\n3. train.py runs on synthetic data ({accelerator})")
    with tempfile.TemporaryDirectory() as out:
        for label, extra in (("fp32", []), ("bf16-mixed", ["--precision", "bf16-mixed"]),
                             ("compile", ["--compile"])):
            argv = ["--dataset", os.path.join(out, "caltech-sized"), "--epochs", str(epochs),
                    "--accelerator", accelerator, "--out-dir", os.path.join(out, label), *extra]
            config = train.resolve(train.build_parser().parse_args(argv))
            torch._dynamo.reset()  # as in a fresh train.py process
            start = time.perf_counter()
            quietly(train.run, config, ImageDataModule.from_bundle(caltech, seed=config["seed"],
                                                                   batch_size=config["batch_size"]))
            seconds = time.perf_counter() - start
            print(f"StridedNet, {len(caltech.y_train)}+{len(caltech.y_test)} images, {epochs} "
                  f"epochs, {label}: {seconds:.1f} s (target < 10 s)")
        argv = ["--dataset", "cifar10", "--ablation", "--epochs", str(ablation_epochs),
                "--accelerator", accelerator, "--out-dir", os.path.join(out, "ablation")]
        config = train.resolve(train.build_parser().parse_args(argv))
        if quick:
            config["models"] = config["models"][:2]
        start = time.perf_counter()
        quietly(train.run_ablation, config, ImageDataModule.from_bundle(
            cifar, seed=config["seed"], batch_size=config["batch_size"]))
        seconds = time.perf_counter() - start
        print(f"{len(config['models'])} ablation variants x {ablation_epochs} epochs of "
              f"{len(cifar.y_train)} images: {seconds:.1f} s; x 30 epochs: "
              f"{seconds * 30 / ablation_epochs:.0f} s (target < 300 s)")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--ablation-epochs", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke test")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print("benchmarks/gpu.py: no CUDA GPU on this machine; nothing measured "
              "(--device cpu --quick runs the code paths)")
        return
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(f"torch={torch.__version__} device={name}")
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    rounds, steps = (1, 1) if args.quick else (args.rounds, args.steps)
    step_modes(device, rounds, steps)
    data_residency(device, 512 if args.quick else 50000)
    train_py_runs(device, args.quick, args.ablation_epochs)


if __name__ == "__main__":
    main()
