"""kconv.distribution: Keras's data-parallel API on Lightning's DDP. Two CPU processes (one
node, then two nodes of one) give the one-process run's History, evaluation, predictions
and weights on every process, and write callbacks' files once; the API's refusals and
checks; the slicing of global batches."""

import os
import socket
import subprocess
import sys

import numpy as np
import pytest
import torch

import kconv
import kconv as keras
from kconv import distribution
from tests.kconv import distributed_fit

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "distributed_fit.py")


def _run_script(mode, out, env=None):
    return subprocess.Popen([sys.executable, SCRIPT, mode, str(out)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "PYTHONPATH": ROOT, **(env or {})})


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def one_process(tmp_path_factory):
    out = tmp_path_factory.mktemp("one")
    distributed_fit.run("one", str(out))
    return dict(np.load(out / "result_0.npz"))


def _assert_same_as(reference, out, ranks):
    masks = [np.load(out / f"result_{rank}.npz")["dropout_masks"] for rank in ranks]
    assert all(m.shape == (4, 64) for m in masks) and not np.array_equal(*masks)
    reference = {k: v for k, v in reference.items() if k != "dropout_masks"}
    for rank in ranks:
        result = np.load(out / f"result_{rank}.npz")
        assert sorted(result.files) == sorted([*reference, "dropout_masks"])
        for key in reference:  # Adam's normalized steps carry float rounding further
            np.testing.assert_allclose(result[key], reference[key], rtol=1e-4, atol=2e-6,
                                       err_msg=f"{key} on process {rank}")
    first, second = (np.load(out / f"result_{rank}.npz") for rank in ranks)
    for key in reference:  # every process holds the same, bit for bit
        np.testing.assert_array_equal(first[key], second[key], err_msg=key)


def test_two_cpu_processes_give_the_one_process_result(tmp_path, one_process):
    process = _run_script("dp", tmp_path)
    output = process.communicate(timeout=300)[0]
    assert process.returncode == 0, output
    assert len(one_process["history_loss"]) < 6  # EarlyStopping stopped both alike
    _assert_same_as(one_process, tmp_path, ranks=(0, 1))
    # ModelCheckpoint and CSVLogger wrote from the first process only; it alone printed
    assert sorted(os.listdir(tmp_path)) == ["best_0.keras", "log_0.csv", "result_0.npz",
                                            "result_1.npz"]
    assert output.count("Epoch 1/6") == 1


def test_two_nodes_joined_by_initialize_give_the_one_process_result(tmp_path, one_process):
    env = {"KERAS_DISTRIBUTION_JOB_ADDRESSES": f"127.0.0.1:{_free_port()}",
           "KERAS_DISTRIBUTION_NUM_PROCESSES": "2"}
    nodes = [_run_script("node", tmp_path, {**env, "KERAS_DISTRIBUTION_PROCESS_ID": str(i)})
             for i in (0, 1)]
    for node in nodes:
        output = node.communicate(timeout=300)[0]
        assert node.returncode == 0, output
    _assert_same_as(one_process, tmp_path, ranks=(0, 1))
    assert not (tmp_path / "best_1.keras").exists()


def test_keras_names():
    for name in ("list_devices", "get_device_count", "initialize", "DataParallel",
                 "DeviceMesh", "ModelParallel", "LayoutMap", "TensorLayout",
                 "distribute_tensor", "distribution", "set_distribution"):
        assert hasattr(keras.distribution, name)


def test_devices_are_listed_as_keras_names_them():
    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    cpus = len(os.sched_getaffinity(0))
    assert distribution.list_devices("cpu") == [f"cpu:{i}" for i in range(cpus)]
    assert distribution.list_devices() == (
        [f"gpu:{i}" for i in range(gpus)] if gpus else distribution.list_devices("cpu"))
    assert distribution.get_device_count("cpu") == cpus
    with pytest.raises(ValueError, match=r"`device_type`: expected 'cpu' or 'gpu' \(CUDA\)."
                                         r" Received: device_type='tpu'"):
        distribution.list_devices("tpu")


def test_data_parallel_checks_its_devices():
    assert DataParallelDevices(["cpu:0"]) == ("cpu", [0])
    assert distribution.DataParallel().num_model_replicas == len(distribution.list_devices())
    mesh = distribution.DeviceMesh((1,), ["batch"], ["cpu:0"])
    assert distribution.DataParallel(device_mesh=mesh).batch_dim_name == "batch"
    for devices in (["cpu:99999"], ["tpu:0"], ["cpu:0", "cpu:0"]):
        with pytest.raises(ValueError, match="Invalid value for argument `devices`"):
            distribution.DataParallel(devices=devices)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match=r"devices of this node \(\['cpu:0'"):
            distribution.DataParallel(devices=["gpu:0"])
    with pytest.raises(TypeError, match="`devices`: expected a list of device names"):
        distribution.DataParallel(devices="cpu:0")
    with pytest.raises(TypeError, match="`device_mesh`: expected a kconv.distribution"):
        distribution.DataParallel(device_mesh="batch")
    with pytest.raises(ValueError, match="one axis"):
        distribution.DeviceMesh((1, 1), ["batch", "model"], ["cpu:0"])


def DataParallelDevices(devices):
    parallel = distribution.DataParallel(devices=devices)
    return parallel.device_type, parallel.indices


@pytest.mark.parametrize("make", [
    lambda: distribution.ModelParallel(layout_map=None),
    lambda: distribution.LayoutMap(None),
    lambda: distribution.TensorLayout(("batch", None)),
    lambda: distribution.distribute_tensor(torch.ones(2), None)])
def test_model_parallelism_is_refused_in_one_line(make):
    with pytest.raises(NotImplementedError, match=r"^kconv.distribution.\w+ is not supported: "
                                                  r"kconv replicates every weight"):
        make()


def test_set_distribution_and_scope():
    parallel = distribution.DataParallel(devices=["cpu:0"])
    with parallel.scope():
        assert distribution.distribution() is parallel
    assert distribution.distribution() is None
    distribution.set_distribution(parallel)
    assert distribution.distribution() is parallel
    with pytest.raises(TypeError, match="`value`: expected a kconv.distribution.DataParallel"):
        distribution.set_distribution("ddp")


def test_one_device_trains_in_this_process(monkeypatch):
    model = kconv.Sequential([kconv.layers.Input((3,)), kconv.layers.Dense(2)])
    model.compile("sgd", "mse")
    distribution.set_distribution(distribution.DataParallel(devices=["cpu:0"]))
    assert distribution.plan() is None and distribution.launch() is None
    history = model.fit(np.ones((4, 3)), np.zeros((4, 2)), verbose=0)
    assert len(history.history["loss"]) == 1


def test_several_processes_are_refused_outside_a_script(monkeypatch):
    monkeypatch.setattr(distribution, "_interactive", lambda: True)
    monkeypatch.setattr(distribution, "_cpu_count", lambda: 2)
    distribution.set_distribution(distribution.DataParallel(devices=["cpu:0", "cpu:1"]))
    model = kconv.Sequential([kconv.layers.Input((3,)), kconv.layers.Dense(2)])
    model.compile("sgd", "mse")
    with pytest.raises(RuntimeError, match=r"needs a script run as `python script.py`"):
        model.fit(np.ones((4, 3)), np.zeros((4, 2)), verbose=0)


def test_initialize_sets_lightnings_variables(monkeypatch):
    for name in ("MASTER_ADDR", "MASTER_PORT", "NODE_RANK"):  # restored (absent) afterwards
        monkeypatch.setenv(name, "unset")
    distribution.initialize("10.0.0.1:1234,10.0.0.2:2345", num_processes=2, process_id=1)
    assert (os.environ["MASTER_ADDR"], os.environ["MASTER_PORT"], os.environ["NODE_RANK"]) \
        == ("10.0.0.1", "1234", "1")
    assert distribution._nodes() == 2
    monkeypatch.setattr(distribution, "_cpu_count", lambda: 2)
    assert distribution.DataParallel(devices=["cpu:0", "cpu:1"]).num_model_replicas == 4
    with pytest.raises(ValueError, match=r"`process_id`: expected an int in \[0, 1\]"):
        distribution.initialize("h:1", num_processes=2, process_id=2)
    with pytest.raises(ValueError, match="`job_addresses`: expected 'host:port'"):
        distribution.initialize("host-without-port", num_processes=2, process_id=0)


@pytest.mark.parametrize("size,parts,weights", [
    (16, [(0, 8), (8, 16)], [1.0, 1.0]),
    (5, [(0, 2), (2, 5)], [0.8, 1.2]),
    (1, [(0, 1), (0, 1)], [0.0, 2.0])])  # the first holds a placeholder that counts nothing
def test_each_process_takes_its_slice_of_a_global_batch(monkeypatch, size, parts, weights):
    distribution.set_distribution(distribution.DataParallel(devices=["cpu:0"]))
    x, y = torch.arange(size * 2.0).view(size, 2), torch.arange(size)
    for rank, ((start, stop), weight) in enumerate(zip(parts, weights)):
        monkeypatch.setattr(distribution, "replica", lambda rank=rank: (rank, 2))
        (xs, ys, ws), got = distribution.shard((x, y, None))
        assert torch.equal(xs, x[start:stop]) and torch.equal(ys, y[start:stop])
        assert ws is None and got == pytest.approx(weight)
    distribution.distribution().auto_shard_dataset = False  # already split per process
    assert distribution.shard((x, y, None)) == ((x, y, None), 1.0)


def test_seeded_layers_draw_their_own_stream_on_each_process(monkeypatch):
    from kconv.random import SeededGenerators
    first = SeededGenerators(3).get("cpu")
    monkeypatch.setattr(distribution, "replica", lambda: (1, 2))
    second = SeededGenerators(3).get("cpu")
    assert distribution.seed_offset() == 1_000_003
    assert not torch.equal(torch.rand(4, generator=first), torch.rand(4, generator=second))
