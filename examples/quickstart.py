"""A first look at kconv: the lecture's MNIST CNN, its Keras summary, and one training step.

Run: python examples/quickstart.py
"""

import torch

import kconv
from kconv.layers import Conv2D, Dense, Flatten, Input, MaxPooling2D


def main():
    torch.manual_seed(0)
    model = kconv.Sequential([
        Input((28, 28, 1)),
        Conv2D(32, 3, activation="relu"), MaxPooling2D(2),
        Conv2D(64, 3, activation="relu", kernel_regularizer=kconv.regularizers.l2(5e-4)),
        MaxPooling2D(2),
        Conv2D(64, 3, activation="relu"),
        Flatten(), Dense(64, activation="relu"), Dense(10),
    ], name="mnist_cnn")
    model.summary()

    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    x, y = torch.rand(32, 28, 28, 1), torch.randint(0, 10, (32,))
    loss = torch.nn.functional.cross_entropy(model(x), y) + sum(model.losses)
    loss.backward()
    opt.step()
    print(f"one SGD step on random data: loss {loss.item():.4f} "
          f"(including l2 penalty {sum(model.losses).item():.4f})")


if __name__ == "__main__":
    main()
