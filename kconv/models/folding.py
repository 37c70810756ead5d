"""Inference folding: a convolution followed by BatchNormalization runs as one convolution.

With BatchNormalization on its moving statistics, ``bn(conv(x))`` is an affine map of the
convolution's output channels, so it equals one convolution with the kernel scaled by
``s = gamma / sqrt(moving_variance + epsilon)`` along its output channels and the bias
``(bias - moving_mean) * s + beta``. A model folds such a pair when it runs without
autograd (``torch.no_grad()``, ``torch.inference_mode()``, ``predict``) and the
BatchNormalization uses its moving statistics (``eval()`` or not trainable); otherwise
the two layers run as written. Folded outputs equal the unfolded ones to float32 rounding
(the products are summed in another order), not to the bit; a model's
``fold_batch_norm = False`` turns folding off.

The folded kernel and bias are computed once and cached: the cache is keyed by the
tensors' storage and version counters, so any change of a weight or a statistic (an
optimizer step, ``load_state_dict``, ``.to()``) recomputes them at the next call.
A pair folds only where nothing can observe the convolution's own output: it feeds that
BatchNormalization alone, is no model output, and neither layer has an activity
regularizer or (checked by the models before using a plan) a hook. A ReLU read only by
such a pair's result runs inside the same step, in place on the fresh convolution output
when folded.
"""

import functools

import torch
import torch.nn.functional as F

from kconv import activations, config
from kconv.layers.advanced_activations import ReLU
from kconv.layers.conv import BaseConv, BaseConvTranspose
from kconv.layers.core import Activation
from kconv.layers.normalization import BatchNormalization
from kconv.models import layout


class FoldedStep:
    """One plan step running ``bn_fn(view(conv_fn(x)))``, as one convolution when it may.

    ``conv_fn``/``bn_fn`` are the steps' own callables (the layers, their ``call_planned``
    or their ``call_channels_first``); ``view`` is the plan's channels-first view between
    them, or None. ``in_first``/``out_first``: whether ``x`` and the result are
    channels-first views (else they are in the convolution's ``data_format``).
    """

    def __init__(self, conv_fn, view, bn_fn, conv, bn):
        self.conv_fn, self.view, self.bn_fn = conv_fn, view, bn_fn
        self.conv, self.bn = conv, bn
        self.in_first = _owner(conv_fn)[1]
        self.out_first = _owner(bn_fn)[2]
        self.act_fn = self.act_in_place = None  # a ReLU after it (see fold_plan)
        self._key = None
        self._folded = None

    def __call__(self, x):
        conv = self.conv
        if not self.in_first and isinstance(x, torch.Tensor):
            conv._check_shape(tuple(x.shape))  # what calling the layer checks
            x = conv._cast_input(x)
        folded = None
        if self._foldable(x):
            first = x if self.in_first else config.to_channels_first(x, conv.data_format)
            folded = self._parameters(first)
        if folded is None:
            y = self.conv_fn(x)
            y = self.bn_fn(y if self.view is None else self.view(y))
            return y if self.act_fn is None else self.act_fn(y)
        y = conv._convolve(first, *folded)
        if self.act_in_place is not None:
            y = self.act_in_place(y)
        return y if self.out_first else config.from_channels_first(y, conv.data_format)

    def _foldable(self, x):
        # (autograd, compiling and tracing are checked once per call by the model: active)
        bn = self.bn
        return (isinstance(x, torch.Tensor) and not (bn.training and bn.trainable)
                and self.conv.activation is activations.linear
                and self.conv._precision is None and bn._precision is None
                and x.dtype in (torch.float32, torch.float64)
                and not torch.is_autocast_enabled(x.device.type))

    def _parameters(self, x):
        """The folded (kernel, bias), from the cache when no tensor changed; None where
        a tensor's version cannot be read (a tensor made under inference mode) or the
        kernel is not of ``x``'s dtype (``x``: the channels-first input of the
        convolution). A 4-D kernel is stored in ``x``'s memory format
        (channels_last for kconv's views of channels_last maps), so that the convolution
        need not reorder it at every call."""
        conv, bn = self.conv, self.bn
        params, bn_params, buffers = conv._parameters, bn._parameters, bn._buffers
        tensors = (params[conv.output_kernel], params.get("bias"), bn_params.get("weight"),
                   bn_params.get("bias"), buffers["running_mean"], buffers["running_var"])
        if tensors[0].dtype != x.dtype:
            return None
        try:
            key = [None if t is None else (t.data_ptr(), t._version) for t in tensors]
        except RuntimeError:
            return None
        channels_last = x.ndim == 4 and x.is_contiguous(memory_format=torch.channels_last)
        key += (bn.epsilon, channels_last)
        if key != self._key:
            kernel, bias = fold(*tensors, bn.epsilon)
            if kernel.ndim == 4:
                kernel = kernel.contiguous(memory_format=torch.channels_last
                                           if channels_last else torch.contiguous_format)
            self._folded = kernel, bias
            self._key = key
        return self._folded


def active():
    """Whether a model may run its folded plan now: autograd off, and neither compiling
    nor tracing (the cache of folded weights is Python state)."""
    return (not torch.is_grad_enabled() and not torch.compiler.is_compiling()
            and not torch.jit.is_tracing())


def fold(kernel, bias, gamma, beta, mean, variance, epsilon):
    """The kernel and bias of ``batch_norm(conv(x, kernel, bias))`` as one convolution
    (``kernel``'s first axis is the output channels; ``bias``, ``gamma``, ``beta`` may be
    None)."""
    with torch.no_grad():
        scale = torch.rsqrt(variance + epsilon)
        if gamma is not None:
            scale = scale * gamma
        shift = -mean if bias is None else bias - mean
        shift = shift * scale
        if beta is not None:
            shift = shift + beta
        kernel = kernel * scale.view(-1, *(1,) * (kernel.ndim - 1))
    return kernel, shift


def foldable_pair(conv, bn):
    """Whether ``bn`` after ``conv`` can be folded into it (their types and axes)."""
    if not (isinstance(conv, BaseConv) and not isinstance(conv, BaseConvTranspose)
            and type(bn) is BatchNormalization and conv.built and bn.built):
        return False
    if conv.activity_regularizer is not None or bn.activity_regularizer is not None:
        return False
    if conv.activation is not activations.linear:
        return False
    channel_dim = config.channel_axis(conv.data_format) % (conv.rank + 2)
    return bn._channel_dim == channel_dim


def fold_plan(planned):
    """A layout :class:`~kconv.models.layout.Plan` with each (convolution, its
    BatchNormalization) pair of steps replaced by one :class:`FoldedStep`; None where no
    pair folds."""
    steps, output_ids, count = planned.steps, planned.outputs, planned.count
    uses = {}
    for _, in_ids, _, _ in steps:
        for i in in_ids:
            uses[i] = uses.get(i, 0) + 1
    for i in output_ids:
        uses[i] = uses.get(i, 0) + 1
    producer = {}
    for index, (_, _, _, out_ids) in enumerate(steps):
        for i in out_ids:
            producer[i] = index
    folded, replaced = {}, set()

    def single_source(slot):
        """The step making ``slot`` where that step's result is read once, by one reader."""
        index = producer.get(slot)
        if index is None or index in replaced or uses[slot] != 1:
            return None
        fn, _, as_list, out_ids = steps[index]
        return None if as_list or len(out_ids) != 1 else index

    for index, (fn, in_ids, as_list, out_ids) in enumerate(steps):
        bn, bn_first, _ = _owner(fn)
        if not isinstance(bn, BatchNormalization) or as_list or len(in_ids) != 1:
            continue
        source, view, removed = single_source(in_ids[0]), None, []
        if source is not None and steps[source][0] is layout.to_channels_first and bn_first:
            view, removed = layout.to_channels_first, [source]
            source = single_source(steps[source][1][0])
        if source is None:
            continue
        conv_fn, conv_in, _, _ = steps[source]
        conv, _, conv_first = _owner(conv_fn)
        if not foldable_pair(conv, bn):
            continue
        if view is None and conv_first != bn_first:
            continue
        if view is not None and (conv_first or conv.data_format != "channels_last"
                                 or conv.rank != 2):
            continue
        folded[index] = (FoldedStep(conv_fn, view, fn, conv, bn), conv_in, False, out_ids)
        replaced.update([source, *removed])
    if not folded:
        return None
    steps = [folded.get(index, step) for index, step in enumerate(steps)
             if index not in replaced]
    return layout.finish(_attach_activations(steps, uses), output_ids, count)


def _attach_activations(steps, uses):
    """``steps`` where each ReLU whose only input is a :class:`FoldedStep`'s result
    (read by it alone) runs inside that step: in place on the fresh convolution output
    when folded (no new tensor: its memory is still in the cache), as written when not."""
    out, made_by = [], {}
    for fn, in_ids, as_list, out_ids in steps:
        layer = _owner(fn)[0]
        source = made_by.get(in_ids[0]) if len(in_ids) == 1 and not as_list else None
        in_place = _in_place(layer) if source is not None else None
        if in_place is not None and uses[in_ids[0]] == 1 and \
                layer.activity_regularizer is None and source[0].act_fn is None:
            step = source[0]
            step.act_fn, step.act_in_place = fn, in_place
            out[source[1]] = (step, *out[source[1]][1:3], out_ids)
            made_by.pop(in_ids[0])
            continue
        if isinstance(fn, FoldedStep):
            made_by[out_ids[0]] = (fn, len(out))
        out.append((fn, in_ids, as_list, out_ids))
    return out


def _in_place(layer):
    """The in-place form of an activation layer that has one (relu, relu6, a ReLU with a
    ceiling), else None."""
    if type(layer) is ReLU and layer.negative_slope == 0.0 and layer.threshold == 0.0:
        ceiling = layer.max_value
        if ceiling is None:
            return torch.relu_
        if ceiling == 6:
            return _relu6_
        return functools.partial(torch.clamp_, min=0.0, max=ceiling)  # picklable
    if type(layer) is Activation and layer.activation in (activations.relu, activations.relu6):
        return torch.relu_ if layer.activation is activations.relu else _relu6_
    return None


def _relu6_(y):
    return F.relu6(y, inplace=True)


def _owner(fn):
    """(the layer behind a plan step's callable, whether that callable takes channels-first
    views, whether it returns them)."""
    if isinstance(fn, torch.nn.Module):
        return fn, False, False
    layer = getattr(fn, "__self__", None)
    method = getattr(fn, "__func__", None)
    if layer is None or method is None:
        return None, False, False
    kind = type(layer)
    if method is getattr(kind, "call_channels_first", None):
        return layer, True, True
    if method is getattr(kind, "call_planned_channels_first", None):
        return layer, False, True
    if method is getattr(kind, "call_planned", None):
        return layer, False, False
    return None, False, False
