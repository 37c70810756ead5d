"""Stratified train/test split with a fixed seed."""

import torch

from kconv.validation import check_float


def stratified_split(labels, test_size=0.25, seed=42):
    """``(train_indices, test_indices)``: each class contributes ``round(n_c * test_size)``
    test samples (at least one when it has two or more), drawn with ``seed``.

    For the tutorial's CALTECH-101 subset (436, 201, 799, 801 images) that is 559 test
    images.
    """
    test_size = check_float("test_size", test_size, minimum=0.0, maximum=1.0)
    gen = torch.Generator().manual_seed(seed)
    train, test = [], []
    for c in torch.unique(labels).tolist():
        idx = (labels == c).nonzero().flatten()
        idx = idx[torch.randperm(len(idx), generator=gen)]
        k = int(round(len(idx) * test_size))
        if test_size > 0 and len(idx) >= 2:
            k = min(max(k, 1), len(idx) - 1)
        test.append(idx[:k])
        train.append(idx[k:])
    return torch.cat(train).sort().values, torch.cat(test).sort().values
