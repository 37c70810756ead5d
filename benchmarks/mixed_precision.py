"""Training-step throughput under Keras's dtype policies: float32, mixed_bfloat16 and
mixed_float16 (with loss scaling), for kconv (the network built under the policy, as a
Keras script builds it), the same network hand-written in torch under ``torch.autocast``
(and torch's ``GradScaler`` for float16), and Keras 3 on its torch backend under the same
global policy, printed as ratios from one interleaved run: kconv/torch per policy, and each
policy's speed-up over float32.

Predicted: on a GPU with tensor cores, mixed steps 1.5-3x float32; on a CPU, bfloat16 pays
only with AVX-512 BF16 or AMX and float16 only with AMX-FP16 (else both are emulated).

Run: python benchmarks/mixed_precision.py [--device cpu|cuda] [--rounds 5] [--steps 3]
     [--no-keras]
"""

import argparse
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "torch")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import kconv  # noqa: E402
import models  # noqa: E402
from benchmarks.timing import interleaved  # noqa: E402
from benchmarks.train_step import SETUPS  # noqa: E402

POLICIES = ("float32", "mixed_bfloat16", "mixed_float16")
HALF = {"mixed_bfloat16": torch.bfloat16, "mixed_float16": torch.float16}


def kconv_step(name, classes, shape, make_optimizer, policy, device):
    """fit's step on a network built under ``policy``: its layers cast themselves."""
    kconv.mixed_precision.set_global_policy(policy)
    model = models.get_model(name, classes=classes, input_shape=shape).to(device)
    kconv.mixed_precision.set_global_policy(None)
    optimizer = make_optimizer(model.parameters())
    scaler = torch.amp.GradScaler(device, init_scale=2.0 ** 15) \
        if policy == "mixed_float16" else None

    def step(x_nhwc, x_nchw, y):
        loss = F.cross_entropy(model.logits(x_nhwc).float(), y) + sum(model.losses, 0.0)
        optimizer.zero_grad(set_to_none=True)
        _backward_and_step(loss, optimizer, scaler)
    return step


def torch_step(make_net, make_optimizer, policy, device):
    """The hand-written twin under ``torch.autocast`` (the usual torch AMP loop)."""
    net = make_net().to(device).to(memory_format=torch.channels_last)
    optimizer = make_optimizer(net.parameters())
    scaler = torch.amp.GradScaler(device, init_scale=2.0 ** 15) \
        if policy == "mixed_float16" else None

    def step(x_nhwc, x_nchw, y):
        with torch.autocast(device, dtype=HALF.get(policy, torch.float32),
                            enabled=policy in HALF):
            logits = net(x_nchw)
        loss = F.cross_entropy(logits.float(), y) + net.penalty()
        optimizer.zero_grad(set_to_none=True)
        _backward_and_step(loss, optimizer, scaler)
    return step


def _backward_and_step(loss, optimizer, scaler):
    if scaler is None:
        loss.backward()
        optimizer.step()
    else:
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()


def keras_step(name, classes, shape, optimizer, policy):
    """Keras 3 (torch backend) with the same global policy, from kconv's layer configs."""
    import keras

    from tests.keras_oracle import keras_model_like

    keras.mixed_precision.set_global_policy(policy)
    try:
        k_model = keras_model_like(models.get_model(name, classes=classes, input_shape=shape))
        k_model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
    finally:
        keras.mixed_precision.set_global_policy("float32")

    def step(x_nhwc, x_nchw, y):
        k_model.train_on_batch(x_nhwc, y)
    return step


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--no-keras", action="store_true")
    args = parser.parse_args(argv)
    device = args.device
    sync = torch.cuda.synchronize if device == "cuda" else None
    native = kconv.mixed_precision.native_bfloat16()
    print(f"torch={torch.__version__} device={device} threads={torch.get_num_threads()} "
          f"cpu bf16 in hardware={native}")
    for name, n, shape, classes, make_net, kconv_opt, torch_opt, keras_opt in SETUPS:
        torch.manual_seed(0)
        x = torch.rand(n, *shape, device=device)
        batch = (x, x.permute(0, 3, 1, 2), torch.randint(0, classes, (n,), device=device))
        contenders = {}
        for policy in POLICIES:
            contenders["kconv", policy] = kconv_step(name, classes, shape, kconv_opt, policy,
                                                     device)
            contenders["torch", policy] = torch_step(make_net, torch_opt, policy, device)
            if not args.no_keras and device == "cpu":  # Keras takes NumPy batches
                keras_fn = keras_step(name, classes, shape, keras_opt, policy)
                contenders["keras", policy] = \
                    lambda x_nhwc, x_nchw, y, fn=keras_fn: fn(x_nhwc.numpy(), None, y.numpy())
        seconds = interleaved({key: (lambda fn=fn: [fn(*batch) for _ in range(args.steps)])
                               for key, fn in contenders.items()}, args.rounds, sync=sync)
        rate = {key: n * args.steps / s for key, s in seconds.items()}
        print(f"\n{name} (batch {n}) images/s")
        libs = sorted({key[0] for key in rate}, key=("kconv", "torch", "keras").index)
        print(f"{'policy':<16}" + "".join(f"{lib:>10}" for lib in libs) +
              f"{'kconv/torch':>13}" + "".join(f"{lib + ' vs fp32':>16}" for lib in libs))
        for policy in POLICIES:
            line = f"{policy:<16}" + "".join(f"{rate[lib, policy]:>10.0f}" for lib in libs)
            line += f"{rate['kconv', policy] / rate['torch', policy]:>13.2f}"
            line += "".join(f"{rate[lib, policy] / rate[lib, 'float32']:>16.2f}"
                            for lib in libs)
            print(line)


if __name__ == "__main__":
    main()
