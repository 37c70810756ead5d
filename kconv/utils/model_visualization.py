"""``plot_model``: kconv draws no graph pictures."""


def plot_model(model, to_file="model.png", **kwargs):
    """Keras's ``plot_model`` needs pydot and Graphviz to draw the graph; kconv does not
    draw. ``model.summary()`` shows the same structure as text ("Connected to" names each
    layer's inputs).

    Raises:
        ImportError: always, saying what to use instead.
    """
    raise ImportError(f"plot_model needs pydot and Graphviz, which kconv does not use; call "
                      f"{getattr(model, 'name', 'model')!r}.summary() for the layer graph as "
                      f"text (to_file={to_file!r} was not written)")
