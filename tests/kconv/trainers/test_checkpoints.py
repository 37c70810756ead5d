"""AtomicCheckpointIO: checkpoints appear whole beside their target, or not at all."""

import os

import pytest
import torch

from kconv.trainers import AtomicCheckpointIO


def test_a_checkpoint_is_written_whole_and_loads(tmp_path):
    io = AtomicCheckpointIO()
    path = tmp_path / "checkpoints" / "last.ckpt"
    io.save_checkpoint({"state_dict": {"w": torch.ones(3)}, "epoch": 2}, path)
    assert os.listdir(path.parent) == ["last.ckpt"]
    assert io.load_checkpoint(path, weights_only=True)["epoch"] == 2


def test_a_failed_write_leaves_nothing(tmp_path, monkeypatch):
    def broken(obj, f):
        with open(f, "wb") as handle:
            handle.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken)
    with pytest.raises(OSError, match="disk full"):
        AtomicCheckpointIO().save_checkpoint({}, tmp_path / "best.ckpt")
    assert os.listdir(tmp_path) == []
