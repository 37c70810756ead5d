import numpy as np
import torch

from kconv.datasets import fake


def test_fake_data_is_learnable_and_seeded():
    (x, y), (xt, yt) = fake.load_data(n_train=64, classes=4, seed=3)
    assert x.shape == (64, 32, 32, 3) and x.dtype == np.uint8 and len(yt) == 64
    x, y = torch.from_numpy(x), torch.from_numpy(y)
    assert fake.class_names(4) == ["class_0", "class_1", "class_2", "class_3"]
    band_means = torch.stack([x[:, 8 * c:8 * c + 8].float().mean(dim=(1, 2, 3))
                              for c in range(4)], 1)
    assert torch.equal(band_means.argmax(1), y)
    assert np.array_equal(fake.load_data(n_train=64, classes=4, seed=3)[0][0], x.numpy())
