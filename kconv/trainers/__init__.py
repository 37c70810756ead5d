"""The training engine (needs the ``train`` extra: Lightning, torchmetrics, matplotlib):
the LightningModule that trains kconv classifiers, the callbacks of a run, its written
results and the comparison of several runs."""

from kconv.trainers.callbacks import EpochSeed, History
from kconv.trainers.classifier import ClassifierModule
from kconv.trainers.comparison import read_history, summarize, write_comparison
from kconv.trainers.report import classification_report

__all__ = ["ClassifierModule", "EpochSeed", "History", "classification_report",
           "read_history", "summarize", "write_comparison"]
