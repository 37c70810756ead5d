"""Atomic writes (a file appears complete under its name, or not at all) and the run lock
of a results folder.

Every file kconv writes (weights, downloads, results) goes through :func:`atomic_path`: the
data is written to a temporary file beside the target, which is renamed over the target
only when writing succeeded, and removed when it did not.
"""

import contextlib
import json
import os
import socket
import tempfile


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside ``path``; on success it is renamed to ``path``
    (readable like any new file), on any error it is removed.

    Example:
        >>> with atomic_path("model.weights.h5") as tmp:
        ...     write_weights(tmp)
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix="-" + os.path.basename(path))
    os.close(fd)
    try:
        yield tmp
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp's 0600 would hide the file from others
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def atomic_write_bytes(path, data):
    """Write ``data`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)


def atomic_write_text(path, text):
    """Write UTF-8 ``text`` to ``path`` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path, obj):
    """Write ``obj`` as indented, key-sorted JSON to ``path`` atomically."""
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


class FolderInUseError(RuntimeError):
    """Another live process holds the folder's run lock."""


LOCK_NAME = ".lock"


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


@contextlib.contextmanager
def folder_lock(folder):
    """Hold ``folder/.lock`` (this process's id and host) while the block runs: one run per
    results folder. A lock whose process is gone (a killed run) is taken over, and the
    temporary files such a run left beside its targets are removed. A folder made here that
    is still empty at the end is removed again.

    Raises:
        FolderInUseError: a live process on this host holds the lock.
    """
    folder = os.fspath(folder)
    created = not os.path.isdir(folder)
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, LOCK_NAME)
    host, pid = socket.gethostname(), os.getpid()
    while True:
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            owner = _read_lock(path)
            if owner is not None and owner[1] == host and owner[0] != pid and _alive(owner[0]):
                raise FolderInUseError(f"{folder} is in use by another run (process "
                                       f"{owner[0]}); wait for it to finish or choose "
                                       f"another folder") from None
            if owner is not None and owner[1] != host:
                raise FolderInUseError(f"{folder} is locked by a run on host {owner[1]} "
                                       f"(process {owner[0]}); remove {path} if that run is "
                                       f"gone") from None
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)  # a killed run's lock
            continue
        with os.fdopen(fd, "w") as f:
            f.write(f"{pid} {host}\n")
        break
    remove_temporaries(folder)
    try:
        yield path
    finally:
        if _read_lock(path) == (pid, host):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
        if created:  # a run that wrote nothing leaves no folder behind
            with contextlib.suppress(OSError):
                os.rmdir(folder)


def _read_lock(path):
    try:
        with open(path) as f:
            pid, host = f.read().split()
        return int(pid), host
    except (FileNotFoundError, ValueError):
        return None


def remove_temporaries(folder):
    """Remove what interrupted atomic writes left under ``folder`` (``.tmp-*`` files)."""
    for root, _, files in os.walk(folder):
        for name in files:
            if name.startswith(".tmp-"):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(os.path.join(root, name))
