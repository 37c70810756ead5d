"""What glibc's allocator policy costs a training step: glibc's default against
``kconv.utils.retain_freed_memory()`` (what train.py sets), for StridedNet (96x96x3, batch
32, Adam) and the MNIST CNN (batch 64, RMSprop), each step run by kconv, by the same network
hand-written in torch and by Keras 3 on its torch backend (``benchmarks/train_step.py``'s
contenders). Each measurement is a fresh process (a policy cannot be undone in a process);
``--rounds`` interleaved, medians compared. Prints ms a step, minor page faults a step and
the ratio policy/default. Linux with glibc only.

Run: python benchmarks/allocator.py [--rounds 3] [--steps 40] [--no-keras]
"""

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def worker(network, contender, policy, steps):
    """One process: its policy set first, then ``steps`` timed training steps after three
    untimed ones; prints seconds and minor faults a step."""
    from kconv.utils import retain_freed_memory

    if policy == "retain" and not retain_freed_memory():
        raise SystemExit("retain_freed_memory() did not apply (not glibc, or MALLOC_* set)")
    sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
    import torch
    import train_step as ts

    torch.manual_seed(0)
    (n, shape, classes, torch_net, k_opt, t_opt, keras_opt), = (
        setup[1:] for setup in ts.SETUPS if setup[0] == network)
    net = ts.models.get_model(network, classes=classes, input_shape=shape)
    if contender == "kconv":
        step = ts.kconv_step(net, k_opt(net.parameters()))
    elif contender == "torch":
        ref = torch_net().to(memory_format=torch.channels_last)
        step = ts.torch_step(ref, t_opt(ref.parameters()))
    else:
        step = ts.keras_step(net, keras_opt)
    x = torch.rand((n,) + shape)
    batch = (x, x.permute(0, 3, 1, 2), torch.randint(0, classes, (n,)))  # NCHW: a view
    for _ in range(3):
        step(*batch)
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    start = time.perf_counter()
    for _ in range(steps):
        step(*batch)
    seconds = (time.perf_counter() - start) / steps
    print(seconds, (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults) / steps)


def run(network, contender, policy, steps):
    from kconv.utils.memory_utils import tunes_allocator

    env = {k: v for k, v in os.environ.items() if not tunes_allocator(k)}
    done = subprocess.run([sys.executable, os.path.abspath(__file__), "--worker", network,
                           contender, policy, str(steps)], capture_output=True, text=True,
                          cwd=ROOT, env={**env, "KERAS_BACKEND": "torch"})
    if done.returncode != 0:
        raise SystemExit(f"{network} {contender} {policy} failed:\n{done.stderr[-2000:]}")
    seconds, faults = map(float, done.stdout.split()[-2:])
    return seconds, faults


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--no-keras", action="store_true", help="skip Keras (torch backend)")
    parser.add_argument("--worker", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        network, contender, policy, steps = args.worker
        return worker(network, contender, policy, int(steps))
    contenders = ("kconv", "torch") + (() if args.no_keras else ("keras",))
    print(f"{'network':<12}{'contender':<10}{'default ms':>12}{'retain ms':>12}"
          f"{'retain/default':>16}{'faults/step default -> retain':>32}")
    for network in ("stridednet", "mnist_cnn"):
        for contender in contenders:
            times = {"default": [], "retain": []}
            faults = {"default": [], "retain": []}
            for _ in range(args.rounds):  # interleaved
                for policy in times:
                    seconds, fault = run(network, contender, policy, args.steps)
                    times[policy].append(seconds)
                    faults[policy].append(fault)
            default, retain = (statistics.median(times[p]) * 1e3 for p in times)
            print(f"{network:<12}{contender:<10}{default:12.2f}{retain:12.2f}"
                  f"{retain / default:16.2f}{statistics.median(faults['default']):>21.0f} -> "
                  f"{statistics.median(faults['retain']):.0f}")


if __name__ == "__main__":
    main()
