"""Keras's ``model.summary()`` table, rendered as plain text (no rich dependency)."""

from kconv.receptive_field import receptive_field

_POSITIONS = (0.45, 0.80, 1.0)


def format_shape(shape):
    """``(None, 26, 26, 32)``, as Keras prints shapes."""
    return "(" + ", ".join(str(d) for d in shape) + ")"


def readable_size(num_bytes):
    """Keras's 1024-based size: ``364.54 KB``."""
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if num_bytes / 1024 < 1:
            return f"{num_bytes:.2f} {unit}"
        num_bytes /= 1024
    return f"{num_bytes:.2f} PB"


def _wrap(text, width):
    lines, line = [], ""
    for word in text.split(" "):
        candidate = f"{line} {word}" if line else word
        if len(candidate) <= width or not line:
            line = candidate
        else:
            lines.append(line)
            line = word
    lines.append(line)
    return [piece[i:i + width] for piece in lines for i in range(0, max(len(piece), 1), width)]


def _count(tensors):
    return sum(t.numel() for t in tensors), sum(t.numel() * t.element_size() for t in tensors)


def layer_rows(model, extra_columns=()):
    """One row per layer: name (Type), output shape, param count, then extra columns."""
    rows = []
    for layer in getattr(model, "operations", model.layers):
        shape = "?" if layer.output_shape is None else format_shape(layer.output_shape)
        params = f"{layer.count_params():,}" if layer.built else "0 (unbuilt)"
        rows.append([f"{layer.name} ({type(layer).__name__})", shape, params]
                    + [col(layer) for col in extra_columns])
    return rows


def render(model, line_length=88, positions=_POSITIONS, header=("Layer (type)", "Output Shape",
           "Param #"), rows=None, align=("left", "left", "right")):
    """The summary text of a kconv ``Sequential``-like model (``model.layers``)."""
    rows = layer_rows(model) if rows is None else rows
    inner = line_length - len(header) - 1
    edges = [round(p * inner) for p in positions]
    widths = [b - a - 2 for a, b in zip([0] + edges[:-1], edges)]
    widths = [max(w, 4) for w in widths]

    def border(left, fill, mid, right):
        return left + mid.join(fill * (w + 2) for w in widths) + right

    def cells(values, sep, justify):
        wrapped = [_wrap(v, w) for v, w in zip(values, widths)]
        height = max(len(c) for c in wrapped)
        out = []
        for i in range(height):
            parts = []
            for col, w, how in zip(wrapped, widths, justify):
                text = col[i] if i < len(col) else ""
                parts.append(text.rjust(w) if how == "right" else text.ljust(w))
            out.append(sep + sep.join(f" {p} " for p in parts) + sep)
        return out

    lines = [f'Model: "{model.name}"', border("┏", "━", "┳", "┓")]
    lines += cells(header, "┃", ["right" if a == "right" else "left" for a in align])
    lines.append(border("┡", "━", "╇", "┩"))
    for i, row in enumerate(rows):
        if i:
            lines.append(border("├", "─", "┼", "┤"))
        lines += cells(row, "│", align)
    lines.append(border("└", "─", "┴", "┘"))
    total, total_bytes = _count(model.weights)
    trainable, trainable_bytes = _count(model.trainable_weights)
    frozen, frozen_bytes = _count(model.non_trainable_weights)
    lines += [f" Total params: {total:,} ({readable_size(total_bytes)})",
              f" Trainable params: {trainable:,} ({readable_size(trainable_bytes)})",
              f" Non-trainable params: {frozen:,} ({readable_size(frozen_bytes)})"]
    return "\n".join(lines)


def render_with_receptive_field(model, line_length=120):
    """The summary table plus receptive field, jump and coverage columns."""
    fields = {row.name: row for row in receptive_field(model)}
    columns = (lambda layer: "{}x{}".format(*fields[layer.name].size),
               lambda layer: "{}x{}".format(*fields[layer.name].jump),
               lambda layer: f"{fields[layer.name].coverage:.1f} %")
    return render(model, line_length, positions=(0.3, 0.53, 0.65, 0.78, 0.88, 1.0),
                  header=("Layer (type)", "Output Shape", "Param #", "Receptive field", "Jump",
                          "Coverage"),
                  rows=layer_rows(model, columns),
                  align=("left", "left", "right", "right", "right", "right"))


def connections(layer, nodes):
    """Keras's "Connected to" cell: each input of the layer's calls among ``nodes``, as
    ``layer[node_index][tensor_index]``; '-' for none."""
    sources = ["{}[{}][{}]".format(t._keras_history[0].name, *t._keras_history[1:])
               for node in layer._inbound_nodes if node in nodes for t in node.input_tensors]
    return ", ".join(sources) or "-"


def render_connected(model, nodes, line_length=108):
    """The summary of a functional model with branches, with Keras's "Connected to"
    column."""
    return render(model, line_length, positions=(0.3, 0.56, 0.74, 1.0),
                  header=("Layer (type)", "Output Shape", "Param #", "Connected to"),
                  rows=layer_rows(model, (lambda layer: connections(layer, nodes),)),
                  align=("left", "left", "right", "left"))
