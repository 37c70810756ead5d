import json

import pytest
import torch

from kconv import config
from kconv.layers import Conv2D


def _write(tmp_path, monkeypatch, content):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    (tmp_path / "keras.json").write_text(content)


def test_default_is_channels_last_and_epsilon_1e_7(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    assert config.image_data_format() == "channels_last"
    assert config.epsilon() == 1e-7


def test_keras_json_is_read(tmp_path, monkeypatch):
    _write(tmp_path, monkeypatch, json.dumps({"image_data_format": "channels_first",
                                              "epsilon": 1e-5}))
    assert config.image_data_format() == "channels_first"
    assert config.epsilon() == 1e-5
    assert Conv2D(2, 3).data_format == "channels_first"


def test_run_time_value_beats_file_and_argument_beats_both(tmp_path, monkeypatch):
    _write(tmp_path, monkeypatch, json.dumps({"image_data_format": "channels_first"}))
    config.set_image_data_format("channels_last")
    assert Conv2D(2, 3).data_format == "channels_last"
    assert Conv2D(2, 3, data_format="Channels_First").data_format == "channels_first"
    config.set_image_data_format(None)
    assert config.image_data_format() == "channels_first"


def test_invalid_file_value_names_the_file(tmp_path, monkeypatch):
    _write(tmp_path, monkeypatch, json.dumps({"image_data_format": "nhwc"}))
    with pytest.raises(ValueError) as info:
        config.image_data_format()
    assert str(info.value) == (
        f"Invalid Keras configuration file {tmp_path / 'keras.json'}: Invalid value for argument "
        "`image_data_format`: expected one of ('channels_first', 'channels_last'). "
        "Received: image_data_format='nhwc'")


def test_malformed_file_names_the_file(tmp_path, monkeypatch):
    _write(tmp_path, monkeypatch, "{not json")
    with pytest.raises(ValueError, match="Invalid Keras configuration file .*keras.json"):
        config.epsilon()


def test_set_image_data_format_validates():
    with pytest.raises(ValueError) as info:
        config.set_image_data_format("NHWC")
    assert str(info.value) == ("Invalid value for argument `image_data_format`: expected one of "
                               "('channels_first', 'channels_last'). "
                               "Received: image_data_format='NHWC'")


def test_axes_of_each_data_format():
    assert config.channel_axis("channels_last") == -1
    assert config.channel_axis("channels_first") == 1
    assert config.spatial_axes("channels_last", 4) == (1, 2)
    assert config.spatial_axes("channels_first", 4) == (2, 3)
    assert config.spatial_axes("channels_last", 5) == (1, 2, 3)
    assert config.spatial_axes("channels_first", 3) == (2,)
    assert config.spatial_shape((None, 7, 9, 3), "channels_last") == (7, 9)
    assert config.spatial_shape((None, 3, 7, 9), "channels_first") == (7, 9)


def test_channels_first_views_are_free_and_invert():
    x = torch.rand(2, 5, 6, 3)
    view = config.to_channels_first(x, "channels_last")
    assert view.shape == (2, 3, 5, 6) and view.data_ptr() == x.data_ptr()
    assert view.is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(config.from_channels_first(view, "channels_last"), x)
    assert config.to_channels_first(x, "channels_first") is x
    assert config.from_channels_first(x, "channels_first") is x
