"""Writes conv_transpose_tf.npz: transposed convolutions computed by Keras 3 on TensorFlow,
the reference kconv's Conv{1,2,3}DTranspose must match (Keras's torch backend cannot place
every output as TensorFlow does; see its backend_utils).

Run with an interpreter that has tensorflow-cpu and keras (not torch):
    KERAS_BACKEND=tensorflow python tests/data/make_conv_transpose_reference.py
"""

import json
import os

os.environ["KERAS_BACKEND"] = "tensorflow"

import keras  # noqa: E402
import numpy as np  # noqa: E402


def configs():
    rng = np.random.default_rng(2026)
    out = []
    for i in range(36):
        rank = (1, 2, 2, 3)[i % 4]
        padding = ("valid", "same")[(i // 4) % 2]
        kernel = [int(v) for v in rng.integers(1, 5, rank)]
        strided = i % 3 != 0
        strides = [int(v) for v in rng.integers(1, 4, rank)] if strided else [1] * rank
        dilation = [1] * rank if strided else [int(v) for v in rng.integers(1, 3, rank)]
        output_padding = None
        if i % 5 == 1:
            output_padding = [int(rng.integers(0, s)) for s in strides]
        size = [int(v) for v in rng.integers(1, 6, rank)]
        data_format = ("channels_last", "channels_first")[(i // 8) % 2]
        out.append(dict(rank=rank, kernel_size=kernel, strides=strides, padding=padding,
                        dilation_rate=dilation, output_padding=output_padding, size=size,
                        data_format=data_format, filters=3, channels=2))
    return out


def main():
    arrays, cases = {}, []
    rng = np.random.default_rng(7)
    for i, cfg in enumerate(configs()):
        layer_cls = getattr(keras.layers, f"Conv{cfg['rank']}DTranspose")
        layer = layer_cls(cfg["filters"], cfg["kernel_size"], strides=cfg["strides"],
                          padding=cfg["padding"], output_padding=cfg["output_padding"],
                          data_format=cfg["data_format"], dilation_rate=cfg["dilation_rate"])
        shape = [2] + (cfg["size"] + [cfg["channels"]] if cfg["data_format"] == "channels_last"
                       else [cfg["channels"]] + cfg["size"])
        try:
            layer.build(shape)
            kernel = rng.standard_normal(layer.kernel.shape).astype("float32")
            bias = rng.standard_normal(layer.bias.shape).astype("float32")
            layer.set_weights([kernel, bias])
            x = rng.standard_normal(shape).astype("float32")
            if cfg["data_format"] == "channels_last":
                y = keras.ops.convert_to_numpy(layer(x))
            else:
                # TensorFlow's CPU kernels disagree with themselves for channels_first at
                # stride 1 (NCHW vs NHWC give different numbers), so the reference for
                # channels_first is TensorFlow's channels_last result, moved.
                twin = layer_cls(cfg["filters"], cfg["kernel_size"], strides=cfg["strides"],
                                 padding=cfg["padding"], output_padding=cfg["output_padding"],
                                 data_format="channels_last",
                                 dilation_rate=cfg["dilation_rate"])
                twin.build([shape[0]] + shape[2:] + [shape[1]])
                twin.set_weights([kernel, bias])
                y = np.moveaxis(keras.ops.convert_to_numpy(twin(np.moveaxis(x, 1, -1))), -1, 1)
        except Exception as error:  # TensorFlow refuses some combinations: skip them
            print(f"case {i} skipped: {type(error).__name__}: {str(error).splitlines()[0]}")
            continue
        arrays.update({f"x{i}": x, f"kernel{i}": kernel, f"bias{i}": bias, f"y{i}": y})
        cases.append({**cfg, "index": i})
    arrays["cases"] = np.array(json.dumps(cases))
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "conv_transpose_tf.npz")
    np.savez_compressed(path, **arrays)
    print(f"{len(cases)} cases written to {path}")


if __name__ == "__main__":
    main()
