"""Keras weight files in and out: ``.weights.h5`` and ``.keras`` (Keras 3) and legacy
Keras 2 ``.h5``, and ``load_model`` (the model itself is rebuilt from the file's config by
:mod:`kconv.models.deserialization`).

Loading never runs code from a file: only HDF5 datasets and JSON are read, custom objects,
lambdas and unknown layers are refused with a clear error, and a ``.keras`` archive with a
member outside itself is rejected.
"""

import io
import json
import os
import posixpath
import zipfile

import numpy as np

from kconv.naming import to_snake_case
from kconv.utils.file_utils import atomic_path



def _h5py():
    try:
        import h5py
    except ImportError:  # pragma: no cover - h5py is a dependency
        raise ImportError("Reading and writing Keras weight files needs h5py: "
                          "pip install h5py") from None
    return h5py


def _weighted(model):
    return [layer for layer in model.layers if layer.weight_specs]


def _assign(model, arrays_per_layer, source):
    """Copy per-layer Keras arrays (Keras order and layout) into the model's layers."""
    targets = _weighted(model)
    if len(arrays_per_layer) != len(targets):
        raise ValueError(f"{source} holds weights for {len(arrays_per_layer)} layers, but "
                         f"model '{model.name}' has {len(targets)} layers with weights")
    for layer, (name, arrays) in zip(targets, arrays_per_layer):
        shapes = [tuple(a.shape) for a in arrays]
        expected = [spec.keras_shape for spec in layer.weight_specs.values()]
        if shapes != expected:
            raise ValueError(f"Layer '{layer.name}' ({type(layer).__name__}) does not fit "
                             f"the weights of '{name}' in {source}: expected shapes "
                             f"{expected}, found {shapes}")
    for layer, (_, arrays) in zip(targets, arrays_per_layer):
        layer.set_weights([np.asarray(a) for a in arrays])


def _keras_keys(model):
    """Keras's ``layers/<key>`` names: snake_case class name, unique in layer order."""
    counts, keys = {}, []
    for layer in model.layers:
        base = to_snake_case(type(layer).__name__)
        n = counts.get(base, 0)
        counts[base] = n + 1
        keys.append(base if n == 0 else f"{base}_{n}")
    return keys


def _read_weights_h5(f, model, source):
    if "layers" not in f:
        raise ValueError(f"{source} is not a Keras 3 weights file (no 'layers' group)")
    arrays = []
    for key, layer in zip(_keras_keys(model), model.layers):
        group = f["layers"].get(key)
        if group is None:
            raise ValueError(f"Layer '{layer.name}' ({type(layer).__name__}) has no entry "
                             f"'layers/{key}' in {source}")
        variables = group.get("vars")
        values = [variables[str(i)][()] for i in range(len(variables))] if variables else []
        if layer.weight_specs:
            arrays.append((variables.attrs.get("name", key) if variables else key, values))
        elif values:
            raise ValueError(f"Layer '{layer.name}' ({type(layer).__name__}) has no weights, "
                             f"but 'layers/{key}' in {source} holds {len(values)}")
    return arrays


def _read_legacy_h5(f, source):
    group = f["model_weights"] if "model_weights" in f else f
    if "layer_names" not in group.attrs:
        raise ValueError(f"{source} is not a Keras weights file (no 'layer_names')")
    arrays = []
    for raw in group.attrs["layer_names"]:
        name = raw.decode() if isinstance(raw, bytes) else str(raw)
        layer_group = group[name]
        names = [n.decode() if isinstance(n, bytes) else str(n)
                 for n in layer_group.attrs.get("weight_names", [])]
        if names:
            arrays.append((name, [layer_group[n][()] for n in names]))
    return arrays


def _open_h5(data_or_path, source):
    h5py = _h5py()
    try:
        return h5py.File(data_or_path, "r")
    except (OSError, ValueError) as e:
        raise ValueError(f"Cannot read {source}: not a valid HDF5 file ({e})") from None


def _open_keras_zip(path):
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as e:
        raise ValueError(f"Cannot read {path}: not a valid .keras archive ({e})") from None
    for name in archive.namelist():
        normal = posixpath.normpath(name)
        if name.startswith(("/", "\\")) or normal.startswith("..") or ":" in name:
            archive.close()
            raise ValueError(f"Refusing {path}: archive member {name!r} points outside the "
                             "archive")
    for member in ("config.json", "model.weights.h5"):
        if member not in archive.namelist():
            archive.close()
            raise ValueError(f"Cannot read {path}: the archive has no {member}")
    return archive


def _read_member(archive, name, path):
    try:
        return archive.read(name)
    except (zipfile.BadZipFile, OSError, EOFError) as e:
        raise ValueError(f"Cannot read {path}: {name} is damaged ({e})") from None


def load_weights(model, path):
    """Load Keras weights (``.weights.h5``, ``.keras`` or legacy ``.h5``) into a built kconv
    ``Sequential`` of the same architecture.

    Raises:
        ValueError: unreadable or malformed file, or the first layer that does not fit.
    """
    path = os.fspath(path)
    if not model.built:
        raise ValueError(f"Model '{model.name}' is not built: give it an Input first")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No such weights file: {path}")
    try:
        if path.endswith(".keras"):
            with _open_keras_zip(path) as archive:
                data = _read_member(archive, "model.weights.h5", path)
            with _open_h5(io.BytesIO(data), path) as f:
                arrays = _read_weights_h5(f, model, path)
        elif path.endswith(".weights.h5"):
            with _open_h5(path, path) as f:
                arrays = _read_weights_h5(f, model, path)
        elif path.endswith(".h5"):
            with _open_h5(path, path) as f:
                arrays = _read_legacy_h5(f, path)
        else:
            raise ValueError(f"Unknown weights file type: {path} (expected .weights.h5, "
                             ".keras or .h5)")
    except (KeyError, OSError) as e:
        raise ValueError(f"Cannot read {path}: malformed Keras weights file ({e})") from None
    _assign(model, arrays, path)


def save_weights(model, path):
    """Write a Keras 3 ``.weights.h5`` that ``keras_model.load_weights`` reads into the same
    architecture (written atomically)."""
    path = os.fspath(path)
    if not path.endswith(".weights.h5"):
        raise ValueError(f"The filename must end in `.weights.h5`. Received: filepath={path}")
    if not model.built:
        raise ValueError(f"Model '{model.name}' is not built: give it an Input first")
    h5py = _h5py()
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        group = f.create_group("layers")
        for key, layer in zip(_keras_keys(model), model.layers):
            variables = group.create_group(key).create_group("vars")
            variables.attrs["name"] = layer.name
            for i, value in enumerate(layer.get_weights()):
                variables.create_dataset(str(i), data=value)
        f.create_group("vars").attrs["name"] = model.name


def load_model(path):
    """Build the torch module a ``.keras`` file describes and load its weights.

    Example:
        >>> model = kconv.saving.load_model("mnist_cnn.keras")
        >>> probabilities = model(torch.rand(8, 28, 28, 1))
    """
    path = os.fspath(path)
    if not path.endswith(".keras"):
        raise ValueError(f"load_model reads .keras files; received {path} (use "
                         "model.load_weights for .weights.h5 and .h5)")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No such model file: {path}")
    with _open_keras_zip(path) as archive:
        raw = _read_member(archive, "config.json", path)
    try:
        config = json.loads(raw)
    except ValueError as e:
        raise ValueError(f"Cannot read {path}: config.json is not valid JSON ({e})") from None
    from kconv.models.deserialization import model_from_config

    model = model_from_config(config)
    load_weights(model, path)
    return model
