"""Errors of a training run (importable without Lightning, so train.py can name them before
it imports the engine)."""


class Diverged(RuntimeError):
    """Training met a non-finite loss (the run stopped; checkpoints keep the last finite
    weights)."""

    def __init__(self, epoch, step, learning_rate):
        self.epoch, self.step, self.learning_rate = epoch, step, learning_rate
        super().__init__(f"training diverged in epoch {epoch} (non-finite loss by step "
                         f"{step}); try a learning rate below {learning_rate:g}")
