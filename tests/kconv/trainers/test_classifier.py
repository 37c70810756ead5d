import lightning as L
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

import models
from kconv import constraints
from kconv.trainers import ClassifierModule


def _module(name, model_kwargs=None, **kwargs):
    return ClassifierModule(models.get_model(name, **(model_kwargs or {})), **kwargs)


def _trainer(**kwargs):
    return L.Trainer(accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
                     enable_progress_bar=False, enable_model_summary=False, **kwargs)


def _fit_steps(system, steps=3):
    torch.manual_seed(1)
    data = TensorDataset(torch.randint(0, 256, (16, 32, 32, 3), dtype=torch.uint8),
                         torch.randint(0, 4, (16,)))
    _trainer(max_steps=steps).fit(system, DataLoader(data, batch_size=8))
    return system


def test_regularization_is_part_of_the_training_loss():
    def run(reg):
        torch.manual_seed(0)
        system = _module("stridednet", model_kwargs=dict(
            input_shape=(32, 32, 3), reg=reg), optimizer="sgd",
            optimizer_kwargs=dict(learning_rate=0.05))
        _fit_steps(system)
        return system.model.layers[0].weight.norm().item()

    plain, regularized = run(None), run({"class_name": "L2", "config": {"l2": 1.0}})
    # One SGD step with l2=1 shrinks the kernel by a factor (1 - 2 * 0.05) on top of the data
    # gradient; without the penalty the norm barely moves.
    assert regularized < 0.8 * plain


def test_constraints_run_after_each_optimizer_step():
    torch.manual_seed(0)
    system = _module("cifar_ex1", optimizer="sgd")
    conv = system.model.layers[0]
    conv.weight_specs["weight"].constraint = constraints.NonNeg()
    assert (conv.weight < 0).any()
    _fit_steps(system, steps=2)
    assert (conv.weight >= 0).all()


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_uint8_nhwc_batches_feed_either_data_format(data_format):
    system = _module("mnist_cnn", model_kwargs=dict(data_format=data_format))
    x = torch.randint(0, 256, (2, 28, 28, 1), dtype=torch.uint8)
    channels_last = _module("mnist_cnn")
    channels_last.model.load_state_dict(system.model.state_dict())
    assert torch.allclose(system(x), channels_last(x), atol=1e-6)


class _Snapshots(L.Callback):
    """Records the progress-bar metrics after each training batch and at the epoch's end."""

    def __init__(self):
        self.steps, self.epoch_end = [], None

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.steps.append(dict(trainer.progress_bar_metrics))

    def on_train_epoch_end(self, trainer, pl_module):
        self.epoch_end = {k: v.item() for k, v in trainer.callback_metrics.items()}


def test_logged_metrics_are_keras_style_running_means(mnist_slice):
    train, test = mnist_slice
    x, y = train.tensors[0][:200], train.tensors[1][:200]
    torch.manual_seed(0)
    # A zero learning rate keeps the weights fixed, so the epoch means are those of one model.
    system = _module("mnist_cnn", optimizer="sgd",
                     optimizer_kwargs=dict(learning_rate=0.0))
    snapshots = _Snapshots()
    _trainer(max_epochs=1, log_every_n_steps=5, callbacks=[snapshots]).fit(
        system, DataLoader(TensorDataset(x, y), batch_size=16),
        DataLoader(TensorDataset(x, y), batch_size=64))

    with torch.no_grad():
        out = torch.log(system(x))
    expected_loss = torch.nn.functional.nll_loss(out, y).item()
    expected_acc = (out.argmax(1) == y).float().mean().item()
    for key in ("train", "val"):
        assert snapshots.epoch_end[f"{key}_loss"] == pytest.approx(expected_loss, rel=1e-5)
        assert snapshots.epoch_end[f"{key}_acc"] == pytest.approx(expected_acc)
    # Refreshed at steps 0, 5, 10 and the last (12), kept in between.
    losses = [s["train_loss"] for s in snapshots.steps]
    assert len(losses) == 13
    assert losses[0] == losses[4] != losses[5] == losses[9] != losses[10] == losses[11]
    assert losses[12] == pytest.approx(expected_loss, rel=1e-5)


def test_a_nan_loss_is_logged_as_nan():
    system = _module("cifar_ex1", optimizer="sgd",
                     optimizer_kwargs=dict(learning_rate=1e30))
    snapshots = _Snapshots()
    torch.manual_seed(1)
    data = TensorDataset(torch.randint(0, 256, (64, 32, 32, 3), dtype=torch.uint8),
                         torch.randint(0, 4, (64,)))
    _trainer(max_epochs=2, callbacks=[snapshots]).fit(system, DataLoader(data, batch_size=8))
    assert snapshots.epoch_end["train_loss"] != snapshots.epoch_end["train_loss"]


def test_the_optimizer_is_validated_and_configured_the_keras_way():
    with pytest.raises(ValueError, match="Invalid value for argument `optimizer`"):
        _module("mnist_cnn", optimizer="adagrad")
    module = _module("mnist_cnn", optimizer="SGD", optimizer_kwargs=dict(learning_rate=0.5))
    optimizer = module.configure_optimizers()
    assert type(optimizer).__name__ == "SGD" and optimizer.param_groups[0]["lr"] == 0.5


def test_predictions_are_probabilities_and_logits_skip_the_softmax():
    module = _module("mnist_cnn").eval()
    x = torch.randint(0, 256, (3, 28, 28, 1), dtype=torch.uint8)
    probs = module.predict_step((x, torch.zeros(3)), 0)
    assert torch.allclose(probs.sum(1), torch.ones(3))
    assert torch.allclose(torch.softmax(module.logits(module.prepare(x)), 1), probs, atol=1e-6)
