"""The seeds' Keras training scripts, run twice: as Keras code on Keras 3 (the oracle), and
with only their import lines rewritten for kconv (``tests.keras_oracle.port``). Both must
run to the end and report the same things; kconv must learn what Keras learns.

MNIST comes from kconv's embedded copy for both (Keras would download it): the scripts'
``mnist.load_data`` is patched to a slice, so the default suite stays fast; the data
itself is the real MNIST."""

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
