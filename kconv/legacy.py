"""Keras 2 spellings that Keras 3 dropped, accepted where their meaning is unambiguous, each
with one ``DeprecationWarning`` line naming Keras 3's spelling (the table of them is the
README's "Porting a Keras 2 script")."""

import os
import sys
import warnings

_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep
# Keras 2.2's log names of the accuracy metric, and Keras 2.3+'s (which Keras 3 keeps).
ACCURACY_ALIASES = {"acc": "accuracy", "val_acc": "val_accuracy", "accuracy": "acc",
                    "val_accuracy": "val_acc"}


def keras2(old, new, detail=""):
    """Warn once per call site that ``old`` is Keras 2's spelling of Keras 3's ``new``,
    pointing at the user's line (the first frame outside kconv)."""
    warnings.warn(f"{old} is Keras 2's spelling; Keras 3 writes {new}{detail}",
                  DeprecationWarning, stacklevel=_user_level())


def _user_level():
    frame, level = sys._getframe(2), 2
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        frame, level = frame.f_back, level + 1
    return level


def model_path(path, what="model.save"):
    """``path`` for a whole-model file: ``.keras``, ``.h5`` and ``.hdf5`` as they are; a path
    without either (Keras 2 wrote a TensorFlow SavedModel folder there) gets a ``.keras``
    archive under the same name, with the warning; returns ``(path, format)``, format
    'keras' or 'h5'."""
    path = os.fspath(path)
    if path.endswith(".weights.h5"):
        raise ValueError(f"{what} writes whole models (.keras, or legacy .h5); received "
                         f"filepath={path} (save the weights with save_weights)")
    if path.endswith(".keras"):
        return path, "keras"
    if path.endswith((".h5", ".hdf5")):
        return path, "h5"
    if os.path.isdir(path):
        raise ValueError(f"{what}: {path} is a folder (a TensorFlow SavedModel?); give a file "
                         "path ending in .keras")
    keras2(f"{what}('{os.path.basename(path)}') without .keras or .h5 (a TensorFlow "
           "SavedModel)", f"{what}('{os.path.basename(path)}.keras')",
           "; kconv writes a .keras archive under the name given, which load_model opens")
    return path, "keras"
