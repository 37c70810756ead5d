"""Forward+backward cost of a functional kconv Model vs the same network as a kconv
Sequential, hand-written in torch, and in Keras 3's own functional API (torch backend),
printed as ratios from one interleaved run.

Networks: the MNIST CNN (a chain, batch 64), a branchy residual CNN (16x16x3, batch 32:
residual add, BatchNormalization, two branches, concatenation), and a stack of ten small
Dense layers (batch 32), where per-layer framework overhead dominates.
Every contender of a network gets the same weights (``same_weights``).
Target: functional / Sequential and functional / torch <= 1.02. The residual CNN is also
run with the layout pass off, to show what passing channels-first views on saves.

Run: python benchmarks/functional.py [--rounds 7] [--steps 10] [--no-keras]
"""

import argparse
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "torch")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

import kconv  # noqa: E402
from benchmarks.timing import interleaved  # noqa: E402
from benchmarks.train_step import TorchMnistCNN  # noqa: E402


def mnist_functional(lib):
    L = lib.layers
    inputs = lib.Input((28, 28, 1))
    x = L.MaxPooling2D(2)(L.Conv2D(32, 3, activation="relu")(inputs))
    x = L.MaxPooling2D(2)(L.Conv2D(64, 3, activation="relu")(x))
    x = L.Flatten()(L.Conv2D(64, 3, activation="relu")(x))
    return lib.Model(inputs, L.Dense(10)(L.Dense(64, activation="relu")(x)))


def mnist_sequential():
    L = kconv.layers
    return kconv.Sequential([
        kconv.Input((28, 28, 1)), L.Conv2D(32, 3, activation="relu"), L.MaxPooling2D(2),
        L.Conv2D(64, 3, activation="relu"), L.MaxPooling2D(2), L.Conv2D(64, 3, activation="relu"),
        L.Flatten(), L.Dense(64, activation="relu"), L.Dense(10)])


def residual(lib):
    L = lib.layers
    inputs = lib.Input((16, 16, 3))
    x = L.Conv2D(32, 3, padding="same", activation="relu")(inputs)
    y = L.BatchNormalization()(L.Conv2D(32, 3, padding="same")(x))
    x = L.MaxPooling2D()(L.Activation("relu")(L.Add()([x, y])))
    a = L.GlobalAveragePooling2D()(L.Conv2D(32, 1)(x))
    b = L.GlobalMaxPooling2D()(L.Conv2D(32, 3, padding="same", strides=2)(x))
    return lib.Model(inputs, L.Dense(10)(L.Concatenate()([a, b])))


class TorchResidual(nn.Module):
    """``residual`` hand-written in torch, on NCHW in channels_last memory."""

    def __init__(self):
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(3, 32, 3, padding=1), nn.Conv2d(32, 32, 3, padding=1)
        self.bn = nn.BatchNorm2d(32, 1e-3, 0.01)
        self.a, self.b = nn.Conv2d(32, 32, 1), nn.Conv2d(32, 32, 3, stride=2)
        self.dense = nn.Linear(64, 10)

    def forward(self, x):
        x = F.relu(self.conv1(x))
        x = F.max_pool2d(F.relu(x + self.bn(self.conv2(x))), 2)
        a = self.a(x).mean((2, 3))
        b = self.b(F.pad(x, (0, 1, 0, 1))).amax((2, 3))  # TF 'same' at 8x8, stride 2
        return self.dense(torch.cat([a, b], 1))


def dense_stack(lib, depth=10):
    inputs = lib.Input((64,))
    x = inputs
    for _ in range(depth):
        x = lib.layers.Dense(64, activation="relu")(x)
    return lib.Model(inputs, x)


def same_weights(source, *targets):
    """Copy ``source``'s tensors into each target (matched in order, shapes checked), so
    every contender computes the same values: with different random weights, one network
    can meet denormal numbers (slow on x86) where another does not."""
    tensors = list(source.state_dict().values())
    for target in targets:
        slots = [t for k, t in target.state_dict().items()
                 if not k.endswith("num_batches_tracked")]
        shapes = [tuple(t.shape) for t in slots], [tuple(t.shape) for t in tensors]
        if shapes[0] != shapes[1]:
            raise SystemExit(f"same_weights: {type(target).__name__} has tensors of shapes "
                             f"{shapes[0]}, the source {shapes[1]}")
        with torch.no_grad():
            for slot, tensor in zip(slots, tensors):
                slot.copy_(tensor)
    return targets


def step(model, x):
    def run():
        model.zero_grad(set_to_none=True)
        model(x).square().mean().backward()
    return run


def keras_step(model, x):
    import keras

    variables = model.trainable_variables

    def run():
        with torch.enable_grad():
            loss = keras.ops.mean(keras.ops.square(model(x, training=True)))
            loss.backward()
        for v in variables:
            v.value.grad = None
    return run


def report(title, contenders, rounds, steps):
    seconds = interleaved(contenders, rounds, inner=steps, warmup=2)
    base = seconds["kconv functional"]
    print(f"\n{title}: ms per forward+backward, and ratio to kconv functional")
    for name, s in seconds.items():
        print(f"  {name:<18} {1000 * s:8.3f} ms   {s / base:5.2f}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--no-keras", action="store_true")
    args = parser.parse_args(argv)
    print(f"torch={torch.__version__} threads={torch.get_num_threads()}")
    torch.manual_seed(0)
    cl = torch.channels_last

    x = torch.rand(64, 28, 28, 1)
    functional = mnist_functional(kconv)
    sequential, hand = same_weights(functional, mnist_sequential(),
                                    TorchMnistCNN().to(memory_format=cl))
    contenders = {"kconv functional": step(functional, x),
                  "kconv Sequential": step(sequential, x),
                  "torch": step(hand, x.permute(0, 3, 1, 2))}
    if not args.no_keras:
        import keras
        contenders["keras functional"] = keras_step(mnist_functional(keras), x.numpy())
    report("MNIST CNN, batch 64", contenders, args.rounds, args.steps)

    x = torch.rand(32, 16, 16, 3)
    functional = residual(kconv)
    layer_by_layer, hand = same_weights(functional, residual(kconv),
                                        TorchResidual().to(memory_format=cl))
    layer_by_layer.register_forward_pre_hook(lambda *_: None)  # turns the layout pass off
    contenders = {"kconv functional": step(functional, x),
                  "no layout pass": step(layer_by_layer, x),
                  "torch": step(hand, x.permute(0, 3, 1, 2))}
    if not args.no_keras:
        contenders["keras functional"] = keras_step(residual(keras), x.numpy())
    report("residual CNN, batch 32", contenders, args.rounds, args.steps)

    x = torch.rand(32, 64)
    torch_stack = nn.Sequential(*[m for _ in range(10) for m in (nn.Linear(64, 64), nn.ReLU())])
    sequential = kconv.Sequential([kconv.Input((64,))] + [
        kconv.layers.Dense(64, activation="relu") for _ in range(10)])
    functional = dense_stack(kconv)
    same_weights(functional, sequential, torch_stack)
    contenders = {"kconv functional": step(functional, x),
                  "kconv Sequential": step(sequential, x), "torch": step(torch_stack, x)}
    if not args.no_keras:
        contenders["keras functional"] = keras_step(dense_stack(keras), x.numpy())
    report("ten Dense(64) layers, batch 32 (framework overhead)", contenders, args.rounds,
           args.steps)


if __name__ == "__main__":
    main()
