"""The shared resolver behind initializers/regularizers/constraints.get (each family's own
tests sweep its names; these are the resolver's rules)."""

import pytest

from kconv import regularizers, serialization


def test_every_kind_of_identifier_resolves():
    l2 = regularizers.L2(0.5)
    assert regularizers.get(None) is None
    assert regularizers.get(l2) is l2
    assert regularizers.get("l2") == regularizers.L2()
    assert regularizers.get(regularizers.L2) == regularizers.L2()
    assert regularizers.get({"class_name": "L2", "config": {"l2": 0.5}}) == l2

    def penalty(w):
        return w.sum()

    assert regularizers.get(penalty) is penalty


def test_serialize_is_keras_format_and_round_trips():
    config = serialization.serialize(regularizers.L1L2(l1=0.25))
    assert config == {"module": "keras.regularizers", "class_name": "L1L2",
                      "config": {"l1": 0.25, "l2": 0.0}, "registered_name": None}
    assert regularizers.get(config) == regularizers.L1L2(l1=0.25)
    assert serialization.serialize(None) is None
    assert serialization.serialize(len)["class_name"] == "len"


def test_errors_name_the_family():
    with pytest.raises(ValueError, match=r"Invalid value for argument `regularizer`: expected "
                                         r"one of \("):
        regularizers.get("l3")
    with pytest.raises(ValueError, match="a config dict with a 'class_name' key"):
        regularizers.get({"config": {}})
    with pytest.raises(TypeError, match="Invalid type for argument `regularizer`"):
        regularizers.get(3)
