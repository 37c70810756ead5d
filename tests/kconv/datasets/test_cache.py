"""The decoded-image cache: hits map the file without decoding, any change to the folder or
the size decodes again, writes are atomic, broken entries are rebuilt, an unwritable folder
falls back to memory, and DDP shards of a mapped dataset are disjoint."""

import json
import os
import subprocess
import sys
import time

import pytest
import torch

from kconv.datasets import cache as cache_lib
from kconv.datasets import image_folder, load_dataset, load_image_folder
from kconv.datasets.datamodule import make_loader

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))


def entries(cache_dir):
    return sorted(os.listdir(cache_dir)) if os.path.isdir(cache_dir) else []


def load(root, cache_dir, size=(8, 6), **kwargs):
    return load_image_folder(str(root), size, cache_dir=str(cache_dir), progress=False,
                             **kwargs)


def no_decoding(monkeypatch):
    def refuse(self, i):
        raise AssertionError("decoded although the cache should have answered")
    monkeypatch.setattr(image_folder._Chunks, "__getitem__", refuse)


def mapped_files():
    with open("/proc/self/maps") as f:
        return f.read()


def test_a_second_load_maps_the_cache_without_decoding(tmp_path, write_folder, monkeypatch):
    root, cache_dir = write_folder(tmp_path / "data"), tmp_path / "cache"
    first = load(root, cache_dir)
    assert "decoded with" in first.source and "cached in" in first.source
    [name] = entries(cache_dir)
    assert sorted(os.listdir(cache_dir / name)) == ["images.u8", "labels.npy", "meta.json"]
    no_decoding(monkeypatch)
    second = load(root, cache_dir)
    assert second.source == f"opened from the cache {cache_dir / name}"
    assert torch.equal(first.images, second.images) and torch.equal(first.labels, second.labels)
    assert second.counts == first.counts == {"cats": 3, "dogs": 2}
    assert second.skipped == first.skipped
    if sys.platform.startswith("linux"):  # mapped, not read into memory
        assert str(cache_dir / name / "images.u8") in mapped_files()


def test_the_cache_holds_what_decoding_into_memory_gives(tmp_path, write_folder):
    root = write_folder(tmp_path / "data", counts={"a": 40, "b": 35})  # several chunks
    cached = load(root, tmp_path / "cache")
    plain = load(root, tmp_path / "unused", cache=False, workers=0)
    assert not os.path.exists(tmp_path / "unused")
    assert torch.equal(cached.images, plain.images) and torch.equal(cached.labels, plain.labels)
    assert cached.skipped == plain.skipped and [os.path.basename(p) for p, _ in
                                                plain.skipped] == ["broken.jpg", "notes.txt"]
    assert "(not cached)" in plain.source


def _add(root):
    image = root / "cats" / "0.png"
    (root / "cats" / "new.png").write_bytes(image.read_bytes())


def _remove(root):
    (root / "dogs" / "1.jpg").unlink()


def _change(root):
    # Another image in place of one: new bytes, size and time.
    path = root / "cats" / "0.png"
    path.write_bytes((root / "dogs" / "0.png").read_bytes())
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 10 ** 9))


@pytest.mark.parametrize("change", [_add, _remove, _change])
def test_a_changed_folder_is_decoded_again(tmp_path, write_folder, change):
    root, cache_dir = write_folder(tmp_path / "data"), tmp_path / "cache"
    before = load(root, cache_dir)
    [old] = entries(cache_dir)
    change(root)
    after = load(root, cache_dir)
    assert "decoded with" in after.source
    fresh = load(root, cache_dir, cache=False, workers=0)
    assert torch.equal(after.images, fresh.images) and torch.equal(after.labels, fresh.labels)
    assert after.counts == fresh.counts != before.counts or change is _change
    [new] = entries(cache_dir)  # the changed folder's entry replaced the old one
    assert new != old and new.split("-")[0] == old.split("-")[0]


def test_a_new_image_size_or_class_selection_has_its_own_entry(tmp_path, write_folder):
    root, cache_dir = write_folder(tmp_path / "data"), tmp_path / "cache"
    load(root, cache_dir)
    other = load(root, cache_dir, size=(4, 4))
    assert other.images.shape == (5, 4, 4, 3) and "decoded with" in other.source
    dogs = load(root, cache_dir, classes=["dogs"])
    assert dogs.labels.tolist() == [0, 0]
    assert len(entries(cache_dir)) == 3
    assert "opened from the cache" in load(root, cache_dir, size=(4, 4)).source


def test_a_failed_decode_leaves_nothing_behind(tmp_path, write_folder, monkeypatch):
    root, cache_dir = write_folder(tmp_path / "data", counts={"a": 40, "b": 2}), tmp_path / "c"
    real = image_folder._Chunks.__getitem__

    def fail_later(self, i):
        if i == 1:
            raise KeyboardInterrupt
        return real(self, i)

    monkeypatch.setattr(image_folder._Chunks, "__getitem__", fail_later)
    with pytest.raises(KeyboardInterrupt):
        load(root, cache_dir, workers=0)
    assert entries(cache_dir) == []


KILLED = """
import os, signal, sys
from kconv.datasets import cache, image_folder
cache.commit_entry = lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL)
image_folder.load_image_folder(sys.argv[1], (8, 6), cache_dir=sys.argv[2], progress=False)
"""


def test_a_killed_decode_is_never_trusted(tmp_path, write_folder):
    """A process killed after writing the pixels, before the entry is complete: the next
    load decodes again and removes the dead writer's temporary folder."""
    root, cache_dir = write_folder(tmp_path / "data"), tmp_path / "cache"
    done = subprocess.run([sys.executable, "-c", KILLED, str(root), str(cache_dir)],
                          env={**os.environ, "PYTHONPATH": ROOT}, capture_output=True)
    assert done.returncode == -9
    [leftover] = entries(cache_dir)
    assert leftover.startswith(".") and ".tmp-" in leftover
    assert os.path.getsize(cache_dir / leftover / "images.u8") == 5 * 8 * 6 * 3
    data = load(root, cache_dir)
    assert "decoded with" in data.source
    assert [e for e in entries(cache_dir) if not e.startswith(".")] == entries(cache_dir)


def _truncate(folder):
    with open(folder / "images.u8", "r+b") as f:
        f.truncate(100)


def _garble(folder):
    (folder / "meta.json").write_text("{not json")


def _foreign(folder):
    meta = json.loads((folder / "meta.json").read_text())
    (folder / "meta.json").write_text(json.dumps({**meta, "digest": "0" * 32}))


def _relabel(folder):
    import numpy as np
    labels = np.load(folder / "labels.npy")
    np.save(folder / "labels.npy", labels[::-1].copy())


def _no_labels(folder):
    (folder / "labels.npy").unlink()


@pytest.mark.parametrize("damage", [_truncate, _garble, _foreign, _relabel, _no_labels])
def test_a_broken_cache_is_rebuilt(tmp_path, write_folder, capsys, damage):
    root, cache_dir = write_folder(tmp_path / "data"), tmp_path / "cache"
    good = load(root, cache_dir)
    [name] = entries(cache_dir)
    del good.images  # unmap before damaging
    damage(cache_dir / name)
    rebuilt = load(root, cache_dir)
    assert "decoded with" in rebuilt.source
    assert capsys.readouterr().err.startswith("kconv: rebuilding the image cache: unusable "
                                              f"cache in {cache_dir / name} (")
    assert entries(cache_dir) == [name]
    assert "opened from the cache" in load(root, cache_dir).source
    fresh = load(root, cache_dir, cache=False, workers=0)
    assert torch.equal(rebuilt.images, fresh.images)
    assert torch.equal(rebuilt.labels, fresh.labels)


def test_an_unwritable_cache_folder_falls_back_to_memory(tmp_path, write_folder, capsys):
    root = write_folder(tmp_path / "data")
    (tmp_path / "a_file").write_text("")
    data = load(root, tmp_path / "a_file" / "cache")
    assert data.images.shape == (5, 8, 6, 3) and "(not cached)" in data.source
    err = capsys.readouterr().err
    assert err.startswith(f"kconv: cannot write the image cache in {tmp_path}/a_file/cache: ")
    assert "decoding into memory this time" in err and "--no-cache" in err


def test_default_cache_folder(monkeypatch):
    monkeypatch.setenv("KCONV_CACHE_DIR", "/somewhere")
    assert cache_lib.default_cache_dir() == "/somewhere"
    monkeypatch.delenv("KCONV_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", "/xdg")
    assert cache_lib.default_cache_dir() == "/xdg/kconv/images"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert cache_lib.default_cache_dir() == os.path.expanduser("~/.cache/kconv/images")


def test_ddp_ranks_read_disjoint_shards_of_the_mapped_split(tmp_path, write_folder):
    root = write_folder(tmp_path / "data", counts={"a": 12, "b": 9})
    bundle = load_dataset(str(root), image_size=(8, 6), cache_dir=str(tmp_path / "cache"))
    assert "opened from the cache" in load_dataset(
        str(root), image_size=(8, 6), cache_dir=str(tmp_path / "cache")).description
    seen = []
    for rank in (0, 1):
        loader = make_loader(bundle.images, bundle.labels, 3, shuffle=True, seed=5,
                             num_replicas=2, rank=rank, index=bundle.train)
        rows = []
        for images, labels in loader:
            rows += [int(bundle.images.flatten(1).eq(im.flatten()).all(1).nonzero()[0])
                     for im in images]
        seen.append(rows)
    assert set(seen[0]).isdisjoint(seen[1])
    assert sorted(seen[0] + seen[1]) == bundle.train.tolist()


def test_decoding_shows_progress(tmp_path, write_folder, capsys):
    load_image_folder(str(write_folder(tmp_path / "data")), (8, 6),
                      cache_dir=str(tmp_path / "cache"))
    assert "decoding images" in capsys.readouterr().err
