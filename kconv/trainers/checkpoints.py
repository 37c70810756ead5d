"""Checkpoint files written atomically beside their target (Lightning's own writer stages
them in the system's temporary folder, where a killed run leaves megabytes behind)."""

import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO

from kconv.utils.file_utils import atomic_path


class AtomicCheckpointIO(TorchCheckpointIO):
    """``TorchCheckpointIO`` whose files appear complete or not at all; the temporary file
    sits in the checkpoint's folder (``.tmp-*``), so the next run into that folder removes
    one that a killed run left (:func:`kconv.utils.file_utils.folder_lock`)."""

    def save_checkpoint(self, checkpoint, path, storage_options=None):
        if storage_options is not None:
            raise TypeError("AtomicCheckpointIO takes no storage_options")
        with atomic_path(path) as tmp:
            torch.save(checkpoint, tmp)
