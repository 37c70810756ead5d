"""``model.export``: a model's inference graph as a file for serving, in ONNX (through
torch's exporter, for ONNX Runtime, TensorRT, OpenVINO...) or as torch.export's
ExportedProgram (``.pt2``), with the batch axis dynamic. Keras's TensorFlow-only formats are
refused with the ONNX route named. The file appears complete or not at all."""

import contextlib
import os
import tempfile
import warnings

import torch

from kconv.validation import invalid_type, invalid_value

FORMATS = ("onnx", "torch")
# The ONNX opset kconv asks torch's exporter for (recorded in the file's opset_import and
# in its metadata as kconv_opset); opset_version= overrides it.
DEFAULT_OPSET = 18
# Keras's other formats, and what to do instead.
_REFUSED = {
    "tf_saved_model": "a TensorFlow SavedModel needs TensorFlow, which kconv does not use: "
                      "export format='onnx' (ONNX Runtime, TensorRT, OpenVINO and "
                      "TensorFlow's onnx-tf read it) or 'torch'",
    "openvino": "export format='onnx': OpenVINO reads ONNX files directly",
    "litert": "export format='onnx' and convert it for LiteRT (e.g. with onnx2tf)",
}


def export(model, filepath, format="tf_saved_model", verbose=None, input_signature=None,
           opset_version=None, **kwargs):
    """Write ``model``'s inference graph (evaluation mode: dropout and augmentation off,
    BatchNormalization on its moving statistics) to ``filepath``.

    Args:
        model: a built kconv model (Sequential or functional).
        filepath: the file to write (its folder must exist).
        format: 'onnx' or 'torch' (an ExportedProgram, loaded by ``torch.export.load``).
            Keras's default, 'tf_saved_model', and its 'openvino' and 'litert' are refused
            with what to use instead.
        verbose: print a line naming the file, format and opset (default: True).
        input_signature: example inputs (tensors or arrays) or their shapes, one per model
            input; default: the model's Input shapes. The batch axis is always dynamic;
            other None axes of the Input shapes are dynamic too.
        opset_version: the ONNX opset (default ``DEFAULT_OPSET``).
        **kwargs: passed to ``torch.export.export`` (e.g. ``strict``).

    Raises:
        ValueError: an unknown or refused format, a folder that does not exist or cannot be
            written, or an unbuilt model; nothing is left behind when export fails.
    """
    if not isinstance(format, str):
        raise invalid_type("format", f"one of {FORMATS}", format)
    if format in _REFUSED:
        raise ValueError(f"format={format!r} is not supported by kconv: {_REFUSED[format]}")
    if format not in FORMATS:
        raise invalid_value("format", f"one of {FORMATS}", format)
    if opset_version is not None and (format != "onnx" or isinstance(opset_version, bool)
                                      or not isinstance(opset_version, int)):
        raise invalid_value("opset_version", "an int, with format='onnx'", opset_version)
    path = os.path.abspath(os.fspath(filepath))
    folder = os.path.dirname(path)
    if not os.path.isdir(folder) or not os.access(folder, os.W_OK):
        raise invalid_value("filepath", "a file in a folder that exists and can be written",
                            filepath)
    if os.path.isdir(path):
        raise invalid_value("filepath", "a file path (not a folder)", filepath)
    if not getattr(model, "built", False):
        raise ValueError(f"model.export needs a built model: '{model.name}' has not been "
                         "called on data or given an Input yet")
    args, dynamic = _examples(model, input_signature)
    with _inference(model):
        program = torch.export.export(_Inference(model), args, dynamic_shapes=(dynamic,),
                                      **kwargs)
        fd, temporary = tempfile.mkstemp(prefix=".export-", suffix=".part", dir=folder)
        os.close(fd)
        try:
            if format == "torch":
                with warnings.catch_warnings():  # kernels kept in channels_last memory
                    warnings.filterwarnings("ignore", message="No complete tensor found")
                    torch.export.save(program, temporary)
            else:
                _write_onnx(model, program, temporary, opset_version or DEFAULT_OPSET)
            os.replace(temporary, path)
        finally:
            if os.path.exists(temporary):
                os.remove(temporary)
    if verbose is None or verbose:
        opset = f", opset {opset_version or DEFAULT_OPSET}" if format == "onnx" else ""
        print(f"Saved '{model.name}' for inference to {path} ({format}{opset}, dynamic batch)")


class _Inference(torch.nn.Module):
    """The model with its inputs as separate arguments (one per Input)."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, *inputs):
        return self.model(inputs[0] if len(inputs) == 1 else list(inputs))


@contextlib.contextmanager
def _inference(model):
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


def _input_shapes(model):
    shape = model.build_shape
    if shape is None:
        raise ValueError(f"model.export needs '{model.name}''s input shape: give "
                         "input_signature=")
    return [tuple(shape)] if shape and not isinstance(shape[0], (tuple, list)) else \
        [tuple(s) for s in shape]


def _examples(model, input_signature):
    """Example inputs (batch 2, so that torch.export keeps the batch symbolic) and their
    dynamic axes: the batch, and the axes the Input shapes leave None."""
    if input_signature is None:
        signature = _input_shapes(model)
    else:
        signature = list(input_signature) if isinstance(input_signature, (list, tuple)) and \
            input_signature and not isinstance(input_signature[0], int) else [input_signature]
    weight = next(iter(model.parameters()), None)
    dtype = weight.dtype if weight is not None else torch.float32
    args, dynamic = [], []
    batch = torch.export.Dim("batch")  # one batch axis for every input
    for item in signature:
        if isinstance(item, (list, tuple)):
            shape = tuple(item)
            if not shape or not all(d is None or (isinstance(d, int) and d > 0)
                                    for d in shape):
                raise invalid_value("input_signature", "shapes of positive ints or None",
                                    input_signature)
            example = torch.rand((2,) + tuple(32 if d is None else d for d in shape[1:]),
                                 dtype=dtype)
            free = [i for i, d in enumerate(shape) if d is None or i == 0]
        else:
            example = torch.as_tensor(item)
            if example.ndim == 0:
                raise invalid_value("input_signature", "tensors with a batch axis",
                                    input_signature)
            if example.shape[0] < 2:  # a batch of 1 would be specialized
                example = example.expand(2, *example.shape[1:]).clone()
            free = [0]
        args.append(example)
        dynamic.append({i: torch.export.Dim.AUTO if i else batch for i in free})
    return tuple(args), tuple(dynamic)


def _names(model):
    inputs = getattr(model, "inputs", None) or []
    outputs = getattr(model, "outputs", None) or []
    input_names = [t._keras_history[0].name for t in inputs] or None
    output_names = [t._keras_history[0].name for t in outputs] or None
    if output_names and len(set(output_names)) != len(output_names):
        output_names = None
    return input_names, output_names


def _write_onnx(model, program, path, opset):
    import onnx  # noqa: F401  (the exporter needs onnx and onnxscript: the export extra)

    input_names, output_names = _names(model)
    onnx_program = torch.onnx.export(program, (), None, dynamo=True, opset_version=opset,
                                     verbose=False,
                                     input_names=input_names, output_names=output_names,
                                     optimize=True)
    onnx_program.model.metadata_props.update(kconv_model=model.name, kconv_opset=str(opset))
    onnx_program.save(path, external_data=False)
