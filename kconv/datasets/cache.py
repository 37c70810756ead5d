"""A folder of images decoded once into a memory-mapped cache.

The first run decodes the folder with every core (DataLoader worker processes), resizes each
image to the training size and writes the uint8 (N, H, W, 3) pixels to one file beside its
labels. Every later run, and every DDP process of a run, maps that file instead of decoding:
nothing is copied, the OS shares the pages between processes and streams them from disk when
the data is larger than memory.

An entry is a folder ``<cache dir>/<slot>-<digest>/`` holding ``images.u8`` (raw pixels),
``labels.npy`` and ``meta.json``. The slot names the folder, the image size and the class
selection; the digest names the listing (every file's path, size and modification time), so
a changed folder has a new digest and its old entry is replaced. An entry is written in a
temporary folder and renamed into place when complete, so a killed decode leaves nothing that
is later trusted; an entry whose files do not match its metadata (truncated, foreign,
garbled) is rebuilt. The pixels themselves are not checksummed at each open: that would read
the whole file, which a dataset larger than memory cannot afford.
"""

import hashlib
import json
import os
import shutil
import sys
import time
import uuid

import numpy as np
import torch

from kconv.utils.file_utils import atomic_write_json

FORMAT = 1  # bump when the entry layout or the decoding changes


def default_cache_dir():
    """``$KCONV_CACHE_DIR``, else ``$XDG_CACHE_HOME/kconv/images`` (``~/.cache/kconv/images``)."""
    if os.environ.get("KCONV_CACHE_DIR"):
        return os.environ["KCONV_CACHE_DIR"]
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "kconv", "images")


class CacheWriteError(OSError):
    """The cache folder cannot be written (read-only, full, not a folder)."""


def _digest(obj):
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()


def entry_name(root, image_size, class_names, files):
    """``(slot, digest)`` of a listing: ``files`` are ``(label, path, size, mtime_ns)``."""
    slot = _digest([FORMAT, os.path.realpath(root), list(image_size), list(class_names)])[:16]
    prefix = len(os.path.join(root, ""))  # list_files joins root and the relative path
    listing = [[label, path[prefix:], size, mtime] for label, path, size, mtime in files]
    return slot, _digest(listing)[:32]


def open_entry(folder, expected):
    """The cached ``(images, labels, meta)`` in ``folder``, or ``(None, reason)``.

    ``images`` is a (N, H, W, 3) uint8 tensor mapped copy-on-write from ``images.u8``
    (nothing is read until used); ``expected`` holds the meta values the entry must have.
    """
    meta_path = os.path.join(folder, "meta.json")
    if not os.path.isdir(folder):
        return None, "no cache yet"
    try:
        with open(meta_path, encoding="utf-8") as f:
            meta = json.load(f)
        if not isinstance(meta, dict):
            raise ValueError("not a JSON object")
        for key, value in expected.items():
            if meta.get(key) != value:
                raise ValueError(f"{key} is {meta.get(key)!r}, expected {value!r}")
        n = meta["count"]
        if not (type(n) is int and n > 0):
            raise ValueError(f"a count of {n!r} images")
        shape = (n, *meta["image_size"], 3)
        images_path = os.path.join(folder, "images.u8")
        size = os.path.getsize(images_path)
        if size != int(np.prod(shape)):
            raise ValueError(f"images.u8 holds {size} bytes, expected {int(np.prod(shape))}")
        labels = np.load(os.path.join(folder, "labels.npy"), allow_pickle=False)
        if (labels.shape != (n,) or labels.dtype != np.int64
                or hashlib.sha256(labels.tobytes()).hexdigest() != meta["labels_sha256"]):
            raise ValueError("labels.npy does not match meta.json")
        images = np.memmap(images_path, dtype=np.uint8, mode="c", shape=shape)
    except (OSError, ValueError, KeyError, TypeError) as e:
        return None, f"unusable cache in {folder} ({e})"
    return (torch.from_numpy(images), torch.from_numpy(labels), meta), None


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove_leftovers(cache_dir, slot, keep):
    """Entries of ``slot`` other than ``keep`` (a changed folder's), and temporary folders
    of dead writers."""
    for name in os.listdir(cache_dir):
        path = os.path.join(cache_dir, name)
        if name.startswith(slot + "-") and name != keep:
            shutil.rmtree(path, ignore_errors=True)
        elif name.startswith(f".{slot}-") and ".tmp-" in name:
            pid = name.rsplit(".tmp-", 1)[1].split("-")[0]
            if not (pid.isdigit() and _pid_alive(int(pid))):
                shutil.rmtree(path, ignore_errors=True)


def begin_entry(cache_dir, name):
    """A new temporary folder for entry ``name``.

    Raises:
        CacheWriteError: the cache folder cannot be created or written.
    """
    tmp = os.path.join(cache_dir, f".{name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    try:
        os.makedirs(cache_dir, exist_ok=True)
        os.mkdir(tmp)
    except OSError as e:
        raise CacheWriteError(f"cannot write the image cache in {cache_dir}: "
                              f"{e.strerror or e}") from None
    return tmp


def commit_entry(tmp, cache_dir, name, labels, meta):
    """Write ``labels`` and ``meta`` into ``tmp`` (whose ``images.u8`` is complete) and
    rename it to entry ``name``; a folder already there (another process's, equal) wins.
    Returns the entry's folder."""
    labels = np.ascontiguousarray(labels, dtype=np.int64)
    np.save(os.path.join(tmp, "labels.npy"), labels, allow_pickle=False)
    meta = {**meta, "labels_sha256": hashlib.sha256(labels.tobytes()).hexdigest(),
            "created": time.strftime("%Y-%m-%d %H:%M:%S")}
    atomic_write_json(os.path.join(tmp, "meta.json"), meta)
    final = os.path.join(cache_dir, name)
    try:
        os.rename(tmp, final)
    except OSError:
        if not os.path.isdir(final):
            raise
        shutil.rmtree(final + ".stale", ignore_errors=True)
        # A corrupt entry under the name: move it aside, then put ours in place.
        if open_entry(final, {"digest": meta["digest"]})[0] is None:
            os.rename(final, final + ".stale")
            os.rename(tmp, final)
            shutil.rmtree(final + ".stale", ignore_errors=True)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    _remove_leftovers(cache_dir, name.split("-")[0], name)
    return final


def abandon_entry(tmp):
    shutil.rmtree(tmp, ignore_errors=True)


def warn(message):
    print(f"kconv: {message}", file=sys.stderr)
