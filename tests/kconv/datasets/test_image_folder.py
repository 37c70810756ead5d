import multiprocessing
import os
import threading
import time

import pytest
import torch

from kconv.datasets import load_image_folder, resize


def test_image_folder_decodes_resizes_and_reports(tmp_path, write_folder):
    data = load_image_folder(str(write_folder(tmp_path / "data")), (8, 6))
    assert data.images.shape == (5, 8, 6, 3) and data.images.dtype == torch.uint8
    assert data.class_names == ["cats", "dogs"] and data.labels.tolist() == [0, 0, 0, 1, 1]
    assert data.counts == {"cats": 3, "dogs": 2}
    assert sorted(os.path.basename(p) for p, _ in data.skipped) == ["broken.jpg", "notes.txt"]
    assert "skipped 2 unreadable or non-image files" in data.describe()
    only = load_image_folder(str(tmp_path / "data"), (8, 6), classes=["dogs"])
    assert only.class_names == ["dogs"] and only.labels.tolist() == [0, 0]


def test_image_folder_errors(tmp_path, write_folder):
    with pytest.raises(FileNotFoundError, match="Dataset folder not found"):
        load_image_folder(str(tmp_path / "nope"), (8, 8))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="No class sub-folders in"):
        load_image_folder(str(tmp_path / "empty"), (8, 8))
    root = write_folder(tmp_path / "data")
    with pytest.raises(ValueError) as info:
        load_image_folder(str(root), (8, 8), classes=["cats", "birds"])
    assert str(info.value) == f"Unknown classes ['birds'] in {root}; found: cats, dogs"
    (tmp_path / "bad" / "x").mkdir(parents=True)
    (tmp_path / "bad" / "x" / "a.png").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="No readable images"):
        load_image_folder(str(tmp_path / "bad"), (8, 8))


@pytest.mark.parametrize("shape,size", [((3, 28, 28, 1), (32, 32)), ((2, 24, 32, 3), (9, 7)),
                                        ((1, 5, 5, 4), (5, 5))])
def test_resize_is_half_pixel_bilinear_within_one_level(shape, size):
    images = torch.randint(0, 256, shape, dtype=torch.uint8,
                           generator=torch.Generator().manual_seed(0))
    exact = torch.nn.functional.interpolate(images.permute(0, 3, 1, 2).double(), size=size,
                                            mode="bilinear", align_corners=False)
    ours = resize(images, size)
    assert ours.dtype == torch.uint8 and ours.shape == (shape[0], *size, shape[3])
    assert ours.is_contiguous()
    assert (ours.permute(0, 3, 1, 2).double() - exact).abs().max() <= 1


@pytest.mark.parametrize("kwargs,error,message", [
    (dict(image_size=8), TypeError, "Invalid type for argument `image_size`: expected a "
                                    "(height, width) pair. Received: image_size=8 of type int"),
    (dict(image_size=(8, 0)), ValueError, "expected an int >= 1. Received: image_size=0"),
    (dict(image_size=(8, 8), workers=-1), ValueError, "argument `workers`: expected an int "
                                                      ">= 0. Received: workers=-1"),
    (dict(image_size=(8, 8), workers="2"), TypeError, "argument `workers`: expected an int"),
    (dict(image_size=(8, 8), meanwhile="lightning"), TypeError,
     "argument `meanwhile`: expected a function of no arguments or None. "
     "Received: meanwhile='lightning' of type str"),
])
def test_bad_arguments_are_named(tmp_path, write_folder, kwargs, error, message):
    root = write_folder(tmp_path / "data")
    with pytest.raises(error) as info:
        load_image_folder(str(root), **kwargs)
    assert message in str(info.value)


def _where():
    """Where a ``meanwhile`` function runs: (in the main thread, decoding processes alive)."""
    return threading.current_thread() is threading.main_thread(), \
        len(multiprocessing.active_children())


def test_meanwhile_runs_in_a_thread_after_the_workers_are_forked(tmp_path, write_folder):
    root = str(write_folder(tmp_path / "data", counts={"cats": 40, "dogs": 30}))  # 3 chunks
    cache = str(tmp_path / "cache")
    seen = []
    for _ in range(2):  # decoded (and cached), then opened from the cache
        data = load_image_folder(root, (8, 6), workers=2, cache_dir=cache,
                                 meanwhile=lambda: seen.append(_where()))
    assert "opened from the cache" in data.source
    # First in a thread while both workers decode; on the cache hit, here.
    assert seen == [(False, 2), (True, 0)]
    seen.clear()
    load_image_folder(root, (8, 6), workers=2, cache=False,
                      meanwhile=lambda: seen.append(_where()))
    assert seen == [(False, 2)]


def test_meanwhile_error_comes_after_the_load(tmp_path, write_folder):
    root = str(write_folder(tmp_path / "data"))
    cache = str(tmp_path / "cache")

    def fails():
        raise RuntimeError("meanwhile failed")

    with pytest.raises(RuntimeError, match="meanwhile failed"):
        load_image_folder(root, (8, 6), workers=1, cache_dir=cache, meanwhile=fails)
    # The folder was loaded and cached before the error was raised.
    assert "opened from the cache" in load_image_folder(root, (8, 6), cache_dir=cache).source
    with pytest.raises(RuntimeError, match="meanwhile failed"):
        load_image_folder(root, (8, 6), cache_dir=cache, meanwhile=fails)  # the cache hit


def test_a_failed_load_waits_for_meanwhile_and_raises_its_own_error(tmp_path):
    (tmp_path / "bad" / "x").mkdir(parents=True)
    (tmp_path / "bad" / "x" / "a.png").write_bytes(b"garbage")
    done = []

    def slow():
        time.sleep(0.3)
        done.append(True)
        raise RuntimeError("not this one")

    with pytest.raises(ValueError, match="No readable images"):
        load_image_folder(str(tmp_path / "bad"), (8, 8), workers=1, meanwhile=slow)
    assert done == [True]
    done.clear()
    with pytest.raises(FileNotFoundError):  # fails before decoding: not run
        load_image_folder(str(tmp_path / "nope"), (8, 8), meanwhile=slow)
    assert done == []
