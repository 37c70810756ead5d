"""Test set-up: Keras 3 runs on its torch backend as the numerical oracle, with its config
folder in a temporary place so neither Keras nor kconv reads the user's keras.json."""

import os
import tempfile

os.environ["KERAS_BACKEND"] = "torch"
os.environ["KERAS_HOME"] = tempfile.mkdtemp(prefix="kconv-keras-home-")

import pytest  # noqa: E402
import torch  # noqa: E402

import kconv  # noqa: E402


@pytest.fixture(autouse=True)
def _fresh_state():
    """Each test starts with default settings, fresh layer names and a fixed seed."""
    kconv.config.set_image_data_format(None)
    kconv.config.set_epsilon(None)
    kconv.clear_session()
    torch.manual_seed(0)
    yield
    kconv.config.set_image_data_format(None)
    kconv.config.set_epsilon(None)
