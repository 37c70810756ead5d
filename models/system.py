"""``ClassifierSystem``: a registered network on kconv's training engine, checkpointed by
name so that ``load_from_checkpoint(path, weights_only=True)`` rebuilds it."""

from kconv.trainers import ClassifierModule
from models.registry import get_model


class ClassifierSystem(ClassifierModule):
    """A registered network with Keras's training recipe (see
    :class:`kconv.trainers.ClassifierModule` for the loss, logging and constraints).

    Args:
        model: a registered network name (``models.list_models()``).
        model_kwargs: keyword arguments of its builder (plain values, so checkpoints load
            with ``weights_only=True``; regularizers as Keras config dicts).
        optimizer, optimizer_kwargs, class_names, augment, compile: as for
            ``ClassifierModule``.

    Example:
        >>> system = ClassifierSystem("mnist_cnn", optimizer="rmsprop")
        >>> lightning.Trainer(max_epochs=5).fit(system, train_loader, val_loader)
    """

    def __init__(self, model="mnist_cnn", model_kwargs=None, optimizer="rmsprop",
                 optimizer_kwargs=None, class_names=None, augment=None, compile=False):
        super().__init__(get_model(model, **(model_kwargs or {})), optimizer=optimizer,
                         optimizer_kwargs=optimizer_kwargs, class_names=class_names,
                         augment=augment, compile=compile)
        self.save_hyperparameters()
