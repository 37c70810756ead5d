import keras

from kconv import naming


def test_snake_case_matches_keras():
    for name in ("Conv2D", "MaxPooling2D", "BatchNormalization", "GlobalAveragePooling2D",
                 "Dense", "InputLayer"):
        assert naming.to_snake_case(name) == keras.src.utils.naming.to_snake_case(name)


def test_unique_names_count_per_base_until_cleared():
    assert [naming.unique_name("dense") for _ in range(3)] == ["dense", "dense_1", "dense_2"]
    assert naming.unique_name("conv2d") == "conv2d"
    naming.clear_session()
    assert naming.unique_name("dense") == "dense"
