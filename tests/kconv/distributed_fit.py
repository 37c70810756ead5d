"""A Keras user's script, run by tests/kconv/test_distribution.py: ``python
distributed_fit.py MODE OUT`` trains, evaluates and predicts, and saves what it got to
``OUT/result_<rank>.npz``. MODE 'one' runs in one process; 'dp' sets
``DataParallel(devices=['cpu:0', 'cpu:1'])``; 'node' is one node of two (one device each)
joined by ``initialize()`` from ``KERAS_DISTRIBUTION_*`` variables."""

import os
import sys

import numpy as np

import kconv as keras
from kconv import layers


def _model(batch_norm):
    keras.utils.set_random_seed(1)
    body = [layers.Conv2D(6, 3, strides=2, padding="same", use_bias=not batch_norm)]
    body += [layers.BatchNormalization()] if batch_norm else []
    model = keras.Sequential([layers.Input((12, 12, 3)), *body, layers.Activation("relu"),
                              layers.Flatten(), layers.Dense(4, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def run(mode, out):
    rank = os.environ.get("LOCAL_RANK", "0") if mode != "node" else \
        os.environ["KERAS_DISTRIBUTION_PROCESS_ID"]
    if mode == "dp":
        keras.distribution.set_distribution(
            keras.distribution.DataParallel(devices=["cpu:0", "cpu:1"]))
    elif mode == "node":
        keras.distribution.initialize()
        keras.distribution.set_distribution(keras.distribution.DataParallel(devices=["cpu:0"]))
    rng = np.random.default_rng(0)
    x = rng.random((50, 12, 12, 3), dtype=np.float32)
    y = rng.integers(0, 4, 50)
    # With batch normalization; the last training batch (2) and prediction batch (5) split
    # unevenly; evaluate's last batch (1) leaves the second process a placeholder.
    model = _model(batch_norm=True)
    stop = keras.callbacks.EarlyStopping(monitor="val_accuracy", patience=1)
    files = [keras.callbacks.ModelCheckpoint(os.path.join(out, f"best_{rank}.keras")),
             keras.callbacks.CSVLogger(os.path.join(out, f"log_{rank}.csv"))]
    history = model.fit(x, y, batch_size=16, epochs=6, validation_data=(x[:21], y[:21]),
                        callbacks=[stop, *files], verbose=2)
    result = {f"history_{k}": np.array(v) for k, v in history.history.items()}
    result["evaluate"] = np.array(model.evaluate(x, y, batch_size=7, verbose=0))
    result["predict"] = model.predict(x, batch_size=9, verbose=0)
    result.update({f"weight_{i}": w for i, w in enumerate(model.get_weights())})
    # Without batch normalization a last training batch of one sample leaves the second
    # process a placeholder and still gives the one-process result.
    small = _model(batch_norm=False)
    small.fit(x[:17], y[:17], batch_size=16, epochs=2, verbose=0)
    result.update({f"small_{i}": w for i, w in enumerate(small.get_weights())})
    # Dropout draws each process's slice its own masks (rows alike in x, unlike in masks).
    noisy = keras.Sequential([layers.Input((64,)), layers.Dropout(0.5), layers.Dense(1)])
    noisy.compile("sgd", "mse")
    masks = []
    noisy.layers[0].register_forward_hook(lambda m, i, o: masks.append((o != 0).numpy()))
    noisy.fit(np.ones((8, 64), np.float32), np.zeros((8, 1)), batch_size=8, verbose=0)
    result["dropout_masks"] = masks[0]
    np.savez(os.path.join(out, f"result_{rank}.npz"), **result)


if __name__ == "__main__":
    run(sys.argv[1], sys.argv[2])
