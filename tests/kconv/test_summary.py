import pytest

import kconv
from kconv.layers import BatchNormalization, Input
from kconv.summary import format_shape, readable_size
from tests.keras_oracle import build_both, mnist_cnn, strided_block


def _keras_footer(k_model):
    lines = []
    k_model.summary(print_fn=lambda s, line_break=None: lines.append(s))
    return [line for line in "\n".join(lines).splitlines()
            if line.lstrip().startswith(("Total", "Trainable", "Non-trainable"))]


@pytest.mark.parametrize("factory,shape", [(mnist_cnn, (28, 28, 1)),
                                           (strided_block, (64, 48, 3))])
def test_summary_matches_keras(factory, shape):
    k_model, model = build_both(factory, shape)
    ours = [(layer.name, type(layer).__name__, layer.output_shape, layer.count_params())
            for layer in model.layers]
    theirs = [(layer.name, type(layer).__name__, tuple(layer.output.shape),
               layer.count_params()) for layer in k_model.layers]
    assert ours == theirs
    text = model.summary(return_string=True)
    assert text.splitlines()[0] == 'Model: "sequential"'
    assert [line for line in text.splitlines() if line.startswith(" ")] == _keras_footer(k_model)
    for name, cls, shape_, params in ours:
        row = next(line for line in text.splitlines() if line.startswith(f"│ {name} "))
        assert format_shape(shape_) in row and f"{params:,}" in row


def test_mnist_cnn_has_93322_parameters():
    model = kconv.Sequential([Input((28, 28, 1))] + mnist_cnn(kconv))
    assert model.count_params() == 93322
    assert sum(layer.count_params() for layer in model.layers[:5]) == 55744
    assert " Total params: 93,322 (364.54 KB)" in model.summary(return_string=True)


def test_summary_prints_and_wraps_long_names(capsys):
    model = kconv.Sequential([Input((4, 4, 2)), BatchNormalization()])
    model.summary()
    out = capsys.readouterr().out
    assert "│ batch_normalization" in out and "│ (BatchNormalization)" in out
    assert " Non-trainable params: 4 (16.00 B)" in out


def test_sizes_and_shapes_print_as_keras_does():
    assert format_shape((None, 26, 26, 32)) == "(None, 26, 26, 32)"
    assert [readable_size(n) for n in (16, 373288, 3 * 1024 ** 3)] == \
        ["16.00 B", "364.54 KB", "3.00 GB"]
