"""Keras 3's ``keras.distribution`` on Lightning's DDP strategy: data parallelism for the
next ``fit``/``evaluate``/``predict`` of any kconv model, on CPU processes (gloo) or GPUs
(NCCL), on one node or several.

As in Keras, the batch size is the global one: every process draws the same batches and
computes on its own slice of each (gradients averaged, BatchNormalization's statistics,
metrics and the loss taken over the whole batch), so a data-parallel ``fit`` gives the
weights, History and callbacks' decisions of a one-process ``fit`` on the same data, on
every process, up to float rounding. A CPU's "devices" are processes (``cpu:0`` ... one per
core); a GPU's are its CUDA devices. The first data-parallel call relaunches the script once
per further device (Lightning's launcher), so the script runs in every process: guard what
only one process should do with :func:`is_chief`. Several nodes: run the script on each
node after :func:`initialize` (or under ``torchrun``).

Model parallelism (``ModelParallel``, ``LayoutMap``, ``TensorLayout``,
``distribute_tensor``) is refused: kconv replicates every weight.

Example:
    >>> import kconv as keras
    >>> keras.distribution.set_distribution(keras.distribution.DataParallel())
    >>> model.fit(x, y, batch_size=64)   # one process per device, same result
"""

import contextlib
import os
import sys

import numpy as np
import torch

from kconv.validation import check_int, invalid_type, invalid_value

_STATE = {"distribution": None, "nodes": None}
_DEVICE_TYPES = ("cpu", "gpu")


def _gpu_count():
    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def _cpu_count():
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else \
        os.cpu_count() or 1


def _kind(name):
    """A device type as Keras names it ('cuda' is 'gpu'), lower case."""
    kind = name.lower() if isinstance(name, str) else name
    return "gpu" if kind == "cuda" else kind


def _count(kind):
    """How many devices of a (known) kind this node has."""
    return _gpu_count() if kind == "gpu" else _cpu_count()


def _device_type(device_type):
    if device_type is None:
        return "gpu" if _gpu_count() else "cpu"
    kind = _kind(device_type)
    if kind not in _DEVICE_TYPES:
        raise invalid_value("device_type", "'cpu' or 'gpu' (CUDA)", device_type)
    return kind


def _names(devices):
    """Device names from a list (or array) of them, flattened."""
    return [str(d) for d in np.asarray(devices).reshape(-1)]


def list_devices(device_type=None):
    """This node's devices as Keras names them: ``'gpu:0'``... (CUDA) or, without a GPU or
    for ``device_type='cpu'``, ``'cpu:0'``... one per core this process may run on (each a
    process of its own under :class:`DataParallel`)."""
    kind = _device_type(device_type)
    return [f"{kind}:{i}" for i in range(_count(kind))]


def get_device_count(device_type=None):
    """How many devices :func:`list_devices` lists."""
    return len(list_devices(device_type))


def initialize(job_addresses=None, num_processes=None, process_id=None):
    """Join a run over several nodes, as Keras's ``initialize``: on every node, with the
    same ``job_addresses`` (``'host:port'`` of node 0 first; comma-separated),
    ``num_processes`` (the number of nodes) and this node's ``process_id`` (0 on the first).
    Unset arguments come from ``KERAS_DISTRIBUTION_JOB_ADDRESSES``,
    ``KERAS_DISTRIBUTION_NUM_PROCESSES`` and ``KERAS_DISTRIBUTION_PROCESS_ID``; they become
    Lightning's ``MASTER_ADDR``, ``MASTER_PORT`` and ``NODE_RANK``. Each node then runs its
    :class:`DataParallel` devices."""
    env = os.environ
    if job_addresses is None:
        job_addresses = env.get("KERAS_DISTRIBUTION_JOB_ADDRESSES")
    if num_processes is None and "KERAS_DISTRIBUTION_NUM_PROCESSES" in env:
        num_processes = int(env["KERAS_DISTRIBUTION_NUM_PROCESSES"])
    if process_id is None and "KERAS_DISTRIBUTION_PROCESS_ID" in env:
        process_id = int(env["KERAS_DISTRIBUTION_PROCESS_ID"])
    nodes = check_int("num_processes", 1 if num_processes is None else num_processes)
    node = check_int("process_id", 0 if process_id is None else process_id, minimum=0)
    if node >= nodes:
        raise invalid_value("process_id", f"an int in [0, {nodes - 1}] (num_processes="
                            f"{nodes})", node)
    if nodes > 1:
        if not isinstance(job_addresses, str) or not job_addresses.strip():
            raise invalid_value("job_addresses", "'host:port' of the first node (or "
                                "KERAS_DISTRIBUTION_JOB_ADDRESSES)", job_addresses)
        host, _, port = job_addresses.split(",")[0].strip().rpartition(":")
        if not host or not port.isdigit():
            raise invalid_value("job_addresses", "'host:port' of the first node first",
                                job_addresses)
        env["MASTER_ADDR"], env["MASTER_PORT"] = host, port
        env["NODE_RANK"] = str(node)
    _STATE["nodes"] = nodes


class DeviceMesh:
    """The devices of a :class:`DataParallel` run: kconv's meshes are one axis (data)."""

    def __init__(self, shape, axis_names, devices=None):
        shape = tuple(shape) if isinstance(shape, (list, tuple)) else (shape,)
        axis_names = [axis_names] if isinstance(axis_names, str) else list(axis_names)
        if len(shape) != 1 or len(axis_names) != 1:
            raise invalid_value("shape", "one axis (kconv's DeviceMesh is data-parallel only; "
                                "model parallelism is not supported)", shape)
        devices = list_devices() if devices is None else _names(devices)
        if len(devices) != int(shape[0]):
            raise invalid_value("devices", f"{shape[0]} devices (the mesh's shape)", devices)
        self.shape, self.axis_names, self.devices = shape, axis_names, np.array(devices)

    def __repr__(self):
        return f"<DeviceMesh {self.shape}, axis_names={self.axis_names}>"


class Distribution:
    """The base of :class:`DataParallel`: a device mesh and the ``scope()`` that makes it
    current."""

    def __init__(self, device_mesh, batch_dim_name=None, auto_shard_dataset=True):
        self._device_mesh = device_mesh
        self._batch_dim_name = batch_dim_name
        self.auto_shard_dataset = bool(auto_shard_dataset)

    @property
    def device_mesh(self):
        return self._device_mesh

    @property
    def batch_dim_name(self):
        return self._batch_dim_name

    @contextlib.contextmanager
    def scope(self):
        """Make this distribution current inside the ``with`` block."""
        previous = distribution()
        set_distribution(self)
        try:
            yield
        finally:
            set_distribution(previous)


class DataParallel(Distribution):
    """Replicate the model on every device and split each batch across them (Lightning's
    DDP: gloo between CPU processes, NCCL between GPUs).

    Args:
        device_mesh: a one-axis :class:`DeviceMesh` (or give ``devices``).
        devices: device names such as ``['gpu:0', 'gpu:1']`` or ``['cpu:0', 'cpu:1']``
            (CPU "devices" are processes); default: every device of :func:`list_devices`.
        auto_shard_dataset: True (Keras's default): each process takes its slice of every
            batch. False, as Keras means it, is for data already split between the
            processes: each uses its own batches whole (the global batch is their sum;
            every process must draw the same number of batches).

    Raises:
        ValueError: a device that does not exist, or devices of two types.

    Example:
        >>> keras.distribution.set_distribution(DataParallel(devices=["cpu:0", "cpu:1"]))
    """

    def __init__(self, device_mesh=None, devices=None, auto_shard_dataset=True):
        if device_mesh is not None:
            if not isinstance(device_mesh, DeviceMesh):
                raise invalid_type("device_mesh", "a kconv.distribution.DeviceMesh",
                                   device_mesh)
            mesh = device_mesh
        else:
            if devices is not None and not isinstance(devices, (list, tuple, np.ndarray)):
                raise invalid_type("devices", "a list of device names such as 'gpu:0'",
                                   devices)
            if devices is not None and not len(devices):
                raise invalid_value("devices", "at least one device", devices)
            names = list_devices() if devices is None else _names(devices)
            mesh = DeviceMesh((len(names),), ["batch"], names)
        super().__init__(mesh, mesh.axis_names[0], auto_shard_dataset)
        self.device_type, self.indices = _parse_devices(list(mesh.devices))

    @property
    def num_model_replicas(self):
        """Replicas over every node."""
        return len(self.indices) * (_STATE["nodes"] or 1)

    def __repr__(self):
        return f"<DataParallel devices={list(self._device_mesh.devices)}>"


def _parse_devices(names):
    """``('cpu' | 'gpu', [indices])`` of device names, each checked to exist."""
    kinds, indices = set(), []
    for name in names:
        kind, _, index = name.partition(":")
        kind = _kind(kind)
        count = _count(kind) if kind in _DEVICE_TYPES else 0
        if not index.isdigit() or int(index) >= count:
            raise invalid_value("devices", f"devices of this node ({list_devices()}"
                                f"{'' if _gpu_count() else ', or cpu:i processes'})", names)
        kinds.add(kind)
        indices.append(int(index))
    if len(kinds) != 1:
        raise invalid_value("devices", "devices of one type", names)
    if len(set(indices)) != len(indices):
        raise invalid_value("devices", "distinct devices", names)
    return kinds.pop(), indices


def _refused(name):
    raise NotImplementedError(
        f"kconv.distribution.{name} is not supported: kconv replicates every weight on every "
        f"device (data parallelism, DataParallel); model parallelism and layouts are not "
        f"implemented")


class ModelParallel(Distribution):
    """Refused: kconv has data parallelism only (:class:`DataParallel`)."""

    def __init__(self, *args, **kwargs):
        _refused("ModelParallel")


class LayoutMap:
    """Refused: weights are never sharded in kconv."""

    def __init__(self, *args, **kwargs):
        _refused("LayoutMap")


class TensorLayout:
    """Refused: weights are never sharded in kconv."""

    def __init__(self, *args, **kwargs):
        _refused("TensorLayout")


def distribute_tensor(tensor, layout):
    """Refused: tensors are never sharded in kconv."""
    _refused("distribute_tensor")


def distribution():
    """The current distribution (None: one process)."""
    return _STATE["distribution"]


def set_distribution(value):
    """Make ``value`` (a :class:`DataParallel`, or None) the distribution of the next
    ``fit``/``evaluate``/``predict`` calls."""
    if value is not None and not isinstance(value, DataParallel):
        raise invalid_type("value", "a kconv.distribution.DataParallel or None", value)
    _STATE["distribution"] = value


# ------------------------------------------------------------------ the engine's side
def _nodes():
    """Nodes of the run: :func:`initialize`'s count, or torchrun's."""
    if _STATE["nodes"]:
        return _STATE["nodes"]
    env = os.environ
    if "LOCAL_WORLD_SIZE" in env and "WORLD_SIZE" in env and "TORCHELASTIC_RUN_ID" in env:
        return max(int(env["WORLD_SIZE"]) // int(env["LOCAL_WORLD_SIZE"]), 1)
    return 1


def plan():
    """``dict(strategy, accelerator, devices, num_nodes)`` for Lightning when the current
    distribution spans more than one process (DDP: Lightning picks NCCL between GPUs, gloo
    between CPU processes); None otherwise."""
    current = distribution()
    if current is None:
        return None
    nodes = _nodes()
    if len(current.indices) * nodes == 1:
        return None
    gpu = current.device_type == "gpu"  # CUDA devices by index; CPU processes by count
    return {"strategy": "ddp", "accelerator": "cuda" if gpu else "cpu",
            "devices": list(current.indices) if gpu else len(current.indices),
            "num_nodes": nodes}


def launch():
    """Start the processes of :func:`plan` (once: the script runs again in each) and join
    them into one process group; afterwards ``(rank, world size)``, or None for one
    process."""
    layout = plan()
    if layout is None:
        return None
    import torch.distributed as dist
    if not dist.is_initialized():
        if _interactive():
            raise RuntimeError(
                "DataParallel over several processes needs a script run as `python "
                "script.py` (Lightning relaunches it once per device); it cannot start from "
                "a notebook or an interactive session")
        from lightning.fabric import Fabric
        from kconv.trainers.engine import quiet_lightning
        with quiet_lightning():
            Fabric(**layout).launch()
    return dist.get_rank(), dist.get_world_size()


def device():
    """This process's device in a launched data-parallel run (its GPU, or the CPU)."""
    layout = plan()
    if layout is None or layout["accelerator"] != "cuda":
        return torch.device("cpu")
    return torch.device("cuda", layout["devices"][int(os.environ.get("LOCAL_RANK", 0))])


def replica():
    """``(rank, world size)`` while a launched data-parallel run is current; else None."""
    if plan() is None:
        return None
    import torch.distributed as dist
    if not dist.is_available() or not dist.is_initialized():
        return None
    return dist.get_rank(), dist.get_world_size()


def seed_offset():
    """What a seeded layer adds to its seed in this process: 0, or a per-rank offset in a
    data-parallel run (each slice of a batch then gets its own draws)."""
    place = replica()
    return 0 if place is None else place[0] * 1_000_003


def is_chief():
    """Whether this is the process that writes files and prints (the first process of a
    data-parallel run, or the only process).

    Example:
        >>> if keras.distribution.is_chief():
        ...     model.save("model.keras")
    """
    place = replica()
    return place is None or place[0] == 0


def _interactive():
    import __main__
    return not hasattr(__main__, "__file__") or hasattr(sys, "ps1")


def shard(batch):
    """This process's slice of a global batch ``(x, y, sample_weight)`` and the weight of
    its loss, ``local size * world / global size`` (so that DDP's averaged gradient is the
    whole batch's): ``(batch, 1.0)`` outside a launched run or without
    ``auto_shard_dataset``. A batch smaller than the world gives the processes past its
    end a copy of one sample with weight 0 (they count it in no metric)."""
    place = replica()
    if place is None or not distribution().auto_shard_dataset:
        return batch, 1.0
    from kconv.trainers.data_adapters import first_item, map_structure
    rank, world = place
    size = int(first_item(batch[0]).shape[0])
    start, stop = rank * size // world, (rank + 1) * size // world
    weight = (stop - start) * world / size
    if start == stop:  # fewer samples than processes: a placeholder that counts for nothing
        start = rank % size
        stop = start + 1
    part = tuple(map_structure(lambda t: t[start:stop], value) for value in batch)
    return part, weight


def gather_batches(chunks):
    """Every process's list of per-batch results (None where it held a placeholder),
    merged in the global batches' order, on every process."""
    import torch.distributed as dist
    parts = [None] * dist.get_world_size()
    dist.all_gather_object(parts, chunks)
    return [chunk for batch in zip(*parts) for chunk in batch if chunk is not None]


def share_random_state():
    """Give every process rank 0's torch, NumPy and Python random states, so that each
    draws the same shuffles and augmentations of the same global batches."""
    import random

    import torch.distributed as dist
    state = [(torch.get_rng_state(), np.random.get_state(), random.getstate())]
    dist.broadcast_object_list(state, src=0)
    torch.set_rng_state(state[0][0])
    np.random.set_state(state[0][1])
    random.setstate(state[0][2])


class RankRandomStream:
    """This process's own torch random stream for the training steps: the processes share
    one stream for what they must draw alike (shuffles, augmentations of the global batch,
    :func:`share_random_state`), and noise layers (dropout, noise, in-model augmentation)
    draw from this one inside each step, so that each slice of a batch gets its own masks
    as one process would give the whole batch. Made after :func:`share_random_state`."""

    def __init__(self, rank, device):
        import zlib
        seed = zlib.crc32(torch.get_rng_state().numpy().tobytes()) * 7919 + rank + 1
        self.device = torch.device(device)
        self.cuda = self.device.type == "cuda"  # dropout on a GPU draws from its generator
        self.states = [torch.Generator().manual_seed(seed).get_state()]
        if self.cuda:
            self.states.append(torch.Generator(self.device).manual_seed(seed).get_state())

    def _get(self):
        cuda = [torch.cuda.get_rng_state(self.device)] if self.cuda else []
        return [torch.get_rng_state()] + cuda

    def _set(self, states):
        torch.set_rng_state(states[0])
        if self.cuda:
            torch.cuda.set_rng_state(states[1], self.device)

    @contextlib.contextmanager
    def active(self):
        """Draw from this process's stream inside, from the shared one again after."""
        shared = self._get()
        self._set(self.states)
        try:
            yield
        finally:
            self.states = self._get()
            self._set(shared)


_SYNC = {"on": False}


@contextlib.contextmanager
def synchronized_batch_statistics():
    """Inside: BatchNormalization layers in training take their statistics over the
    whole batch of every process."""
    _SYNC["on"] = True
    try:
        yield
    finally:
        _SYNC["on"] = False


def syncing():
    """Whether BatchNormalization must synchronize its statistics now."""
    return _SYNC["on"]
