"""Keras's dataset cache: ``$KERAS_HOME/datasets`` (``~/.keras/datasets`` by default), where
``keras.datasets`` keeps what it downloads, in Keras 3's layout and Keras 2's. Loaders look
there first, then download from Keras's own sources when the machine is online, and
otherwise say in one line which file to put where."""

import os
import shutil
import tarfile
import urllib.error
import urllib.request

from kconv.utils.file_utils import atomic_path

KERAS_DATASETS = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"


def datasets_dir():
    """``$KERAS_HOME/datasets``, or ``~/.keras/datasets``."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return os.path.join(home, "datasets")


def _download(origin, target):
    """Fetch ``origin`` into ``target`` atomically (no partial file on failure)."""
    os.makedirs(os.path.dirname(target), exist_ok=True)
    with atomic_path(target) as tmp:
        urllib.request.urlretrieve(origin, tmp)


def fetch(relative, origin, dataset):
    """The path of ``relative`` (under :func:`datasets_dir`), downloaded from ``origin``
    first when it is not there.

    Raises:
        FileNotFoundError: missing and not downloadable (offline); the message names the
            file, where to put it, and where it comes from.
    """
    path = os.path.join(datasets_dir(), relative)
    if os.path.isfile(path):
        return path
    try:
        _download(origin, path)
    except (urllib.error.URLError, OSError, ValueError) as error:
        raise FileNotFoundError(f"{dataset}: {path} is missing and could not be downloaded "
                                f"({error}); download {origin} and put it there") from None
    return path


def extracted(folders, archives, origin, dataset):
    """The first of ``folders`` (relative to :func:`datasets_dir`; Keras 3's layout, then
    Keras 2's) that exists; else the first of ``archives`` found (or ``archives[0]``
    downloaded from ``origin``) unpacked into ``folders[0]``'s parent, Keras 3's layout.

    Raises:
        FileNotFoundError: neither there nor downloadable, in one line.
    """
    root = datasets_dir()
    for folder in folders:
        if os.path.isdir(os.path.join(root, folder)):
            return os.path.join(root, folder)
    archive = next((os.path.join(root, a) for a in archives
                    if os.path.isfile(os.path.join(root, a))), None)
    if archive is None:
        try:
            archive = fetch(archives[0], origin, dataset)
        except FileNotFoundError:
            raise FileNotFoundError(
                f"{dataset}: no {os.path.join(root, folders[-1])} folder and no archive in "
                f"{root}, and {origin} could not be downloaded; download it and unpack it "
                f"there") from None
    target = os.path.join(root, os.path.dirname(folders[0]))
    partial = f"{target}.partial-{os.getpid()}"
    try:
        with tarfile.open(archive, "r:gz") as tar:
            tar.extractall(partial, filter="data")  # rejects members outside it
        os.makedirs(target, exist_ok=True)
        for name in os.listdir(partial):  # complete folders only, moved in at once
            os.replace(os.path.join(partial, name), os.path.join(target, name))
    except (tarfile.TarError, OSError, EOFError) as error:
        raise ValueError(f"{dataset}: cannot unpack {archive} ({error}); delete it to "
                         "download it again") from None
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return os.path.join(root, folders[0])
