import json
import os
import stat

import pytest

from kconv.utils import atomic_path, atomic_write_json, atomic_write_text


def test_writes_appear_whole_and_readable(tmp_path):
    path = tmp_path / "new" / "report.txt"
    atomic_write_text(path, "héllo\n")
    assert path.read_text(encoding="utf-8") == "héllo\n"
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask
    atomic_write_json(tmp_path / "c.json", {"b": 1, "a": [1, 2]})
    assert json.loads((tmp_path / "c.json").read_text()) == {"a": [1, 2], "b": 1}
    assert (tmp_path / "c.json").read_text().startswith('{\n  "a"')


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "weights.h5"
    path.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(path) as tmp:
            with open(tmp, "w") as f:
                f.write("half")
            raise RuntimeError("interrupted")
    assert path.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["weights.h5"]


def test_the_temporary_lives_beside_the_target(tmp_path):
    with atomic_path(tmp_path / "x.bin") as tmp:
        assert os.path.dirname(tmp) == str(tmp_path)
        open(tmp, "wb").close()
    assert (tmp_path / "x.bin").exists()


def test_folder_lock_one_holder_takeover_and_cleanup(tmp_path):
    import socket
    import subprocess

    from kconv.utils.file_utils import FolderInUseError, folder_lock

    folder = tmp_path / "run"
    with folder_lock(folder) as lock:
        assert open(lock).read().split() == [str(os.getpid()), socket.gethostname()]
    assert not folder.exists()  # made for the run, left empty: removed again

    folder.mkdir()
    (folder / "keep.txt").write_text("results")
    (folder / "sub").mkdir()
    (folder / "sub" / ".tmp-x-last.ckpt").write_text("half")
    live = subprocess.Popen(["sleep", "30"])
    try:
        (folder / ".lock").write_text(f"{live.pid} {socket.gethostname()}\n")
        with pytest.raises(FolderInUseError, match=f"in use by another run \\(process "
                                                   f"{live.pid}\\)"):
            with folder_lock(folder):
                pass
        assert (folder / "sub" / ".tmp-x-last.ckpt").exists()  # not touched while held
    finally:
        live.kill()
        live.wait()
    with folder_lock(folder):  # its process is gone: taken over, leftovers removed
        assert not (folder / "sub" / ".tmp-x-last.ckpt").exists()
    assert sorted(os.listdir(folder)) == ["keep.txt", "sub"]
    (folder / ".lock").write_text("123 another-host\n")
    with pytest.raises(FolderInUseError, match="on host another-host"):
        with folder_lock(folder):
            pass
