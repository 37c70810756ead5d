"""A small synthetic, learnable image dataset for smoke tests and benchmarks."""

import torch


def load_data(n_train=256, n_test=64, image_size=(32, 32), channels=3, classes=4, seed=0):
    """``(x_train, y_train), (x_test, y_test)`` as NumPy arrays, like Keras's loaders: uint8
    (N, H, W, C) noise images in which each class brightens its own horizontal band (so a
    CNN learns them quickly), and int64 labels (N,)."""
    gen = torch.Generator().manual_seed(seed)
    h, w = image_size

    def make(n):
        labels = torch.randint(0, classes, (n,), generator=gen)
        images = torch.randint(0, 128, (n, h, w, channels), generator=gen, dtype=torch.int64)
        band = max(1, h // classes)
        rows = torch.arange(h)
        mask = (rows[None, :] // band) == labels[:, None]  # (n, h)
        images = images + 127 * mask[:, :, None, None]
        return images.to(torch.uint8).numpy(), labels.numpy()

    return make(n_train), make(n_test)


def class_names(classes=4):
    """The names of the synthetic classes: 'class_0', 'class_1', ..."""
    return [f"class_{i}" for i in range(classes)]
