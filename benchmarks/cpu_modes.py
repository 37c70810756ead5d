"""Training-step throughput of the MNIST CNN (batch 64) and StridedNet (96x96, batch 32) in
three modes: eager fp32, ``torch.compile`` (inductor) fp32, and CPU bf16 autocast, printed
as ratios to eager from one run. It decides whether train.py should offer ``--compile`` and
whether ``--precision bf16-mixed`` pays off on this CPU (it needs AVX-512-BF16 or AMX).

Run: python benchmarks/cpu_modes.py [--models mnist_cnn,stridednet] [--rounds 6]
"""

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import kconv  # noqa: E402
import models  # noqa: E402

SETUPS = {"mnist_cnn": (64, (28, 28, 1)), "stridednet": (32, (96, 96, 3))}


def make_step(name, mode):
    n, shape = SETUPS[name]
    torch.manual_seed(0)
    net = models.get_model(name, input_shape=shape, classes=10)
    opt = kconv.optimizers.Adam(net.parameters())

    def forward(x):
        return net.logits(x)

    forward = torch.compile(forward) if mode == "compile" else forward

    def step(x, y):
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=mode == "bf16"):
            loss = F.cross_entropy(forward(x), y) + sum(net.losses, torch.zeros(()))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return step, torch.rand((n,) + shape), torch.randint(0, 10, (n,))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="mnist_cnn,stridednet")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--steps", type=int, default=5)
    args = parser.parse_args(argv)
    flags = open("/proc/cpuinfo").read() if os.path.exists("/proc/cpuinfo") else ""
    print(f"torch={torch.__version__} threads={torch.get_num_threads()} "
          f"amx={'amx_bf16' in flags} avx512_bf16={'avx512_bf16' in flags}")
    for name in args.models.split(","):
        steps, first = {}, {}
        for mode in ("eager", "compile", "bf16"):
            step, x, y = make_step(name, mode)
            start = time.perf_counter()
            step(x, y)  # compilation happens here
            first[mode] = time.perf_counter() - start
            steps[mode] = (step, x, y)
        samples = {mode: [] for mode in steps}
        for _ in range(args.rounds):  # interleaved rounds
            for mode, (step, x, y) in steps.items():
                start = time.perf_counter()
                for _ in range(args.steps):
                    step(x, y)
                samples[mode].append((time.perf_counter() - start) / args.steps)
        rate = {m: len(steps[m][2]) / statistics.median(v) for m, v in samples.items()}
        print(f"{name}: " + ", ".join(
            f"{m} {rate[m]:.0f} img/s (x{rate[m] / rate['eager']:.2f}, first step "
            f"{first[m]:.1f} s)" for m in rate))


if __name__ == "__main__":
    main()
