"""kconv.data.Dataset: tf.data's methods that keras.io's image examples call, with
tf.data's semantics (lengths, re-iteration, shuffling), and fit on a dataset."""

import numpy as np
import pytest
import torch

import kconv
from kconv.data import AUTOTUNE, Dataset

X = np.arange(20, dtype="float32").reshape(10, 2)
Y = np.arange(10) % 3


def elements(dataset):
    return [tuple(t.tolist() for t in e) if isinstance(e, tuple) else e.tolist()
            for e in dataset]


def test_batch_unbatch_take_skip_and_lengths():
    ds = Dataset.from_tensor_slices((X, Y))
    assert len(ds) == 10 and ds.cardinality() == 10
    batched = ds.batch(4)
    assert len(batched) == 3 and [len(x) for x, _ in batched] == [4, 4, 2]
    assert len(ds.batch(4, drop_remainder=True)) == 2
    assert elements(batched.unbatch()) == elements(ds) and len(batched.unbatch()) == 10
    assert elements(ds.take(3)) == elements(ds)[:3] and len(ds.take(3)) == 3
    assert elements(ds.skip(8)) == elements(ds)[8:] and len(ds.skip(8)) == 2
    assert len(ds.take(-1)) == 10 and len(ds.repeat(3)) == 30
    assert elements(ds.take(2).repeat(2)) == elements(ds)[:2] * 2
    only = Dataset.from_tensor_slices(X)
    assert elements(only.batch(5).take(1))[0] == X[:5].tolist()
    filtered = ds.filter(lambda x, y: y == 0)
    assert [y for _, y in elements(filtered)] == [0, 0, 0, 0] and filtered.cardinality() == -2
    with pytest.raises(TypeError, match="unknown"):
        len(filtered)


def test_map_prefetch_cache_and_numpy():
    ds = Dataset.from_tensor_slices((X, Y)).batch(5)
    doubled = ds.map(lambda x, y: (x * 2, y), num_parallel_calls=AUTOTUNE).prefetch(AUTOTUNE)
    assert torch.equal(next(iter(doubled))[0], torch.from_numpy(X[:5] * 2))
    calls = []
    cached = ds.map(lambda x, y: (calls.append(1) or x, y)).cache()
    assert elements(cached) == elements(cached) == elements(ds) and len(calls) == 2
    x, y = next(ds.as_numpy_iterator())
    assert isinstance(x, np.ndarray) and x.shape == (5, 2)


def test_shuffle_is_a_permutation_reshuffled_each_pass_and_seeded():
    ds = Dataset.from_tensor_slices(np.arange(50)).shuffle(10, seed=4)
    first, second = elements(ds), elements(ds)
    assert sorted(first) == list(range(50)) and first != second and first != list(range(50))
    again = Dataset.from_tensor_slices(np.arange(50)).shuffle(10, seed=4)
    assert elements(again) == first
    fixed = Dataset.from_tensor_slices(np.arange(50)).shuffle(
        10, seed=4, reshuffle_each_iteration=False)
    assert elements(fixed) == elements(fixed)
    # a buffer of 10 moves an element at most 9 places earlier
    assert all(position >= value - 9 for position, value in enumerate(first))


def test_fit_evaluate_predict_take_a_dataset():
    model = kconv.Sequential([kconv.Input((2,)), kconv.layers.Dense(3, activation="softmax")])
    model.compile("sgd", "sparse_categorical_crossentropy", metrics=["accuracy"])
    ds = Dataset.from_tensor_slices((X, Y)).shuffle(10, seed=0).batch(4)
    history = model.fit(ds, epochs=2, validation_data=ds, verbose=0)
    assert len(history.history["loss"]) == 2
    assert model.predict(Dataset.from_tensor_slices(X).batch(3), verbose=0).shape == (10, 3)
    assert len(model.evaluate(ds, verbose=0)) == 2


def test_bad_arguments():
    ds = Dataset.from_tensor_slices(X)
    with pytest.raises(ValueError, match="batch_size"):
        ds.batch(0)
    with pytest.raises(TypeError, match="map_func"):
        ds.map("double")
    with pytest.raises(ValueError, match="differ in length"):
        Dataset.from_tensor_slices((X, Y[:3]))
