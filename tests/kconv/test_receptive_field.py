import pytest

import kconv
import models
from kconv.layers import Conv2D, Dense, Flatten, GlobalAveragePooling2D, Input, MaxPooling2D


def test_mnist_cnn_reproduces_the_lecture_table():
    rows = kconv.receptive_field(models.get_model("mnist_cnn"))
    assert [row.size[0] for row in rows[:5]] == [3, 4, 8, 10, 18]
    assert [row.jump[0] for row in rows[:5]] == [1, 2, 2, 4, 4]
    assert [row.output_size for row in rows[:5]] == [(26, 26), (13, 13), (11, 11), (5, 5), (3, 3)]
    last_conv = rows[4]
    assert last_conv.pixels == 324 and round(last_conv.coverage, 1) == 41.3
    assert rows[5].size == (26, 26) and rows[5].output_size is None  # Flatten: union of 3x3


def test_without_pooling_three_convs_see_7x7():
    model = kconv.Sequential([Input((28, 28, 1)), Conv2D(32, 3), Conv2D(64, 3), Conv2D(64, 3)])
    last = kconv.receptive_field(model)[-1]
    assert last.size == (7, 7) and last.pixels == 49 and last.coverage == 6.25


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_strides_dilation_and_formats(data_format):
    shape = (20, 16, 3) if data_format == "channels_last" else (3, 20, 16)
    model = kconv.Sequential([Input(shape),
                              Conv2D(4, 3, strides=(2, 1), data_format=data_format),
                              Conv2D(4, 3, dilation_rate=2, data_format=data_format),
                              MaxPooling2D(3, strides=1, data_format=data_format),
                              GlobalAveragePooling2D(data_format=data_format), Dense(2)])
    rows = kconv.receptive_field(model)
    assert rows[0].size == (3, 3) and rows[0].jump == (2, 1)
    assert rows[1].size == (3 + 4 * 2, 3 + 4 * 1)
    assert rows[2].size == (11 + 2 * 2, 7 + 2 * 1) and rows[2].output_size == (3, 8)
    assert rows[3].size == (15 + 2 * 2, 9 + 7) and rows[4].size == rows[3].size
    assert rows[3].coverage == 100.0 * 19 * 16 / (20 * 16)


def test_summary_columns():
    text = models.get_model("mnist_cnn").summary(return_string=True, receptive_field=True)
    row = next(line for line in text.splitlines() if line.startswith("│ conv2d_2 "))
    assert "18x18" in row and "4x4" in row and "41.3 %" in row
    assert "Coverage" in text


def test_errors():
    with pytest.raises(ValueError, match="is not built"):
        kconv.receptive_field(kconv.Sequential([Conv2D(1, 3)]))
    with pytest.raises(ValueError, match="needs a known 2-D image input"):
        kconv.receptive_field(kconv.Sequential([Input((3,)), Dense(2)]))
    assert kconv.receptive_field(kconv.Sequential([Input((4, 4, 1)), Flatten()]))[0].size == (4, 4)
