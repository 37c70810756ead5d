import pickle

import pytest
import torch

from kconv.random import SeededGenerators


def test_seeded_generators_repeat_and_pickle():
    rng = SeededGenerators(5)
    first = torch.rand(3, generator=rng.get("cpu"))
    assert rng.get("cpu") is rng.get(torch.device("cpu"))
    copy = pickle.loads(pickle.dumps(rng))  # restarts the stream
    assert torch.equal(torch.rand(3, generator=copy.get("cpu")), first)
    assert SeededGenerators(None).get("cpu") is None


def test_seed_validation():
    with pytest.raises(ValueError) as info:
        SeededGenerators("5")
    assert str(info.value) == ("Invalid value for argument `seed`: expected None or an int. "
                               "Received: seed='5'")
