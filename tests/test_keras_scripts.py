"""The seeds' Keras training scripts, run twice: as Keras code on Keras 3 (the oracle), and
with only their import lines rewritten for kconv (``tests.keras_oracle.port``). Both must
run to the end and report the same things; kconv must learn what Keras learns.

MNIST comes from kconv's embedded copy for both (Keras would download it): the scripts'
``mnist.load_data`` is patched to a slice, so the default suite stays fast; the data
itself is the real MNIST."""

import json
import os
import subprocess
import textwrap

import keras
import numpy as np
import pytest

import kconv
from tests.keras_oracle import for_keras3, port

TRAIN, TEST = 2000, 500

MNIST_LECTURE = textwrap.dedent('''
    from keras import layers
    from keras import models
    from keras.datasets import mnist
    from keras.utils import to_categorical

    model = models.Sequential()
    model.add(layers.Conv2D(32, (3, 3), activation="relu", input_shape=(28, 28, 1)))
    model.add(layers.MaxPooling2D((2, 2)))
    model.add(layers.Conv2D(64, (3, 3), activation="relu"))
    model.add(layers.MaxPooling2D((2, 2)))
    model.add(layers.Conv2D(64, (3, 3), activation="relu"))
    model.add(layers.Flatten())
    model.add(layers.Dense(64, activation="relu"))
    model.add(layers.Dense(10, activation="softmax"))
    model.summary()

    (train_images, train_labels), (test_images, test_labels) = mnist.load_data()
    train_images = train_images.reshape((-1, 28, 28, 1)).astype("float32") / 255
    test_images = test_images.reshape((-1, 28, 28, 1)).astype("float32") / 255
    train_labels = to_categorical(train_labels)
    test_labels = to_categorical(test_labels)

    model.compile(optimizer="rmsprop", loss="categorical_crossentropy",
                  metrics=["accuracy"])
    history = model.fit(train_images, train_labels, epochs=5, batch_size=64)
    test_loss, test_acc = model.evaluate(test_images, test_labels)
    print("test_acc:", test_acc)
''')

FUNCTIONAL_LENET = textwrap.dedent('''
    from tensorflow.keras.callbacks import History
    from tensorflow.keras.datasets import mnist
    from tensorflow.keras.layers import Conv2D, Dense, Flatten, Input, MaxPooling2D
    from tensorflow.keras.models import Model
    from tensorflow.keras.optimizers import SGD
    from tensorflow.keras.utils import to_categorical

    num_classes = 10
    (x_train, y_train), (x_test, y_test) = mnist.load_data()
    x_train = x_train.reshape(-1, 28, 28, 1).astype("float32") / 255.0
    x_test = x_test.reshape(-1, 28, 28, 1).astype("float32") / 255.0
    y_train = to_categorical(y_train, num_classes)
    y_test = to_categorical(y_test, num_classes)

    inputs = Input(shape=(28, 28, 1))
    x = Conv2D(32, kernel_size=(5, 5), strides=(1, 1), activation="relu")(inputs)
    x = MaxPooling2D(pool_size=(2, 2), strides=(2, 2))(x)
    x = Conv2D(64, (5, 5), activation="relu")(x)
    x = MaxPooling2D(pool_size=(2, 2))(x)
    x = Flatten()(x)
    x = Dense(1000, activation="relu")(x)
    outputs = Dense(num_classes, activation="softmax")(x)
    model = Model(inputs=inputs, outputs=outputs)

    history = History()
    model.compile(loss="categorical_crossentropy", optimizer=SGD(learning_rate=0.01),
                  metrics=["accuracy"])
    model.fit(x_train, y_train, batch_size=128, epochs=3, verbose=1,
              validation_data=(x_test, y_test), callbacks=[history])
    score = model.evaluate(x_test, y_test, verbose=0)
    print("Test loss:", score[0], "Test accuracy:", score[1])
''')

STRIDEDNET_TUTORIAL = textwrap.dedent('''
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    from tensorflow.keras import backend as K
    from tensorflow.keras.layers import (Activation, BatchNormalization, Conv2D, Dense,
                                         Dropout, Flatten)
    from tensorflow.keras.models import Sequential
    from tensorflow.keras.optimizers import Adam
    from tensorflow.keras.preprocessing.image import ImageDataGenerator
    from tensorflow.keras.regularizers import l2
    from tensorflow.keras.utils import to_categorical


    class StridedNet:
        @staticmethod
        def build(width, height, depth, classes, reg, init="he_normal"):
            model = Sequential()
            inputShape = (height, width, depth)
            chanDim = -1
            if K.image_data_format() == "channels_first":
                inputShape = (depth, height, width)
                chanDim = 1
            model.add(Conv2D(16, (7, 7), strides=(2, 2), padding="valid",
                             kernel_initializer=init, kernel_regularizer=reg,
                             input_shape=inputShape))
            model.add(Conv2D(32, (3, 3), padding="same", kernel_initializer=init,
                             kernel_regularizer=reg))
            model.add(Activation("relu"))
            model.add(BatchNormalization(axis=chanDim))
            model.add(Conv2D(32, (3, 3), strides=(2, 2), padding="same",
                             kernel_initializer=init, kernel_regularizer=reg))
            model.add(Activation("relu"))
            model.add(BatchNormalization(axis=chanDim))
            model.add(Dropout(0.25))
            model.add(Conv2D(64, (3, 3), padding="same", kernel_initializer=init,
                             kernel_regularizer=reg))
            model.add(Activation("relu"))
            model.add(BatchNormalization(axis=chanDim))
            model.add(Conv2D(64, (3, 3), strides=(2, 2), padding="same",
                             kernel_initializer=init, kernel_regularizer=reg))
            model.add(Activation("relu"))
            model.add(BatchNormalization(axis=chanDim))
            model.add(Dropout(0.25))
            model.add(Conv2D(128, (3, 3), padding="same", kernel_initializer=init,
                             kernel_regularizer=reg))
            model.add(Activation("relu"))
            model.add(BatchNormalization(axis=chanDim))
            model.add(Conv2D(128, (3, 3), strides=(2, 2), padding="same",
                             kernel_initializer=init, kernel_regularizer=reg))
            model.add(Activation("relu"))
            model.add(BatchNormalization(axis=chanDim))
            model.add(Dropout(0.25))
            model.add(Flatten())
            model.add(Dense(512, kernel_initializer=init))
            model.add(Activation("relu"))
            model.add(BatchNormalization())
            model.add(Dropout(0.5))
            model.add(Dense(classes))
            model.add(Activation("softmax"))
            return model


    # Generated data: four classes of 48x48 images, each a bright square in its own corner.
    rng = np.random.RandomState(42)
    labels = np.repeat(np.arange(4), 24)
    data = rng.uniform(0, 0.3, (len(labels), 48, 48, 3)).astype("float32")
    for i, label in enumerate(labels):
        r, c = divmod(label, 2)
        data[i, r * 24:r * 24 + 20, c * 24:c * 24 + 20] += 0.7
    order = rng.permutation(len(labels))
    data, labels = data[order], to_categorical(labels[order], 4)
    (trainX, testX), (trainY, testY) = np.split(data, [72]), np.split(labels, [72])

    EPOCHS, BS = 3, 8
    aug = ImageDataGenerator(rotation_range=20, zoom_range=0.15, width_shift_range=0.2,
                             height_shift_range=0.2, shear_range=0.15, horizontal_flip=True,
                             fill_mode="nearest")
    opt = Adam(learning_rate=1e-3)
    model = StridedNet.build(width=48, height=48, depth=3, classes=4, reg=l2(0.0005))
    model.compile(loss="categorical_crossentropy", optimizer=opt, metrics=["accuracy"])
    H = model.fit(aug.flow(trainX, trainY, batch_size=BS), validation_data=(testX, testY),
                  steps_per_epoch=len(trainX) // BS, epochs=EPOCHS)
    predictions = model.predict(x=testX.astype("float32"), batch_size=BS)
    accuracy = (predictions.argmax(axis=1) == testY.argmax(axis=1)).mean()

    N = EPOCHS
    plt.style.use("ggplot")
    plt.figure()
    plt.plot(np.arange(0, N), H.history["loss"], label="train_loss")
    plt.plot(np.arange(0, N), H.history["val_loss"], label="val_loss")
    plt.plot(np.arange(0, N), H.history["accuracy"], label="train_acc")
    plt.plot(np.arange(0, N), H.history["val_accuracy"], label="val_acc")
    plt.title("Training Loss and Accuracy on Dataset")
    plt.xlabel("Epoch #")
    plt.ylabel("Loss/Accuracy")
    plt.legend(loc="lower left")
    plt.savefig(plot_path)
''')


@pytest.fixture
def mnist_slice_loader(monkeypatch):
    """Both libraries' ``mnist.load_data`` give the first images of kconv's real MNIST."""
    from kconv.datasets import mnist

    (x, y), (xt, yt) = mnist.load_data()
    data = ((x[:TRAIN], y[:TRAIN]), (xt[:TEST], yt[:TEST]))
    for module in (mnist, keras.datasets.mnist, keras._tf_keras.keras.datasets.mnist):
        monkeypatch.setattr(module, "load_data", lambda: data)


def run(source, **given):
    namespace = dict(given)
    exec(compile(source, "<keras script>", "exec"), namespace)
    return namespace


def run_both(source, **given):
    ported = port(source)
    changed = [(a, b) for a, b in zip(source.splitlines(), ported.splitlines()) if a != b]
    assert changed and all(a.startswith(("from ", "import ")) for a, _ in changed)
    assert len(ported.splitlines()) == len(source.splitlines())
    keras.backend.clear_session()
    keras.utils.set_random_seed(1)
    theirs = run(for_keras3(source), **given)
    kconv.utils.set_random_seed(1)
    ours = run(ported, **given)
    return theirs, ours


def test_the_mnist_lecture_script(mnist_slice_loader, capsys):
    theirs, ours = run_both(MNIST_LECTURE)
    assert type(ours["model"]).__module__.startswith("kconv")
    assert ours["model"].count_params() == theirs["model"].count_params() == 93322
    assert set(ours["history"].history) == set(theirs["history"].history) == \
        {"loss", "accuracy"}
    assert len(ours["history"].history["loss"]) == 5
    # The same recipe on the same real images: kconv learns what Keras learns.
    assert ours["test_acc"] > 0.85 and abs(ours["test_acc"] - theirs["test_acc"]) < 0.04
    assert "Total params: 93,322" in capsys.readouterr().out


def test_the_articles_functional_lenet_with_sgd_and_history(mnist_slice_loader):
    theirs, ours = run_both(FUNCTIONAL_LENET)
    assert ours["model"].count_params() == theirs["model"].count_params()
    for result in (theirs, ours):
        assert set(result["history"].history) == {"loss", "accuracy", "val_loss",
                                                  "val_accuracy"}
        assert result["history"].epoch == [0, 1, 2]
    accuracy = ours["history"].history["val_accuracy"]
    assert accuracy[-1] > accuracy[0] and ours["score"][1] == pytest.approx(accuracy[-1])
    assert abs(ours["score"][1] - theirs["score"][1]) < 0.1


def test_the_stridednet_tutorial_script(tmp_path):
    theirs, ours = run_both(STRIDEDNET_TUTORIAL, plot_path=str(tmp_path / "plot.png"))
    assert ours["model"].count_params() == theirs["model"].count_params()
    for result in (theirs, ours):
        assert set(result["H"].history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
        assert len(result["H"].history["loss"]) == 3
        assert result["predictions"].shape == (24, 4)
    np.testing.assert_allclose(ours["predictions"].sum(axis=1), 1.0, rtol=1e-5)
    assert (tmp_path / "plot.png").stat().st_size > 0


# ----------------------------------------------------------------- scripts as people wrote them
# Written here in the styles of public Keras scripts (not copied from any): a Keras 2 binary
# classifier of an image folder, a tf.keras Fashion-MNIST script, and keras.io's Keras 3
# pattern with image_dataset_from_directory and augmentation layers in the model.

KERAS2_BINARY_FOLDER = textwrap.dedent('''
    import numpy as np
    from keras.models import Sequential
    from keras.layers.core import Dense, Dropout, Activation, Flatten
    from keras.layers.convolutional import Conv2D, MaxPooling2D
    from keras.optimizers import Adam
    from keras.preprocessing.image import ImageDataGenerator
    from keras.callbacks import ModelCheckpoint, EarlyStopping
    from keras import backend as K

    img_width, img_height = 32, 32
    input_shape = (img_height, img_width, 3)
    if K.image_data_format() == 'channels_first':
        input_shape = (3, img_height, img_width)

    model = Sequential()
    model.add(Conv2D(8, (3, 3), input_shape=input_shape))
    model.add(Activation('relu'))
    model.add(MaxPooling2D(pool_size=(2, 2)))
    model.add(Flatten())
    model.add(Dense(16))
    model.add(Activation('relu'))
    model.add(Dropout(0.5))
    model.add(Dense(1))
    model.add(Activation('sigmoid'))
    model.compile(loss='binary_crossentropy', optimizer=Adam(lr=1e-3, decay=1e-5),
                  metrics=['acc'])

    datagen = ImageDataGenerator(rescale=1. / 255, horizontal_flip=True,
                                 validation_split=0.25)
    train_generator = datagen.flow_from_directory(data_dir, target_size=(img_height, img_width),
                                                  batch_size=4, class_mode='binary',
                                                  subset='training', seed=1)
    validation_generator = datagen.flow_from_directory(
        data_dir, target_size=(img_height, img_width), batch_size=4, class_mode='binary',
        subset='validation', seed=1)
    checkpoint = ModelCheckpoint(checkpoint_dir + '/weights-{epoch:02d}-{val_acc:.2f}.model',
                                 monitor='val_acc', save_best_only=False, period=2)
    stopper = EarlyStopping(monitor='val_acc', patience=10)
    history = model.fit_generator(train_generator,
                                  steps_per_epoch=train_generator.samples / 4,
                                  epochs=4, validation_data=validation_generator,
                                  validation_steps=validation_generator.samples / 4,
                                  callbacks=[checkpoint, stopper])
    model.save(checkpoint_dir + '/final_model', True)
    print('history keys:', sorted(history.history))
    classes = model.predict_classes(next(validation_generator)[0])
    print('predicted classes shape:', classes.shape)
''')


@pytest.fixture
def two_class_folder(tmp_path):
    from PIL import Image
    rng = np.random.default_rng(5)
    for c, name in enumerate(("cats", "dogs")):
        (tmp_path / "data" / name).mkdir(parents=True)
        for i in range(8):
            pixels = rng.integers(0, 100, (40, 36, 3)) + 150 * c
            Image.fromarray(pixels.astype("uint8")).save(tmp_path / "data" / name / f"{i}.png")
    return tmp_path


def test_a_keras_2_binary_folder_script_runs_where_keras_3_cannot(two_class_folder, capsys,
                                                                  recwarn):
    """Keras 2 spellings throughout (keras.layers.core, lr=/decay=, metrics=['acc'],
    period=, a '.model' checkpoint path, fit_generator with float steps, val_acc monitors,
    model.save(path, True), predict_classes) and (N,) binary labels with a sigmoid output:
    kconv runs it, warning once per spelling; Keras 3 stops at its first Keras 2 line."""
    given = dict(data_dir=str(two_class_folder / "data"),
                 checkpoint_dir=str(two_class_folder))
    ported = port(KERAS2_BINARY_FOLDER)
    kconv.utils.set_random_seed(1)
    ours = run(ported, **given)
    out = capsys.readouterr().out
    assert "history keys: ['acc', 'loss', 'val_acc', 'val_loss']" in out
    assert "predicted classes shape: (4, 1)" in out
    saved = sorted(p.name for p in two_class_folder.glob("weights-*.model"))
    assert [name[:10] for name in saved] == ["weights-02", "weights-04"]
    reloaded = kconv.models.load_model(str(two_class_folder / saved[-1]))
    assert reloaded.count_params() == ours["model"].count_params()
    kconv.models.load_model(str(two_class_folder / "final_model"))
    spellings = {str(w.message).split(" is Keras 2's")[0] for w in recwarn
                 if w.category is DeprecationWarning and "Keras 2's spelling" in str(w.message)}
    assert {"Adam(lr=0.001)", "Adam(decay=1e-05)", "model.fit_generator(...)",
            "ModelCheckpoint(period=2)", "model.save('final_model') without .keras or .h5 "
            "(a TensorFlow SavedModel)"} <= spellings
    with pytest.raises(Exception):  # Keras 3 itself no longer runs its own users' script
        run(for_keras3(KERAS2_BINARY_FOLDER), **given)


TF_KERAS_FASHION = textwrap.dedent('''
    import numpy as np
    import tensorflow as tf
    from tensorflow import keras
    from tensorflow.keras import layers

    fashion_mnist = keras.datasets.fashion_mnist
    (train_images, train_labels), (test_images, test_labels) = fashion_mnist.load_data()
    class_names = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt',
                   'Sneaker', 'Bag', 'Ankle boot']
    train_images = train_images / 255.0
    test_images = test_images / 255.0
    model = keras.Sequential([
        keras.Input((28, 28)),
        layers.Reshape((28, 28, 1)),
        layers.Conv2D(8, 3, activation='relu'),
        layers.MaxPooling2D(),
        layers.Flatten(),
        layers.Dense(10, activation='softmax'),
    ])
    model.compile(optimizer='adam', loss='sparse_categorical_crossentropy',
                  metrics=['accuracy'])
    model.fit(train_images, train_labels, epochs=2, batch_size=16, shuffle=False, verbose=0)
    test_loss, test_acc = model.evaluate(test_images, test_labels, verbose=0)
    predictions = model.predict(test_images, verbose=0)
    print('first prediction:', class_names[np.argmax(predictions[0])])
''')


def test_a_tf_keras_fashion_mnist_script_on_both(tmp_path, monkeypatch):
    """Fashion-MNIST from Keras's cache (written here in Keras's format, as a download would
    leave it): Keras 3 and kconv read the same arrays and train the same network."""
    from tests.kconv.datasets.test_keras_cache import write_fashion
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))  # kconv's
    monkeypatch.setattr(keras.src.backend.config, "_KERAS_DIR", str(tmp_path))  # Keras's
    write_fashion(tmp_path / "datasets", n_train=64, n_test=16)
    source = TF_KERAS_FASHION.replace("import tensorflow as tf\n", "")
    theirs, ours = run_both(source)
    np.testing.assert_array_equal(ours["train_images"], theirs["train_images"])
    assert ours["model"].count_params() == theirs["model"].count_params()
    assert ours["predictions"].shape == theirs["predictions"].shape == (16, 10)


MIXED_PRECISION_GUIDE = textwrap.dedent('''
    from tensorflow import keras
    from tensorflow.keras import layers
    from tensorflow.keras import mixed_precision

    mixed_precision.set_global_policy("mixed_float16")
    inputs = keras.Input(shape=(28, 28, 1), name="digits")
    x = layers.Conv2D(16, 3, activation="relu", name="conv")(inputs)
    x = layers.MaxPooling2D()(x)
    x = layers.Flatten()(x)
    x = layers.Dense(64, activation="relu", name="dense_1")(x)
    x = layers.Dense(10, name="dense_logits")(x)
    outputs = layers.Activation("softmax", dtype="float32", name="predictions")(x)
    model = keras.Model(inputs=inputs, outputs=outputs)
    print("Compute dtype:", model.get_layer("conv").dtype_policy.compute_dtype)
    print("Variable dtype:", model.get_layer("conv").dtype_policy.variable_dtype)
    model.compile(loss="sparse_categorical_crossentropy",
                  optimizer=keras.optimizers.RMSprop(), metrics=["accuracy"])

    (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
    x_train = x_train.reshape(-1, 28, 28, 1).astype("float32") / 255
    x_test = x_test.reshape(-1, 28, 28, 1).astype("float32") / 255
    history = model.fit(x_train, y_train, batch_size=64, epochs=2, validation_split=0.2)
    test_scores = model.evaluate(x_test, y_test, verbose=2)
    mixed_precision.set_global_policy("float32")
''')


def test_the_mixed_precision_guide_pattern_on_both(mnist_slice_loader, capsys):
    """TensorFlow's mixed-precision guide as people copy it (a float16 global policy, the
    final softmax in float32, loss scaling added by compile), on Keras 3 and on kconv."""
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # float16 emulated on this CPU
        theirs, ours = run_both(MIXED_PRECISION_GUIDE)
    for result in (theirs, ours):
        model = result["model"]
        assert [layer.dtype_policy.name for layer in model.layers[1:]] == \
            ["mixed_float16"] * 5 + ["float32"]
        assert type(model.optimizer).__name__ == "LossScaleOptimizer"
        assert set(result["history"].history) == {"loss", "accuracy", "val_loss",
                                                  "val_accuracy"}
    assert ours["model"].count_params() == theirs["model"].count_params()
    assert ours["test_scores"][1] > 0.8
    assert abs(ours["test_scores"][1] - theirs["test_scores"][1]) < 0.05
    assert capsys.readouterr().out.count("Compute dtype: float16") == 2


KERAS_IO_FROM_SCRATCH = textwrap.dedent('''
    import numpy as np
    import keras
    from keras import layers
    from tensorflow import data as tf_data

    image_size = (24, 24)
    batch_size = 4
    train_ds, val_ds = keras.utils.image_dataset_from_directory(
        data_dir, validation_split=0.25, subset="both", seed=1337, image_size=image_size,
        batch_size=batch_size)
    data_augmentation_layers = [layers.RandomFlip("horizontal"), layers.RandomRotation(0.1)]

    def data_augmentation(images):
        for layer in data_augmentation_layers:
            images = layer(images)
        return images

    train_ds = train_ds.map(lambda img, label: (data_augmentation(img), label),
                            num_parallel_calls=tf_data.AUTOTUNE)
    train_ds = train_ds.prefetch(tf_data.AUTOTUNE)
    val_ds = val_ds.prefetch(tf_data.AUTOTUNE)

    def make_model(input_shape, num_classes):
        inputs = keras.Input(shape=input_shape)
        x = layers.Rescaling(1.0 / 255)(inputs)
        x = layers.Conv2D(8, 3, strides=2, padding="same")(x)
        x = layers.BatchNormalization()(x)
        x = layers.Activation("relu")(x)
        previous_block_activation = x
        for size in [16]:
            x = layers.Activation("relu")(x)
            x = layers.SeparableConv2D(size, 3, padding="same")(x)
            x = layers.BatchNormalization()(x)
            x = layers.MaxPooling2D(3, strides=2, padding="same")(x)
            residual = layers.Conv2D(size, 1, strides=2, padding="same")(
                previous_block_activation)
            x = layers.add([x, residual])
            previous_block_activation = x
        x = layers.GlobalAveragePooling2D()(x)
        units = 1 if num_classes == 2 else num_classes
        outputs = layers.Dense(units, activation=None)(x)
        return keras.Model(inputs, outputs)

    model = make_model(input_shape=image_size + (3,), num_classes=2)
    callbacks = [keras.callbacks.ModelCheckpoint(save_dir + "/save_at_{epoch}.keras")]
    model.compile(optimizer=keras.optimizers.Adam(3e-4),
                  loss=keras.losses.BinaryCrossentropy(from_logits=True),
                  metrics=[keras.metrics.BinaryAccuracy(name="acc")])
    history = model.fit(train_ds, epochs=2, callbacks=callbacks, validation_data=val_ds)
    img = keras.utils.load_img(sample_path, target_size=image_size)
    img_array = keras.utils.img_to_array(img)
    img_array = keras.ops.expand_dims(img_array, 0)
    predictions = model.predict(img_array)
    score = float(keras.ops.sigmoid(predictions[0][0]))
    print(f"This image is {100 * (1 - score):.2f}% cat and {100 * score:.2f}% dog.")
''')


def run_keras_io_pattern_on_kconv(folder):
    data_dir = folder / "data"
    given = dict(data_dir=str(data_dir), save_dir=str(folder),
                 sample_path=str(data_dir / "dogs" / "0.png"))
    kconv.utils.set_random_seed(1)
    return run(port(KERAS_IO_FROM_SCRATCH), **given)


def test_the_keras_io_image_classification_from_scratch_pattern(two_class_folder, capsys):
    """keras.io's Keras 3 pattern, shrunk, with its imports rewritten: a dataset from the
    folder, augmentation mapped over it, a residual separable-conv network ending in a
    logit, checkpoints per epoch, and a prediction on one image loaded from its file.
    (Keras 3 needs TensorFlow for image_dataset_from_directory: the comparison with Keras
    on TensorFlow is the next test.)"""
    ours = run_keras_io_pattern_on_kconv(two_class_folder)
    out = capsys.readouterr().out
    assert "Found 16 files belonging to 2 classes." in out
    assert "Using 12 files for training." in out and "Using 4 files for validation." in out
    assert set(ours["history"].history) == {"loss", "acc", "val_loss", "val_acc"}
    assert "% cat and " in out and ours["predictions"].shape == (1, 1)
    for epoch in (1, 2):
        again = keras.models.load_model(str(two_class_folder / f"save_at_{epoch}.keras"))
        assert again.count_params() == ours["model"].count_params()


TENSORFLOW_RUN = textwrap.dedent('''
    import json, sys
    data_dir, save_dir, sample_path, kconv_checkpoint = sys.argv[1:5]
    exec(compile(open(sys.argv[5]).read(), "<keras script>", "exec"))
    mine = keras.models.load_model(kconv_checkpoint)
    print("RESULT " + json.dumps({
        "history": sorted(history.history), "params": model.count_params(),
        "prediction": float(predictions[0][0]),
        "kconv_checkpoint_prediction": mine.predict(img_array, verbose=0).tolist(),
        "image": keras.ops.convert_to_numpy(img_array).tolist()}))
''')


@pytest.mark.skipif(not os.environ.get("KCONV_TF_PYTHON"),
                    reason="set KCONV_TF_PYTHON to a Python with tensorflow-cpu (Keras 3 needs "
                    "TensorFlow for image_dataset_from_directory)")
def test_the_keras_io_pattern_on_keras_with_tensorflow(two_class_folder, capsys, tmp_path):
    """The keras.io pattern as written (``from tensorflow import data``) on Keras 3 with
    TensorFlow, in its own process, against kconv with the imports rewritten: the same
    dataset report, History keys, parameters and printout; each one's checkpoint opens in
    the other with the other's predictions on the same image."""
    ours = run_keras_io_pattern_on_kconv(two_class_folder)
    our_out = capsys.readouterr().out
    theirs_dir = tmp_path / "tensorflow"
    theirs_dir.mkdir()
    (tmp_path / "script.py").write_text(KERAS_IO_FROM_SCRATCH)
    (tmp_path / "run.py").write_text(TENSORFLOW_RUN)
    data_dir = two_class_folder / "data"
    env = dict(os.environ, KERAS_BACKEND="tensorflow", CUDA_VISIBLE_DEVICES="",
               TF_CPP_MIN_LOG_LEVEL="3", KERAS_HOME=str(tmp_path / "keras_home"))
    done = subprocess.run(
        [os.environ["KCONV_TF_PYTHON"], str(tmp_path / "run.py"), str(data_dir),
         str(theirs_dir), str(data_dir / "dogs" / "0.png"),
         str(two_class_folder / "save_at_2.keras"), str(tmp_path / "script.py")],
        env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.split("RESULT ", 1)[1].splitlines()[0])
    for line in ("Found 16 files belonging to 2 classes.", "Using 12 files for training.",
                 "Using 4 files for validation."):
        assert line in done.stdout and line in our_out
    assert result["history"] == sorted(ours["history"].history)
    assert result["params"] == ours["model"].count_params()
    assert "% cat and " in done.stdout
    image = np.asarray(result["image"], dtype="float32")
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(ours["img_array"]), image)
    np.testing.assert_allclose(result["kconv_checkpoint_prediction"],
                               ours["model"].predict(image, verbose=0), rtol=1e-4, atol=1e-5)
    theirs = kconv.models.load_model(str(theirs_dir / "save_at_2.keras"))
    np.testing.assert_allclose(theirs.predict(image, verbose=0)[0, 0], result["prediction"],
                               rtol=1e-4, atol=1e-5)
