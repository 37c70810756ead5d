import itertools

import pytest

from kconv import padding


# (n, k, s, d) -> pads verified against Keras 3.15.1 (reference §1.4).
@pytest.mark.parametrize("n,k,s,d,pads", [
    (5, 3, 2, 1, (1, 1)), (6, 3, 2, 1, (0, 1)), (6, 4, 1, 1, (1, 2)), (7, 2, 2, 1, (0, 1)),
    (6, 3, 1, 2, (2, 2)), (6, 2, 1, 1, (0, 1)), (8, 5, 3, 1, (1, 2)),
])
def test_same_padding_matches_reference_table(n, k, s, d, pads):
    assert padding.same_padding(n, k, s, d) == pads


@pytest.mark.parametrize("n,k,s,d", list(itertools.product(range(1, 13), range(1, 8),
                                                          range(1, 4), range(1, 4))))
def test_same_padding_gives_ceil_output_with_extra_pixel_at_end(n, k, s, d):
    before, after = padding.same_padding(n, k, s, d)
    assert 0 <= after - before <= 1
    span = padding.effective_kernel(k, d)
    assert (n + before + after - span) // s + 1 == -(-n // s) == padding.output_length(
        n, k, s, "same", d)


@pytest.mark.parametrize("n,k,s,d,expected", [(28, 3, 1, 1, 26), (13, 3, 1, 1, 11),
                                              (96, 7, 2, 1, 45), (10, 3, 1, 3, 4),
                                              (5, 5, 1, 1, 1), (4, 5, 1, 1, 0)])
def test_valid_output_length(n, k, s, d, expected):
    assert padding.output_length(n, k, s, "valid", d) == expected


def test_unknown_length_stays_unknown():
    assert padding.output_length(None, 3, 2, "same") is None


def test_torch_padding_uses_native_padding_only_when_symmetric():
    assert padding.torch_padding(((1, 1), (2, 2))) == ((1, 2), None)
    assert padding.torch_padding(((0, 1), (1, 1))) == ((0, 0), (1, 1, 0, 1))


def test_stridednet_sizes():
    size, sizes = 96, []
    for k, s, pad in [(7, 2, "valid"), (3, 1, "same"), (3, 2, "same"), (3, 1, "same"),
                      (3, 2, "same"), (3, 1, "same"), (3, 2, "same")]:
        size = padding.output_length(size, k, s, pad)
        sizes.append(size)
    assert sizes == [45, 45, 23, 23, 12, 12, 6]


def test_same_conv_padding_combines_split_and_torch_form():
    assert padding.same_conv_padding((12, 45), (3, 3), (2, 2)) == ((0, 0), (1, 1, 0, 1))
    assert padding.same_conv_padding((45, 45), (3, 3), (2, 2)) == ((1, 1), None)
