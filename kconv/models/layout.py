"""The models' layout pass: keep channels_last feature maps channels-first between layers.

A kconv layer on a channels_last map (N, H, W, C) takes a channels-first view of it
(N, C, H, W; torch's ``channels_last`` memory), computes, and views its result back. Two
views per layer are free in memory but not in time: on a small CNN their autograd nodes
cost a few percent of a training step. When a model knows its graph, consecutive layers
that can work on the views (convolutions, pooling, BatchNormalization, element-wise
activations and merges, concatenation on the channels) pass them on directly; a view is
taken only where a layer that needs the channels_last map (Flatten, Dense, a model
output...) follows one that made a channels-first one.

The plan changes no value beyond float32 rounding: every layer runs the same operations
on the same memory (torch picks a differently vectorized kernel for a few element-wise
functions, such as gelu, on a view, a last-bit difference). It is used only when no
module of the model has hooks (a hook sees Keras's layout, as written).

Protocol for layers: ``channels_first_output(shapes)`` says whether the layer can run on
channels-first views of its rank-4 channels_last inputs of these ``shapes``: None (no),
True (its output is then channels-first as well) or False (its output is the ordinary
one, e.g. global pooling); ``call_channels_first(x)`` runs it so.
"""

import functools
import linecache
from typing import NamedTuple

import torch

from kconv.layers.layer import Layer


def to_channels_first(x):
    """(N, H, W, C) -> a (N, C, H, W) view."""
    return x.movedim(-1, 1)


def to_channels_last(x):
    """(N, C, H, W) -> a (N, H, W, C) view."""
    return x.movedim(1, -1)


class Plan(NamedTuple):
    """What :func:`run_plan` executes: ``steps`` (callable, input slots, as_list, output
    slots), the slots of the model's ``outputs``, the slot ``count``, ``releases``: per
    step, the slots read there for the last time (dropped after it, so that an
    intermediate value is freed when it is dead, as torch frees a hand-written forward's
    locals; the allocator then reuses memory that is still in the cache), ``fns``: the
    steps' callables, and ``code``: the steps as one straight-line function
    (:func:`compiled`) of ``fns`` and the inputs.

    Made by :func:`finish`, which copying and pickling call again: ``code`` holds no layer
    (the callables are its argument), so a copied plan runs the copy's layers."""

    steps: list
    outputs: tuple
    count: int
    releases: tuple
    fns: tuple
    code: object

    def __reduce__(self):
        return finish, (self.steps, self.outputs, self.count)


def finish(steps, outputs, count):
    """The :class:`Plan` of ``steps``, with its releases and code computed."""
    last = {}
    for index, (_, in_ids, _, out_ids) in enumerate(steps):
        for i in (*in_ids, *out_ids):  # a result never read dies where it is made
            last[i] = index
    for i in outputs:
        last.pop(i, None)
    releases = [[] for _ in steps]
    for i, index in last.items():
        releases[index].append(i)
    releases = tuple(tuple(r) for r in releases)
    return Plan(list(steps), tuple(outputs), count, releases,
                tuple(fn for fn, *_ in steps), compiled(steps, tuple(outputs), releases))


def compiled(steps, outputs, releases):
    """``steps`` as straight-line Python: ``code(callables, inputs)`` returns the output
    values (a list) of the steps' callables (in order) run on ``inputs`` (by slot), as
    :func:`run` would, without its per-step loop and slot list (about 1 % of a small
    network's training step on a CPU). Slots are local variables, released by ``del``. The
    code depends on slot numbers only, so one function serves every plan of the same
    structure."""
    key = tuple((in_ids, as_list, out_ids) for _, in_ids, as_list, out_ids in steps), \
        outputs, releases
    code = _COMPILED.get(key)
    if code is None:
        if torch.compiler.is_compiling():  # made while dynamo traces: it cannot trace
            return functools.partial(_interpret, key)  # compile(), so a loop (not kept)
        code = _COMPILED[key] = _generate(*key)
    return code


def _interpret(key, fns, inputs):
    """What :func:`_generate`'s function for ``key`` does, as a loop over the steps."""
    structure, outputs, _ = key
    values = dict(enumerate(inputs))
    for fn, (in_ids, as_list, out_ids) in zip(fns, structure):
        args = [values[i] for i in in_ids]
        result = fn(args) if as_list else fn(*args)
        if len(out_ids) == 1:
            values[out_ids[0]] = result
        else:
            values.update(zip(out_ids, result))
    return [values[i] for i in outputs]


_COMPILED = {}


def _generate(structure, outputs, releases):
    made = {i for _, _, out_ids in structure for i in out_ids}
    read = sorted({i for in_ids, _, _ in structure for i in in_ids} | set(outputs))
    lines = ["def plan(fns, inputs):"]
    lines += [f"    v{i} = inputs[{i}]" for i in read if i not in made]
    if structure:
        lines.append(f"    {', '.join(f'f{k}' for k in range(len(structure)))}, = fns")
    for k, ((in_ids, as_list, out_ids), dead) in enumerate(zip(structure, releases)):
        args = ", ".join(f"v{i}" for i in in_ids)
        arg = f"[{args}]" if as_list else args
        target = f"v{out_ids[0]}" if len(out_ids) == 1 else \
            "".join(f"v{i}, " for i in out_ids)
        lines.append(f"    {target} = f{k}({arg})")
        if dead:
            lines.append(f"    del {', '.join(f'v{i}' for i in dead)}")
    lines.append(f"    return [{', '.join(f'v{i}' for i in outputs)}]")
    source = "\n".join(lines) + "\n"
    filename = f"<kconv plan {len(_COMPILED)}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace = {}
    exec(compile(source, filename, "exec"), namespace)  # source made above, from ints only
    return namespace["plan"]


def planned_call(layer):
    """What a trusted plan calls for ``layer`` in its own layout: its
    :meth:`~kconv.layers.Layer.call_planned` (no module call, no shape checks), or the
    layer itself where its class runs ``forward`` its own way (a model, an operation)."""
    forward = getattr(type(layer), "forward", None)
    plain = forward is Layer.forward and getattr(layer, "_precision", None) is None
    return layer.call_planned if plain else layer  # (a dtype policy runs in forward)


def plan(steps, shapes, input_count, output_ids, trusted=False):
    """Rewrite a model's steps for the layout pass.

    Args:
        steps: ``(layer, input slots, as_list, output slots)`` in execution order.
        shapes: the channels_last shape of every slot (a list indexed by slot).
        input_count: the model's inputs are slots ``0 .. input_count - 1``.
        output_ids: the slots the model returns.
        trusted: the model runs this plan only on inputs it has checked against the shapes
            its graph was built for, so the layers in their own layout skip their shape
            checks (:func:`planned_call`; they still convert dtypes), and a layer reading
            only the model's inputs may run on channels-first views of them
            (:meth:`~kconv.layers.Layer.call_planned_channels_first`, which converts them).
            Untrusted, such a layer runs as called (it checks its inputs), and the others
            skip their checks on channels-first views either way.

    Returns:
        A :class:`Plan`: steps whose first item is any callable, with conversion steps
        added, and where the outputs are, in Keras's layout.
    """
    count = len(shapes)
    channels_first = set()  # slots whose producer made a channels-first view
    converted = {}  # (slot, wanted channels-first) -> the slot of its converted view
    out = []

    def view(slot, want_first):
        nonlocal count
        if (slot in channels_first) == want_first:
            return slot
        if (slot, want_first) not in converted:
            convert = to_channels_first if want_first else to_channels_last
            converted[slot, want_first] = count
            out.append((convert, (slot,), False, (count,)))
            count += 1
        return converted[slot, want_first]

    for layer, in_ids, as_list, out_ids in steps:
        # A layer reading the model's inputs runs on views of them only in a trusted plan
        # and only if it reads nothing else (its inputs are converted and viewed there).
        on_inputs = max(in_ids) < input_count
        spatial = None
        if (((trusted and on_inputs) or min(in_ids) >= input_count) and len(out_ids) == 1
                and getattr(layer, "activity_regularizer", None) is None
                and getattr(layer, "_precision", None) is None
                and all(isinstance(shapes[i], tuple) and len(shapes[i]) == 4
                        for i in in_ids)):
            spatial = layer.channels_first_output([tuple(shapes[i]) for i in in_ids])
        if spatial is None:
            fn = planned_call(layer) if trusted else layer
            out.append((fn, tuple(view(i, False) for i in in_ids), as_list, out_ids))
            continue
        if on_inputs:
            out.append((layer.call_planned_channels_first, in_ids, as_list, out_ids))
        else:
            out.append((layer.call_channels_first, tuple(view(i, True) for i in in_ids),
                        as_list, out_ids))
        if spatial:
            channels_first.update(out_ids)
    outputs = tuple(view(i, False) for i in output_ids)
    return finish(out, outputs, count)


def chain_plan(layers, trusted=False):
    """:func:`plan` for a chain of built layers (a Sequential's); None for no layers."""
    if not layers:
        return None
    shapes = [tuple(layers[0].build_shape)] + [layer.output_shape for layer in layers]
    steps = [(layer, (i,), False, (i + 1,)) for i, layer in enumerate(layers)]
    return plan(steps, shapes, 1, (len(layers),), trusted=trusted)


def rewrites(planned):
    """Whether some layer of a plan runs on channels-first views (else a plain loop over
    the layers computes the same)."""
    views = (to_channels_first, to_channels_last)
    return any(not isinstance(fn, torch.nn.Module) and fn not in views
               for fn, *_ in planned.steps)


def run(steps, values, releases=None):
    """Run steps on ``values`` (a list by slot, inputs filled in); returns it. With
    ``releases`` (a :class:`Plan`'s), dead values are dropped as it goes."""
    for index, (fn, in_ids, as_list, out_ids) in enumerate(steps):
        y = fn([values[i] for i in in_ids] if as_list else values[in_ids[0]])
        if len(out_ids) == 1:
            values[out_ids[0]] = y
        else:
            for i, value in zip(out_ids, y):
                values[i] = value
        if releases is not None:
            for i in releases[index]:
                values[i] = None
    return values


def run_plan(planned, inputs):
    """The output values of a :class:`Plan` run on ``inputs`` (a list)."""
    return planned.code(planned.fns, inputs)


def hook_dicts(modules):
    """The hook dicts of ``modules`` (forward, forward-pre, backward, backward-pre: the
    ones hooks are registered into and removed from in place), for :func:`hooked`."""
    return tuple(d for m in modules for d in (m._forward_hooks, m._forward_pre_hooks,
                                              m._backward_hooks, m._backward_pre_hooks))


def hooked(dicts):
    """Whether a hook could watch a model or one of the layers its plan calls (then the
    plan is not used), given their :func:`hook_dicts` (gathered once: checking them costs a
    tenth of asking every module). A layer's own submodules run as their layer calls them,
    so their hooks see what they would see anyway."""
    hooks = torch.nn.modules.module
    return bool(hooks._global_forward_hooks or hooks._global_forward_pre_hooks
                or hooks._global_backward_hooks or hooks._global_backward_pre_hooks
                or any(dicts))
