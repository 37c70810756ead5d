"""The differential fuzzer's fast tier: a few dozen random graphs against Keras in the
default suite (the deep tier, 1,000+ graphs, is ``python -m tests.differential``)."""

import pytest

from tests.differential.check import Skipped, check_graph

FAST_TIER = range(36)


@pytest.mark.parametrize("seed", FAST_TIER)
def test_random_graph_equals_keras(seed, tmp_path):
    try:
        check_graph(seed, str(tmp_path))
    except Skipped as reason:
        pytest.skip(str(reason))
