"""Keras 2's spellings: each is accepted with one DeprecationWarning line naming Keras 3's
spelling, and does what Keras 2 did; the ambiguous ones are refused in one line."""

import os
import warnings

import keras
import numpy as np
import pytest
import torch

import kconv


def tiny(lib=kconv, units=1):
    model = lib.Sequential([lib.Input((4, 4, 1)), lib.layers.Flatten(),
                            lib.layers.Dense(units, activation="sigmoid" if units == 1
                                             else "softmax")])
    return model


X = np.random.default_rng(0).random((12, 4, 4, 1)).astype("float32")
Y = (np.random.default_rng(1).random(12) > 0.5).astype("float32")


def one_warning(record, *fragments):
    messages = [str(w.message) for w in record if w.category is DeprecationWarning]
    assert len(messages) == 1, messages
    assert all(f in messages[0] for f in fragments) and "\n" not in messages[0], messages[0]
    assert "Keras 2's spelling; Keras 3 writes" in messages[0]
    return record[0]


def test_optimizer_lr_and_decay():
    with pytest.warns(DeprecationWarning) as record:
        opt = kconv.optimizers.Adam(lr=0.01)
    one_warning(record, "Adam(lr=0.01)", "Adam(learning_rate=0.01)")
    assert opt.learning_rate == 0.01
    with pytest.warns(DeprecationWarning) as record:
        opt = kconv.optimizers.SGD(learning_rate=0.1, decay=0.5)
    one_warning(record, "SGD(decay=0.5)", "learning-rate schedule")
    weight = torch.nn.Parameter(torch.zeros(1))
    opt.bind([weight])
    for _ in range(2):  # Keras 2: lr / (1 + decay * iterations), the first step undecayed
        weight.grad = torch.ones(1)
        opt.step()
    assert weight.item() == pytest.approx(-(0.1 + 0.1 / 1.5))
    with pytest.raises(TypeError, match="not both"):
        kconv.optimizers.Adam(learning_rate=0.1, lr=0.2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        kconv.optimizers.Adam(learning_rate=0.1, decay=0.0)  # nothing to warn about


def test_the_warning_points_at_the_users_line():
    with pytest.warns(DeprecationWarning) as record:
        kconv.optimizers.RMSprop(lr=0.1)
    assert record[0].filename == __file__


def test_model_checkpoint_period_saves_every_nth_epoch(tmp_path):
    model = tiny()
    model.compile("sgd", "binary_crossentropy", metrics=["accuracy"])
    with pytest.warns(DeprecationWarning) as record:
        checkpoint = kconv.callbacks.ModelCheckpoint(str(tmp_path / "m-{epoch}.keras"),
                                                     period=2)
    one_warning(record, "ModelCheckpoint(period=2)", "save_freq='epoch'")
    model.fit(X, Y, epochs=5, verbose=0, callbacks=[checkpoint])
    assert sorted(os.listdir(tmp_path)) == ["m-2.keras", "m-4.keras"]
    with pytest.raises(ValueError, match="not both"):
        kconv.callbacks.ModelCheckpoint(str(tmp_path / "m.keras"), period=2, save_freq=3)


def test_paths_without_keras_extensions_write_files_both_libraries_open(tmp_path):
    """Keras 2 wrote a SavedModel folder at 'model-01.model' and TensorFlow checkpoints at
    'weights.ckpt': kconv writes a .keras archive and Keras 3's weights there, which
    kconv's load_model/load_weights open by their contents."""
    model = tiny()
    model.compile("sgd", "binary_crossentropy", metrics=["accuracy"])
    with pytest.warns(DeprecationWarning) as record:
        checkpoint = kconv.callbacks.ModelCheckpoint(str(tmp_path / "model-{epoch:02d}.model"))
    one_warning(record, "ModelCheckpoint('model-{epoch:02d}.model')", ".keras")
    model.fit(X, Y, epochs=1, verbose=0, callbacks=[checkpoint])
    saved = str(tmp_path / "model-01.model")
    expected = model.predict(X, verbose=0)
    np.testing.assert_allclose(kconv.models.load_model(saved).predict(X, verbose=0), expected)
    with pytest.warns(DeprecationWarning) as record:
        model.save(str(tmp_path / "final"))
    one_warning(record, "model.save('final')", "model.save('final.keras')")
    np.testing.assert_allclose(kconv.models.load_model(str(tmp_path / "final")).predict(
        X, verbose=0), expected)
    with pytest.warns(DeprecationWarning) as record:
        model.save_weights(str(tmp_path / "weights.ckpt"))
    one_warning(record, "save_weights('weights.ckpt')", "save_weights('weights.ckpt.weights.h5')")
    again = tiny()
    again.load_weights(str(tmp_path / "weights.ckpt"))
    np.testing.assert_allclose(again.predict(X, verbose=0), expected)
    with pytest.raises(ValueError, match="is a folder"):
        kconv.models.load_model(str(tmp_path))


@pytest.mark.parametrize("extension", [".h5", ".hdf5"])
def test_keras_2_weights_files_are_keras_2s_layout_which_keras_3_reads(extension, tmp_path):
    model = tiny()
    path = str(tmp_path / f"weights.best{extension}")
    with pytest.warns(DeprecationWarning) as record:
        checkpoint = kconv.callbacks.ModelCheckpoint(path, monitor="loss",
                                                     save_weights_only=True)
    one_warning(record, f"ModelCheckpoint('weights.best{extension}', save_weights_only=True)",
                ".weights.h5")
    model.compile("sgd", "binary_crossentropy")
    model.fit(X, Y, epochs=1, verbose=0, callbacks=[checkpoint])
    k_model = tiny(keras)
    k_model.load_weights(path)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(k_model(X)),
                               model.predict(X, verbose=0), rtol=1e-6)


def test_model_save_keras_2_arguments(tmp_path):
    model = tiny()
    with pytest.warns(DeprecationWarning) as record:
        model.save(str(tmp_path / "m.tf"), True, save_format="h5")
    one_warning(record, "model.save(save_format='h5')", "extension")
    assert kconv.saving._file_kind(str(tmp_path / "m.tf")) == "h5"
    with pytest.warns(DeprecationWarning) as record:
        model.save(str(tmp_path / "m.keras"), include_optimizer=False)
    one_warning(record, "model.save(include_optimizer=...)", "changes nothing")
    keras.models.load_model(str(tmp_path / "m.keras"))
    with pytest.raises(FileExistsError, match="overwrite=False"):
        model.save(str(tmp_path / "m.keras"), False)
    with pytest.raises(TypeError, match="pass them by keyword"):
        model.save(str(tmp_path / "n.keras"), True, False)
    with pytest.raises(ValueError, match="zipped=False"):
        model.save(str(tmp_path / "n.keras"), zipped=False)


def test_tensorboard_removed_arguments_are_ignored(tmp_path):
    pytest.importorskip("tensorboard")
    with pytest.warns(DeprecationWarning) as record:
        kconv.callbacks.TensorBoard(str(tmp_path), batch_size=32)
    one_warning(record, "TensorBoard(batch_size=...)", "ignored")
    with pytest.warns(DeprecationWarning):
        kconv.callbacks.TensorBoard(str(tmp_path), write_grads=True, embeddings_data=X)
    with pytest.raises(TypeError, match="write_logits"):
        kconv.callbacks.TensorBoard(str(tmp_path), write_logits=True)


def test_generators_and_float_steps():
    model = tiny()
    model.compile("sgd", "binary_crossentropy")
    flow = kconv.preprocessing.image.ImageDataGenerator().flow(
        X, Y, batch_size=5, shuffle=False)
    with pytest.warns(DeprecationWarning) as record:
        history = model.fit_generator(flow, steps_per_epoch=len(X) / 5, epochs=1, verbose=0)
    messages = [str(w.message) for w in record]
    assert any("model.fit_generator(...)" in m and "model.fit(...)" in m for m in messages)
    assert any("steps_per_epoch=2.4" in m and "steps_per_epoch=3" in m for m in messages)
    assert len(history.history["loss"]) == 1
    with pytest.warns(DeprecationWarning, match="evaluate_generator"):
        model.evaluate_generator(flow, steps=2.0, verbose=0)
    with pytest.warns(DeprecationWarning, match="predict_generator"):
        assert model.predict_generator(flow, steps=1, verbose=0).shape == (5, 1)


def test_accuracy_log_names_and_monitors(tmp_path):
    """Keras 2.3+ names the logs as the metric was given ('acc' gives 'val_acc'); a Keras
    2.2 script's monitor='val_acc' with metrics=['accuracy'] monitors 'val_accuracy'."""
    model = tiny()
    model.compile("sgd", "binary_crossentropy", metrics=["acc"])
    history = model.fit(X, Y, epochs=1, verbose=0, validation_split=0.25)
    assert set(history.history) == {"loss", "acc", "val_loss", "val_acc"}
    model.compile("sgd", "binary_crossentropy", metrics=["accuracy"])
    checkpoint = kconv.callbacks.ModelCheckpoint(str(tmp_path / "best.keras"),
                                                 monitor="val_acc", save_best_only=True)
    stop = kconv.callbacks.EarlyStopping(monitor="val_acc", patience=5)
    with pytest.warns(DeprecationWarning, match="monitor='val_acc'.*monitor='val_accuracy'"):
        model.fit(X, Y, epochs=2, verbose=0, validation_split=0.25,
                  callbacks=[checkpoint, stop])
    assert os.path.isfile(tmp_path / "best.keras")
    assert checkpoint.monitor == stop.monitor == "val_accuracy"


def test_predict_classes_and_proba():
    binary, multi = tiny(units=1), tiny(units=3)
    with pytest.warns(DeprecationWarning, match="predict_classes"):
        classes = binary.predict_classes(X)
    np.testing.assert_array_equal(classes, (binary.predict(X, verbose=0) > 0.5).astype("int32"))
    with pytest.warns(DeprecationWarning, match="predict_classes"):
        classes = multi.predict_classes(X)
    np.testing.assert_array_equal(classes, multi.predict(X, verbose=0).argmax(-1))
    with pytest.warns(DeprecationWarning, match=r"model.predict_proba\(x\)"):
        np.testing.assert_array_equal(multi.predict_proba(X), multi.predict(X, verbose=0))


def test_keras_2_module_paths():
    from kconv.layers.convolutional import Conv2DTranspose, SeparableConv2D, ZeroPadding2D
    from kconv.layers.merge import add, concatenate
    from kconv.utils.np_utils import to_categorical
    assert Conv2DTranspose is kconv.layers.Conv2DTranspose and add is kconv.layers.add
    assert SeparableConv2D and ZeroPadding2D and concatenate
    np.testing.assert_array_equal(to_categorical([1, 0], 2), [[0, 1], [1, 0]])


def test_optimizer_lr_and_backend_set_value():
    """Keras 2's learning-rate callbacks: K.set_value(model.optimizer.lr, ...) and
    K.get_value(model.optimizer.lr)."""
    model = tiny()
    model.compile(kconv.optimizers.SGD(learning_rate=0.1), "binary_crossentropy")
    with pytest.warns(DeprecationWarning, match="optimizer.lr is Keras 2's spelling; Keras 3 "
                                                "writes optimizer.learning_rate"):
        kconv.backend.set_value(model.optimizer.lr, 0.02)
    assert model.optimizer.learning_rate == 0.02
    with pytest.warns(DeprecationWarning):
        assert float(kconv.backend.get_value(model.optimizer.lr)) == 0.02
    with pytest.warns(DeprecationWarning):
        model.optimizer.lr = 0.5
    assert model.optimizer.learning_rate == 0.5
    with pytest.raises(TypeError, match="set_value needs a variable"):
        kconv.backend.set_value(0.1, 0.2)
