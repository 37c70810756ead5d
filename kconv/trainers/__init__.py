"""The training engine. ``data_adapters`` needs torch alone; the rest needs the ``train``
extra (Lightning, torchmetrics, matplotlib) and is imported on first use: the
LightningModules that train kconv models (``KerasModule`` behind ``model.fit``, and
``ClassifierModule`` behind train.py), the callbacks of a train.py run, its written results
and the comparison of several runs."""

import importlib

_LAZY = {"ClassifierModule": "classifier", "KerasModule": "engine", "EpochSeed": "callbacks",
         "History": "callbacks", "StopOnDivergence": "callbacks", "Diverged": "errors",
         "AtomicCheckpointIO": "checkpoints", "classification_report": "report",
         "read_history": "comparison", "summarize": "comparison",
         "write_comparison": "comparison"}

__all__ = sorted(_LAZY)


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(f"kconv.trainers.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'kconv.trainers' has no attribute {name!r}")
