from types import SimpleNamespace

import lightning as L
import torch

import models
from kconv.datasets import ImageDataModule
from kconv.trainers import ClassifierModule, EpochSeed, History


def test_epoch_seed_seeds_each_epoch_from_the_run_seed():
    callback = EpochSeed(10)
    callback.on_train_epoch_start(SimpleNamespace(current_epoch=3), None)
    drawn = torch.rand(3)
    torch.manual_seed(13)
    assert torch.equal(drawn, torch.rand(3))


def test_history_writes_a_row_per_epoch_and_travels_in_checkpoints(tmp_path):
    history = History(str(tmp_path / "metrics.csv"), str(tmp_path / "plot.png"))
    module = ClassifierModule(models.get_model("mnist_cnn", classes=4,
                                               input_shape=(24, 24, 3)), optimizer="adam")
    data = ImageDataModule("fake", image_size=(24, 24), batch_size=64)
    L.Trainer(max_epochs=2, logger=False, enable_checkpointing=False, enable_progress_bar=False,
              enable_model_summary=False, callbacks=[history]).fit(module, datamodule=data)
    lines = (tmp_path / "metrics.csv").read_text().splitlines()
    assert lines[0] == "epoch,train_loss,train_acc,val_loss,val_acc,lr,seconds"
    assert [line.split(",")[0] for line in lines[1:]] == ["1", "2"]
    assert all(v != "" for v in lines[2].split(","))
    assert (tmp_path / "plot.png").read_bytes()[:4] == b"\x89PNG"

    resumed = History(str(tmp_path / "again.csv"), None)
    resumed.load_state_dict(history.state_dict())
    assert resumed.rows == history.rows and resumed.rows is not history.rows
