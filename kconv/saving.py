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


def _is_model(layer):
    from kconv.models.model import Model
    return isinstance(layer, Model)


def _wraps(layer):
    """Whether ``layer`` is a wrapper, whose Keras variables lie in two groups."""
    from kconv.layers.wrappers import Wrapper
    return isinstance(layer, Wrapper)


def _vars(group):
    variables = group.get("vars") if group is not None else None
    return [variables[str(i)][()] for i in range(len(variables))] if variables else []


def _assign(pairs, source):
    """Copy Keras arrays (Keras order and layout) into layers: ``[(layer, name, arrays)]``,
    every shape checked before anything is copied."""
    for layer, name, arrays in pairs:
        shapes = [tuple(a.shape) for a in arrays]
        expected = [spec.keras_shape for _, spec in layer.weight_entries()]
        if shapes != expected:
            raise ValueError(f"Layer '{layer.name}' ({type(layer).__name__}) does not fit "
                             f"the weights of '{name}' in {source}: expected shapes "
                             f"{expected}, found {shapes}")
    for layer, _, arrays in pairs:
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


def _read_weights_h5(group, model, source, where="layers"):
    """``[(layer, name, arrays)]`` from a Keras 3 weights group, nested models included."""
    if "layers" not in group:
        raise ValueError(f"{source} is not a Keras 3 weights file (no '{where}' group)")
    pairs = []
    for key, layer in zip(_keras_keys(model), model.layers):
        entry = group["layers"].get(key)
        if entry is None:
            raise ValueError(f"Layer '{layer.name}' ({type(layer).__name__}) has no entry "
                             f"'{where}/{key}' in {source}")
        if _is_model(layer):
            pairs += _read_weights_h5(entry, layer, source, f"{where}/{key}/layers")
            continue
        values = _vars(entry)
        if _wraps(layer):  # Keras keeps a wrapper's layer's weights in its 'layer' group
            values = layer.join_keras_vars(values, _vars(entry.get("layer")))
        if layer.weight_entries():
            name = entry["vars"].attrs.get("name", key) if "vars" in entry else key
            pairs.append((layer, name, values))
        elif values:
            raise ValueError(f"Layer '{layer.name}' ({type(layer).__name__}) has no weights, "
                             f"but '{where}/{key}' in {source} holds {len(values)}")
    return pairs


def _read_legacy_h5(f, model, source):
    """``[(layer, name, arrays)]`` from a Keras 2 ``.h5``: matched to the model's layers
    with weights by name when every name is found (functional models), else in order."""
    group = f["model_weights"] if "model_weights" in f else f
    if "layer_names" not in group.attrs:
        raise ValueError(f"{source} is not a Keras weights file (no 'layer_names')")
    saved = []
    for raw in group.attrs["layer_names"]:
        name = raw.decode() if isinstance(raw, bytes) else str(raw)
        layer_group = group[name]
        names = [n.decode() if isinstance(n, bytes) else str(n)
                 for n in layer_group.attrs.get("weight_names", [])]
        if names:
            saved.append((name, [layer_group[n][()] for n in names]))
    targets = [layer for layer in model.layers if layer.weight_entries()]
    by_name = {layer.name: layer for layer in targets}
    if len(saved) != len(targets):
        raise ValueError(f"{source} holds weights for {len(saved)} layers, but model "
                         f"'{model.name}' has {len(targets)} layers with weights")
    if all(name in by_name for name, _ in saved):
        pairs = [(by_name[name], name, arrays) for name, arrays in saved]
    else:
        pairs = [(layer, name, arrays) for layer, (name, arrays) in zip(targets, saved)]
    return [(layer, name, _from_legacy_order(layer, arrays)) for layer, name, arrays in pairs]


def _from_legacy_order(layer, arrays):
    """Keras 2 lists a nested model's weights trainable first: back to layer order."""
    order = _legacy_order(layer)
    if len(arrays) != len(order):
        return arrays  # reported by _assign
    restored = [None] * len(order)
    for array, i in zip(arrays, order):
        restored[i] = array
    return restored


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
    """Load Keras weights (``.weights.h5``, ``.keras`` or legacy ``.h5``/``.hdf5``, or a file
    of one of those formats under another name, as Keras 2 scripts wrote them) into a built
    kconv model of the same architecture.

    Raises:
        ValueError: unreadable or malformed file, or the first layer that does not fit.
    """
    path = os.fspath(path)
    if not model.built:
        raise ValueError(f"Model '{model.name}' is not built: give it an Input first")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No such weights file: {path}")
    kind = _file_kind(path)
    try:
        if kind == "keras":
            with _open_keras_zip(path) as archive:
                data = _read_member(archive, "model.weights.h5", path)
            with _open_h5(io.BytesIO(data), path) as f:
                pairs = _read_weights_h5(f, model, path)
        elif kind == "weights.h5":
            with _open_h5(path, path) as f:
                pairs = _read_weights_h5(f, model, path)
        elif kind == "h5":
            with _open_h5(path, path) as f:
                pairs = _read_legacy_h5(f, model, path)
        else:
            raise ValueError(f"Unknown weights file type: {path} (expected .weights.h5, "
                             ".keras or .h5)")
    except (KeyError, OSError) as e:
        raise ValueError(f"Cannot read {path}: malformed Keras weights file ({e})") from None
    _assign(pairs, path)


def _file_kind(path):
    """'keras', 'weights.h5' (Keras 3's layout), 'h5' (legacy) or None: by the name, or by
    the contents for a name without a Keras extension."""
    if path.endswith(".keras"):
        return "keras"
    if path.endswith(".weights.h5"):
        return "weights.h5"
    if path.endswith((".h5", ".hdf5")):
        return "h5"
    if zipfile.is_zipfile(path):
        return "keras"
    h5py = _h5py()
    if h5py.is_hdf5(path):
        with _open_h5(path, path) as f:
            return "weights.h5" if "layers" in f and "model_config" not in f.attrs else "h5"
    return None


def save_weights(model, path, warn=True):
    """Write a Keras 3 ``.weights.h5`` that ``keras_model.load_weights`` reads into the same
    architecture (written atomically). Keras 2's paths are accepted with a warning: ``.h5``
    and ``.hdf5`` get Keras 2's weights layout (which Keras 3 reads from them), any other
    name Keras 3's."""
    from kconv import legacy

    path = os.fspath(path)
    if not model.built:
        raise ValueError(f"Model '{model.name}' is not built: give it an Input first")
    if warn and not path.endswith(".weights.h5"):
        base = os.path.basename(path)
        stem = base.rsplit(".", 1)[0] if base.endswith((".h5", ".hdf5")) else base
        legacy.keras2(f"save_weights('{base}')", f"save_weights('{stem}.weights.h5')")
    h5py = _h5py()
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        if path.endswith((".h5", ".hdf5")) and not path.endswith(".weights.h5"):
            f.attrs["keras_version"] = "3.0.0"
            f.attrs["backend"] = "torch"
            _write_legacy_weights(f, model)
        else:
            _write_weights_h5(f, model)


def _write_weights_h5(group, model):
    """Keras 3's layout: ``layers/<key>/vars/<i>`` and the model's own (empty) ``vars``,
    nested models as nested groups."""
    layers = group.create_group("layers")
    for key, layer in zip(_keras_keys(model), model.layers):
        entry = layers.create_group(key)
        if _is_model(layer):
            _write_weights_h5(entry, layer)
            continue
        groups = [(entry, layer.get_weights())]
        if _wraps(layer):
            own, inner = layer.split_keras_vars(layer.get_weights())
            groups = [(entry, own), (entry.create_group("layer"), inner)]
        for owner, values in groups:
            variables = owner.create_group("vars")
            variables.attrs["name"] = layer.name
            for i, value in enumerate(values):
                variables.create_dataset(str(i), data=value)
    group.create_group("vars").attrs["name"] = model.name


def load_model(path):
    """The model a Keras file describes, as a torch module with its weights: a ``.keras``
    archive (Keras 3) or a whole-model legacy ``.h5`` (Keras 2's ``model.save``), Sequential
    or functional.

    Raises:
        ValueError: an unreadable file, a weights-only file, or a layer kconv does not build
            (named; no code from the file is run).

    Example:
        >>> model = kconv.models.load_model("mnist_cnn.keras")
        >>> probabilities = model(torch.rand(8, 28, 28, 1))
    """
    from kconv.models.deserialization import model_from_config

    path = os.fspath(path)
    if path.endswith(".weights.h5"):
        raise ValueError(f"load_model reads .keras and whole-model .h5 files; received {path} "
                         "(use model.load_weights for .weights.h5)")
    if os.path.isdir(path):
        raise ValueError(f"load_model reads .keras and whole-model .h5 files; {path} is a "
                         "folder (a TensorFlow SavedModel?): open it with TensorFlow's Keras "
                         "and re-save it as model.save('model.keras')")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No such model file: {path}")
    kind = _file_kind(path)
    if kind not in ("keras", "h5"):
        raise ValueError(f"load_model reads .keras and whole-model .h5 files; {path} is "
                         "neither")
    if kind == "keras":
        with _open_keras_zip(path) as archive:
            raw = _read_member(archive, "config.json", path)
    else:
        with _open_h5(path, path) as f:
            raw = f.attrs.get("model_config")
        if raw is None:
            raise ValueError(f"{path} holds weights only (no model_config): build the model "
                             "and call model.load_weights")
    try:
        config = json.loads(raw.decode() if isinstance(raw, bytes) else raw)
    except ValueError as e:
        raise ValueError(f"Cannot read {path}: its model config is not valid JSON ({e})") \
            from None
    model = model_from_config(config)
    load_weights(model, path)
    return model


def save_model(model, path, file_format=None):
    """Write ``model`` as a Keras 3 ``.keras`` archive (``config.json``, ``metadata.json``
    and ``model.weights.h5``) or a legacy whole-model ``.h5`` (``model_config`` and
    ``model_weights``, as Keras's ``model.save("x.h5")``), written atomically. A path with
    neither extension (Keras 2's SavedModel) gets a ``.keras`` archive, with a warning;
    ``file_format`` ('keras' or 'h5') overrides the extension.

    Raises:
        ValueError: a ``.weights.h5`` path or a folder, or an unbuilt or subclassed model
            (Keras cannot rebuild those from a config either).
    """
    from kconv import legacy
    from kconv.models.model import Functional, _layer_entry
    from kconv.models.sequential import Sequential

    path, kind = legacy.model_path(path) if file_format is None else (os.fspath(path),
                                                                      file_format)
    if type(model) not in (Functional, Sequential):
        raise ValueError(f"Only Sequential and functional models can be saved with their "
                         f"config; save the weights of '{model.name}' with save_weights")
    if not model.built:
        raise ValueError(f"Model '{model.name}' is not built: give it an Input first")
    config = {**_layer_entry(model), "build_config": {"input_shape": model.build_shape}}
    if kind == "h5":
        _save_legacy_h5(model, config, path)
        return
    metadata = {"keras_version": "3.0.0", "date_saved": "kconv"}
    weights = io.BytesIO()
    with _h5py().File(weights, "w") as f:
        _write_weights_h5(f, model)
    with atomic_path(path) as tmp, zipfile.ZipFile(tmp, "w") as archive:
        archive.writestr("config.json", json.dumps(config))
        archive.writestr("metadata.json", json.dumps(metadata))
        archive.writestr("model.weights.h5", weights.getvalue())


def _legacy_order(layer):
    """A layer's weights as Keras 2 lists them: trainable first, then the rest."""
    entries = layer.weight_entries()
    trainable = [i for i, (owner, spec) in enumerate(entries)
                 if getattr(owner, spec.name).requires_grad]
    return trainable + [i for i in range(len(entries)) if i not in trainable]


def _save_legacy_h5(model, config, path):
    h5py = _h5py()
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        f.attrs["keras_version"] = "3.0.0"
        f.attrs["backend"] = "torch"
        f.attrs["model_config"] = json.dumps(config)
        _write_legacy_weights(f.create_group("model_weights"), model)


def _write_legacy_weights(group, model):
    """Keras 2's weights layout: ``layer_names``, and per layer its ``weight_names`` and
    arrays (trainable first)."""
    group.attrs["layer_names"] = [layer.name.encode() for layer in model.layers]
    for layer in model.layers:
        layer_group = group.create_group(layer.name)
        entries, values = layer.weight_entries(), layer.get_weights()
        names = [f"{owner.name}/{spec.name}_{i}" for i, (owner, spec) in enumerate(entries)]
        order = _legacy_order(layer)
        layer_group.attrs["weight_names"] = [names[i].encode() for i in order]
        for i in order:
            layer_group.create_dataset(names[i], data=values[i])
