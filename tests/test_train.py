"""train.py end to end: tiny generated folders, fake data, real MNIST, resume, DDP, bad input."""

import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

import pytest
import torch

import train

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_cli(*args, cwd, timeout=300):
    return subprocess.run([sys.executable, os.path.join(ROOT, "train.py"), *args], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "PYTHONPATH": ROOT})


def test_folder_dataset_end_to_end(tmp_path, write_folder):
    data = write_folder(tmp_path / "images", counts={"cats": 6, "dogs": 6, "owls": 6})
    out = tmp_path / "run"
    result = run_cli("--dataset", str(data), "--image-size", "32", "--epochs", "2",
                     "--batch-size", "4", "--test-size", "0.34", "--out-dir", str(out),
                     cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "18 images in 3 classes: cats 6, dogs 6, owls 6" in result.stderr
    assert "skipped 2 unreadable or non-image files (first: broken.jpg, notes.txt)" in \
        result.stderr
    assert "TPU available" not in result.stderr and "Tip" not in result.stderr
    assert sorted(os.listdir(out)) == ["checkpoints", "config.json", "metrics.csv", "plot.png",
                                      "report.json", "report.txt"]
    assert sorted(os.listdir(out / "checkpoints")) == ["best.ckpt", "last.ckpt"]
    report = json.loads((out / "report.json").read_text())
    assert set(report) == {"cats", "dogs", "owls", "accuracy", "macro avg", "weighted avg"}
    assert report["weighted avg"]["support"] == 6
    rows = (out / "metrics.csv").read_text().splitlines()
    assert rows[0] == "epoch,train_loss,train_acc,val_loss,val_acc,lr,seconds"
    assert len(rows) == 3
    config = json.loads((out / "config.json").read_text())
    assert config["model"] == "stridednet" and config["optimizer"] == "adam"
    assert config["decay"] == pytest.approx(1e-4 / 2) and config["augmentation"]["shear_range"]
    assert "precision    recall  f1-score   support" in (out / "report.txt").read_text()
    assert (out / "plot.png").read_bytes()[:4] == b"\x89PNG"


def test_fake_dataset_in_process(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    system = train.main(["--dataset", "fake", "--epochs", "2", "--seed", "1"])
    assert system.test_report["accuracy"] > 0.9  # the fake classes are easy
    assert (tmp_path / "runs" / "fake" / "report.json").exists()


def test_fast_dev_run_on_real_mnist_writes_nothing(tmp_path, monkeypatch, caplog):
    monkeypatch.chdir(tmp_path)
    train.main(["--fast-dev-run", "--verbose"])
    assert not (tmp_path / "runs").exists()
    assert "TPU available" in caplog.text  # --verbose shows Lightning's own lines


def test_cifar10_folder_and_download_flag(tmp_path, monkeypatch, write_cifar):
    monkeypatch.chdir(tmp_path)
    write_cifar(tmp_path / "src" / "cifar-10-batches-py", per_batch=10)
    archive = tmp_path / "cifar.tar.gz"
    import tarfile
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(tmp_path / "src" / "cifar-10-batches-py", arcname="cifar-10-batches-py")
    monkeypatch.setattr("kconv.datasets.cifar10.URL", archive.as_uri())
    system = train.main(["--dataset", "cifar10", "--download", "--epochs", "1",
                         "--out-dir", "c10"])
    assert (tmp_path / "data" / "cifar10" / "cifar-10-batches-py" / "test_batch").exists()
    assert system.hparams.class_names[:2] == ["airplane", "automobile"]
    assert system.hparams.model == "cifar_ex1" and system.augment is not None


def test_compile_flag_reaches_the_system():
    # Compiled training itself is tested in tests/models/test_system.py.
    for argv, expected in ((["--dataset", "fake"], "auto"),
                           (["--dataset", "fake", "--compile"], True),
                           (["--dataset", "fake", "--compile", "off"], False)):
        config = train.resolve(train.build_parser().parse_args(argv))
        system, _ = train.setup(dict(config, fast_dev_run=True), train.load_data(config))
        assert system.hparams.compile is expected


def test_the_progress_bar_is_tqdms_even_with_rich_installed():
    pytest.importorskip("rich")  # Lightning's default would be its RichProgressBar
    from lightning.pytorch.callbacks import TQDMProgressBar

    config = train.resolve(train.build_parser().parse_args(["--dataset", "fake"]))
    _, trainer = train.setup(dict(config, fast_dev_run=True), train.load_data(config))
    assert type(trainer.progress_bar_callback) is TQDMProgressBar


def test_the_allocator_keeps_freed_memory_before_data_is_loaded(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(train, "retain_freed_memory", lambda: calls.append("allocator"))
    load_data = train.load_data
    monkeypatch.setattr(train, "load_data", lambda config: calls.append("data")
                        or load_data(config))
    monkeypatch.chdir(tmp_path)
    train.main(["--dataset", "fake", "--fast-dev-run"])
    assert calls == ["allocator", "data"]


def test_bf16_mixed_on_cpu(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    system = train.main(["--dataset", "fake", "--epochs", "1", "--precision", "bf16-mixed",
                         "--out-dir", "bf16"])
    assert system.test_report["accuracy"] > 0.5


def test_half_precision_on_a_cpu_without_it_is_said(tmp_path, monkeypatch):
    from kconv.mixed_precision import policy
    monkeypatch.setattr(policy, "_cpu_flags", lambda: set())  # a CPU without bfloat16
    monkeypatch.setattr(policy, "_WARNED", set())
    monkeypatch.chdir(tmp_path)
    with pytest.warns(UserWarning, match="no bfloat16 arithmetic in hardware"):
        train.main(["--dataset", "fake", "--fast-dev-run", "--precision", "bf16-mixed",
                    "--accelerator", "cpu"])


def _final_weights(out):
    state = torch.load(out / "checkpoints" / "last.ckpt", weights_only=False)["state_dict"]
    return state


def test_resume_after_sigkill_matches_an_uninterrupted_run(tmp_path):
    args = ["--dataset", "fake", "--model", "cifar_ex1", "--epochs", "4", "--batch-size", "8",
            "--seed", "3"]
    full = run_cli(*args, "--out-dir", "full", cwd=tmp_path)
    assert full.returncode == 0, full.stderr
    killed = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, os.path.join(ROOT, "train.py"), *args,
                             "--out-dir", str(killed)], cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "PYTHONPATH": ROOT})
    deadline = time.time() + 240
    while not (killed / "checkpoints" / "last.ckpt").exists() and time.time() < deadline:
        time.sleep(0.01)
    time.sleep(0.3)  # into the next epoch
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (killed / "report.json").exists(), "the run finished before it was killed"
    resumed = run_cli(*args, "--out-dir", str(killed), "--resume", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    a, b = _final_weights(tmp_path / "full"), _final_weights(killed)
    for key in a:
        assert torch.allclose(a[key].float(), b[key].float(), atol=1e-6), key
    rows = (killed / "metrics.csv").read_text().splitlines()
    assert [r.split(",")[0] for r in rows[1:]] == ["1", "2", "3", "4"]


def test_ddp_with_two_cpu_processes_writes_one_set_of_results(tmp_path):
    result = run_cli("--dataset", "fake", "--epochs", "1", "--accelerator", "cpu",
                     "--devices", "2", "--strategy", "ddp", "--out-dir", "ddp", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = tmp_path / "ddp"
    assert sorted(os.listdir(out)) == ["checkpoints", "config.json", "metrics.csv", "plot.png",
                                      "report.json", "report.txt"]
    assert len((out / "metrics.csv").read_text().splitlines()) == 2
    report = json.loads((out / "report.json").read_text())
    assert report["weighted avg"]["support"] == 64  # the whole test set, gathered


def test_a_folder_is_decoded_once_into_the_cache_dir(tmp_path, monkeypatch, write_folder,
                                                     capsys):
    data = write_folder(tmp_path / "images", counts={"a": 4, "b": 4}, size=(12, 12))
    monkeypatch.chdir(tmp_path)
    argv = ["--dataset", str(data), "--image-size", "32", "--fast-dev-run", "--cache-dir",
            "cache"]
    train.main(argv)
    assert "decoded with" in capsys.readouterr().err
    [entry] = os.listdir(tmp_path / "cache")
    train.main(argv)
    assert f"opened from the cache cache{os.sep}{entry}" in capsys.readouterr().err
    train.main(argv[:-2] + ["--no-cache", "--cache-dir", "other"])
    assert "(not cached)" in capsys.readouterr().err and not (tmp_path / "other").exists()


def test_lightning_is_imported_while_a_folder_is_decoded(tmp_path, monkeypatch, write_folder):
    import threading

    data = write_folder(tmp_path / "images", counts={"a": 40, "b": 40}, size=(12, 12))
    where = []
    monkeypatch.setattr(train, "_import_lightning", lambda: where.append(
        threading.current_thread() is threading.main_thread()))
    for dataset in (data, data, "fake"):  # decoded, then from the cache; a built-in
        config = train.resolve(train.build_parser().parse_args(
            ["--dataset", str(dataset), "--image-size", "16", "--cache-dir",
             str(tmp_path / "cache")]))
        assert train.load_data(config).bundle.image_shape == (16, 16, 3)
    assert where == [False, True, True]  # a thread only while decoding


def test_ddp_processes_share_one_cached_folder(tmp_path, write_folder):
    data = write_folder(tmp_path / "images", counts={"a": 6, "b": 6}, size=(12, 12))
    result = run_cli("--dataset", str(data), "--image-size", "32", "--epochs", "1",
                     "--accelerator", "cpu", "--devices", "2", "--strategy", "ddp",
                     "--cache-dir", "cache", "--out-dir", "ddp", "--no-augment", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    # one process decoded (one progress bar started at 0 %); the other rank opened that entry
    assert len(re.findall(r"decoding images:\s+0%", result.stderr)) == 1
    assert "decoded with" in result.stderr
    assert len(os.listdir(tmp_path / "cache")) == 1
    report = json.loads((tmp_path / "ddp" / "report.json").read_text())
    assert report["weighted avg"]["support"] == 4


# ----------------------------------------------------------------------------- bad input
BAD = [
    (["--dataset", "nowhere"], "dataset folder not found: nowhere"),
    (["--dataset", "EMPTY"], "No class sub-folders in"),
    (["--dataset", "IMAGES", "--classes", "cats,birds"], "Unknown classes ['birds']"),
    (["--dataset", "IMAGES", "--classes", "cats"], "expected at least two comma-separated"),
    (["--dataset", "mnist", "--classes", "1,x"], "Unknown classes ['x']; the dataset has: 0, 1"),
    (["--model", "resnet"], "argument --model: invalid choice: 'resnet'"),
    (["--epochs", "0"], "argument --epochs: expected a positive integer, got '0'"),
    (["--epochs", "two"], "argument --epochs: expected a positive integer, got 'two'"),
    (["--batch-size", "-4"], "argument --batch-size: expected a positive integer, got '-4'"),
    (["--lr", "-1"], "argument --lr: expected a non-negative number, got '-1'"),
    (["--lr", "fast"], "argument --lr: expected a number, got 'fast'"),
    (["--decay", "nan"], "argument --decay: expected a non-negative number, got 'nan'"),
    (["--image-size", "0"], "argument --image-size: expected N or HxW with positive sizes"),
    (["--image-size", "big"], "argument --image-size: expected N or HxW, got 'big'"),
    (["--dataset", "IMAGES", "--image-size", "6"],
     "images of 6x6 are too small for stridednet"),
    (["--dataset", "fake", "--model", "lenet", "--image-size", "8"],
     "images of 8x8 are too small for lenet"),
    (["--dataset", "IMAGES", "--test-size", "0"], "--test-size 0.0 leaves an empty split"),
    (["--dataset", "IMAGES", "--test-size", "1.5"],
     "Invalid value for argument `test_size`: expected a number in [0.0, 1.0]"),
    (["--optimizer", "adagrad"], "argument --optimizer: invalid choice: 'adagrad'"),
    (["--precision", "8-bit"], "argument --precision: invalid choice: '8-bit'"),
    (["--data-format", "NHWC"], "argument --data-format: invalid choice: 'NHWC'"),
    (["--devices", "0"], "argument --devices: expected a positive integer, got '0'"),
    (["--num-nodes", "0"], "argument --num-nodes: expected a positive integer, got '0'"),
    (["--accelerator", "tpu"], "argument --accelerator: invalid choice: 'tpu'"),
    pytest.param(["--dataset", "fake", "--accelerator", "gpu"],
                 "--accelerator gpu: no CUDA GPU is available on this machine",
                 marks=pytest.mark.skipif(torch.cuda.is_available(), reason="has a GPU")),
    (["--dataset", "fake", "--strategy", "bogus"], "You selected an invalid strategy name"),
    (["--dataset", "fake", "--resume"], "--resume: no checkpoint at"),
    (["--dataset", "cifar10"], "CIFAR-10 files not found in"),
    (["--unknown-flag"], "unrecognized arguments: --unknown-flag"),
]


@pytest.mark.parametrize("argv,message", BAD)
def test_bad_input_is_one_clear_line_and_writes_nothing(argv, message, tmp_path, monkeypatch,
                                                        capsys, write_folder):
    monkeypatch.chdir(tmp_path)
    write_folder(tmp_path / "IMAGES")
    (tmp_path / "EMPTY").mkdir()
    monkeypatch.setenv("KCONV_CIFAR10", str(tmp_path / "no-cifar"))
    with pytest.raises(SystemExit) as info:
        train.main(argv + ["--out-dir", "out"])
    assert info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("train.py: error: ") and message in err[-1], err
    assert "Traceback" not in "\n".join(err)
    assert not (tmp_path / "out").exists()


def _unsafe_checkpoint(out, write_folder):
    (out / "checkpoints").mkdir(parents=True)
    torch.save({"state_dict": {}, "args": argparse.Namespace(lr=1)},
               out / "checkpoints" / "last.ckpt")


def _held_by_a_live_process(out, write_folder):
    sleeper = subprocess.Popen(["sleep", "60"])
    out.mkdir()
    (out / ".lock").write_text(f"{sleeper.pid} {socket.gethostname()}\n")
    return sleeper


SETUP_BAD = [
    (lambda out, write_folder: out.write_text("a file"), ["--dataset", "fake"],
     "--out-dir out exists and is not a folder"),
    (_unsafe_checkpoint, ["--dataset", "fake", "--resume"],
     "--resume: out/checkpoints/last.ckpt cannot be loaded safely: it holds a Python object "
     "(argparse.Namespace), not only tensors and plain values; only checkpoints written by "
     "train.py can be resumed"),
    (lambda out, write_folder: write_folder(out.parent / "ONE", counts={"cats": 3}),
     ["--dataset", "ONE"],
     "a classifier needs at least two classes; ONE has only 'cats'"),
    (_held_by_a_live_process, ["--dataset", "fake"], "--out-dir out is in use by another run "
     "(process {pid}); wait for it to finish or choose another folder"),
]


@pytest.mark.parametrize("prepare,argv,message", SETUP_BAD)
def test_bad_results_folders_are_one_line_and_left_untouched(prepare, argv, message, tmp_path,
                                                             monkeypatch, capsys, write_folder):
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "out"
    owner = prepare(out, write_folder)

    def contents():  # every file and folder, and each file's modification time
        return sorted((p.relative_to(tmp_path), p.is_file() and p.stat().st_mtime_ns)
                      for p in tmp_path.rglob("*") if "ONE" not in p.parts)

    before = contents()
    try:
        with pytest.raises(SystemExit) as info:
            train.main(argv + ["--out-dir", "out"])
    finally:
        if isinstance(owner, subprocess.Popen):
            owner.kill()
            owner.wait()
    assert info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    expected = message.format(pid=owner.pid if isinstance(owner, subprocess.Popen) else None)
    assert err[-1] == f"train.py: error: {expected}", err
    assert contents() == before


def test_a_diverging_run_stops_and_keeps_its_last_finite_checkpoint(tmp_path, monkeypatch,
                                                                    capsys):
    """NaN weights from the second epoch on: the run stops there, exit status 3, one line,
    metrics.csv has the epoch, the report says so, last.ckpt and best.ckpt keep epoch 1."""
    from kconv.trainers import ClassifierModule

    original = ClassifierModule.training_step

    def poisoned(self, batch, batch_idx):
        if self.current_epoch == 1 and batch_idx == 2:
            with torch.no_grad():
                self.model.layers[-1].weight.fill_(float("nan"))
        return original(self, batch, batch_idx)

    monkeypatch.setattr(ClassifierModule, "training_step", poisoned)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as info:
        train.main(["--dataset", "fake", "--epochs", "4", "--out-dir", "out"])
    assert info.value.code == 3
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("train.py: error: training diverged in epoch 2 (non-finite loss")
    assert err[-1].endswith("try a learning rate below 0.001")
    out = tmp_path / "out"
    rows = [r.split(",") for r in (out / "metrics.csv").read_text().splitlines()[1:]]
    assert [r[0] for r in rows] == ["1", "2"] and rows[1][1] == "nan"
    assert json.loads((out / "report.json").read_text())["diverged"] is True
    assert "diverged" in (out / "report.txt").read_text()
    for name in ("last.ckpt", "best.ckpt"):
        state = torch.load(out / "checkpoints" / name, weights_only=True)
        assert state["epoch"] == 0
        assert all(torch.isfinite(v).all() for v in state["state_dict"].values())
    assert not (out / ".lock").exists()


def test_a_killed_runs_temporary_files_and_lock_are_cleared(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "out"
    (out / "checkpoints").mkdir(parents=True)
    leftover = out / "checkpoints" / ".tmp-abc123-last.ckpt"
    leftover.write_bytes(b"half a checkpoint")
    dead = subprocess.Popen(["true"])
    dead.wait()
    (out / ".lock").write_text(f"{dead.pid} {socket.gethostname()}\n")
    train.main(["--dataset", "fake", "--epochs", "1", "--out-dir", "out"])
    assert not leftover.exists() and not (out / ".lock").exists()
    assert sorted(os.listdir(out / "checkpoints")) == ["best.ckpt", "last.ckpt"]


def test_help_shows_groups_and_defaults(capsys):
    with pytest.raises(SystemExit):
        train.main(["--help"])
    text = capsys.readouterr().out
    for fragment in ("data:", "model and training:", "hardware:", "(default: mnist)",
                     "--fast-dev-run", "python train.py --resume"):
        assert fragment in text
    flat = " ".join(text.split())
    # Per-dataset defaults come from the recipes, optimizer choices from kconv.optimizers.
    for key, flag in (("epochs", "--epochs EPOCHS epochs"), ("lr", "--lr LR learning rate")):
        values = ", ".join(f"{'folders' if kind == 'folder' else kind} {recipe[key]}"
                           for kind, recipe in train.RECIPES.items())
        assert f"{flag} (default per dataset: {values})" in flat
    assert "fake 32x32, folders 96x96" in flat and "(default: None)" not in flat
    from kconv import optimizers
    assert "{" + ",".join(optimizers.names()) + "}" in flat


def test_help_and_bad_flags_do_not_import_the_training_stack():
    code = ("import sys, train\n"
            "try:\n    train.main(['--epochs', '0'])\nexcept SystemExit:\n    pass\n"
            "heavy = [m for m in sys.modules if m.split('.')[0] in "
            "('lightning', 'torchmetrics', 'matplotlib', 'torchcodec')]\n"
            "assert not heavy, heavy\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "train.py: error: argument --epochs" in result.stderr


# ----------------------------------------------------------------------------- ablation
def _nan_net(**kwargs):
    """cifar_ex1 whose output layer is NaN: a variant that diverges."""
    import models
    model = models.get_model("cifar_ex1", **kwargs)
    with torch.no_grad():
        model.layers[-2].weight.fill_(float("nan"))
    return model


def test_ablation_on_fake_data_marks_a_diverging_variant(tmp_path, monkeypatch):
    from models import registry
    monkeypatch.setitem(registry._BUILDERS, "nan_net", _nan_net)
    monkeypatch.chdir(tmp_path)
    rows = train.main(["--dataset", "fake", "--epochs", "2", "--image-size", "16",
                       "--model", "cifar_ex1,nan_net,mnist_cnn,cifar_ex4", "--out-dir", "abl"])
    status = {r["variant"]: r["status"] for r in rows}
    assert status["cifar_ex1"] == "ok" and status["cifar_ex4"] == "ok"
    assert status["nan_net"].startswith("failed: training diverged in epoch 1")
    assert status["mnist_cnn"].startswith("failed: images of 16x16 are too small for mnist_cnn")
    out = tmp_path / "abl"
    for name in ("cifar_ex1", "cifar_ex4", "nan_net"):
        assert (out / name / "metrics.csv").exists() and (out / name / "report.json").exists()
    csv_rows = (out / "ablation.csv").read_text().splitlines()
    assert csv_rows[0] == ("variant,changed,parameters,best_val_acc,final_val_acc,best_epoch,"
                           "seconds_per_epoch,status")
    assert len(csv_rows) == 5
    table = (out / "ablation.md").read_text()
    assert "| cifar_ex4 | use_bias=False in every Conv2D |" in table
    for name in ("ablation_val_acc.png", "ablation_val_loss.png"):
        assert (out / name).read_bytes()[:4] == b"\x89PNG"


def test_ablation_flag_on_a_tiny_folder(tmp_path, monkeypatch, write_folder):
    data = write_folder(tmp_path / "images", counts={"a": 4, "b": 4}, size=(12, 12))
    monkeypatch.chdir(tmp_path)
    rows = train.main(["--dataset", str(data), "--ablation", "--epochs", "1", "--image-size",
                       "32", "--batch-size", "4", "--test-size", "0.5", "--out-dir", "all",
                       "--no-augment"])
    assert [r["variant"] for r in rows] == [f"cifar_ex{i}" for i in range(1, 11)]
    assert all(r["status"] == "ok" for r in rows)
    assert rows[1]["parameters"] > rows[0]["parameters"] > rows[4]["parameters"]
    # --resume skips finished variants and still writes the table
    again = train.main(["--dataset", str(data), "--ablation", "--epochs", "1", "--image-size",
                        "32", "--out-dir", "all", "--resume", "--test-size", "0.5"])
    assert [r["best_val_acc"] for r in again] == [r["best_val_acc"] for r in rows]
