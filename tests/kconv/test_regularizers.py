import keras
import numpy as np
import pytest
import torch

from kconv import regularizers


@pytest.mark.parametrize("ours,theirs", [
    (regularizers.L1(0.3), keras.regularizers.L1(0.3)),
    (regularizers.L2(0.0005), keras.regularizers.L2(0.0005)),
    (regularizers.l1_l2(l1=0.01, l2=0.02), keras.regularizers.L1L2(l1=0.01, l2=0.02)),
    (regularizers.get("l2"), keras.regularizers.get("l2")),
    (regularizers.get("l1l2"), keras.regularizers.get("l1l2")),
    (regularizers.OrthogonalRegularizer(0.1), keras.regularizers.OrthogonalRegularizer(0.1)),
    (regularizers.OrthogonalRegularizer(0.1, "columns"),
     keras.regularizers.OrthogonalRegularizer(0.1, "columns")),
])
def test_penalties_and_configs_match_keras(ours, theirs):
    x = np.random.default_rng(8).standard_normal((6, 4)).astype("float32")
    expected = keras.ops.convert_to_numpy(theirs(keras.ops.convert_to_tensor(x)))
    np.testing.assert_allclose(ours(torch.from_numpy(x)).item(), expected, rtol=1e-5)
    assert ours.get_config() == theirs.get_config()


def test_l2_has_no_half():
    assert regularizers.L2(0.5)(torch.tensor([2.0])).item() == 2.0


def test_names_follow_keras():
    assert regularizers.l1_l2 is regularizers.L1L2
    assert regularizers.l1_l2().get_config() == {"l1": 0.0, "l2": 0.0}
    with pytest.raises(ValueError) as info:
        regularizers.get("l1_l2")
    assert str(info.value).startswith("Invalid value for argument `regularizer`: expected one of "
                                      "('L1', 'L1L2', 'L2', ")
    assert regularizers.get({"class_name": "L2", "config": {"l2": 0.1}}) == regularizers.L2(0.1)


@pytest.mark.parametrize("value", [-1.0, float("nan")])
def test_factor_validation(value):
    with pytest.raises(ValueError) as info:
        regularizers.L1(value)
    assert str(info.value) == ("Invalid value for argument `l1`: expected a number >= 0.0. "
                               f"Received: l1={value}")


def test_orthogonal_regularizer_needs_rank_2():
    with pytest.raises(ValueError, match="a rank-2 weight"):
        regularizers.OrthogonalRegularizer()(torch.zeros(2, 2, 2))
