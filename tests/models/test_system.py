"""ClassifierSystem: a registered network on kconv's engine, checkpointed by name."""

import lightning as L
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from models import ClassifierSystem


def _trainer(**kwargs):
    return L.Trainer(accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
                     enable_progress_bar=False, enable_model_summary=False, **kwargs)


def test_trains_on_real_mnist_and_checkpoint_round_trips(mnist_slice, tmp_path):
    train, test = mnist_slice
    torch.manual_seed(0)
    system = ClassifierSystem("mnist_cnn", optimizer="rmsprop",
                              class_names=[str(i) for i in range(10)])
    trainer = _trainer(max_epochs=1)
    trainer.fit(system, DataLoader(train, batch_size=64, shuffle=True),
                DataLoader(test, batch_size=256))
    trainer.test(system, DataLoader(test, batch_size=256), verbose=False)
    report = system.test_report
    assert report["accuracy"] > 0.8  # chance is 0.1
    assert report["weighted avg"]["support"] == 1000
    assert trainer.callback_metrics["test_acc"].item() == pytest.approx(report["accuracy"])

    path = tmp_path / "model.ckpt"
    trainer.save_checkpoint(path)
    restored = ClassifierSystem.load_from_checkpoint(path, weights_only=True)
    system.eval()
    restored.eval()
    x = test.tensors[0][:32]
    assert torch.equal(restored(x), system(x))
    probs = torch.cat(_trainer().predict(restored, DataLoader(test, batch_size=500)))
    assert probs.shape == (1000, 10) and torch.allclose(probs.sum(1), torch.ones(1000))


def test_compile_runs_the_same_network_and_saves_plain_checkpoints(tmp_path):
    torch.manual_seed(0)
    system = ClassifierSystem("mnist_cnn", optimizer="sgd", compile=True)
    data = TensorDataset(torch.randint(0, 256, (20, 28, 28, 1), dtype=torch.uint8),
                         torch.randint(0, 10, (20,)))
    trainer = _trainer(max_steps=2)
    trainer.fit(system, DataLoader(data, batch_size=12))  # batches of 12 and 8: one graph
    assert system.model._compiled_step is not None  # the step (forward and loss) compiled
    x, y = system.prepare(data.tensors[0][:5]), data.tensors[1][:5]
    system.train()
    compiled = system.model._compiled_step(x, y, None, True)[0]
    assert torch.allclose(compiled, system.model._forward_loss(x, y, None, True)[0], atol=1e-5)

    path = tmp_path / "compiled.ckpt"
    trainer.save_checkpoint(path)
    plain = ClassifierSystem.load_from_checkpoint(path, weights_only=True, compile=False)
    assert plain.state_dict().keys() == ClassifierSystem("mnist_cnn").state_dict().keys()
    assert torch.equal(plain.logits(x), system.model.logits(x))


def test_hyperparameters_name_the_network():
    system = ClassifierSystem("lenet", model_kwargs=dict(hidden=10), optimizer="adam")
    assert system.hparams.model == "lenet" and system.hparams.model_kwargs == {"hidden": 10}
    assert system.model.layers[-1].units == 10 and type(system.model.optimizer).__name__ == "Adam"
