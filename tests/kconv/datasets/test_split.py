import torch

from kconv.datasets import stratified_split


def test_stratified_split_matches_the_tutorial_sizes():
    labels = torch.cat([torch.full((n,), c) for c, n in enumerate((436, 201, 799, 801))])
    train, test = stratified_split(labels, 0.25, seed=42)
    assert len(test) == 559 and len(train) == 2237 - 559
    assert torch.bincount(labels[test]).tolist() == [109, 50, 200, 200]
    assert set(train.tolist()).isdisjoint(test.tolist())
    assert torch.equal(stratified_split(labels, 0.25, seed=42)[1], test)
    assert not torch.equal(stratified_split(labels, 0.25, seed=1)[1], test)
