"""What installing kconv puts on a machine: a light core, and no top-level `models`."""

import os
import shutil
import subprocess
import sys
import zipfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HEAVY = ("lightning", "pytorch_lightning", "torchmetrics", "matplotlib", "torchcodec")


def _imported_after(code):
    """The top-level modules a fresh interpreter has imported after running ``code``."""
    probe = code + "\nimport sys\nprint(' '.join(sorted({m.split('.')[0] for m in sys.modules})))"
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return set(result.stdout.split())


def test_the_core_imports_no_training_stack():
    loaded = _imported_after("import kconv, kconv.layers, kconv.saving, kconv.datasets, "
                             "kconv.augmentation, kconv.utils, models\n"
                             "models.get_model('stridednet')")
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))
    assert "h5py" not in loaded  # imported by the weight-file readers when they run


def test_the_training_engine_is_there_on_first_use():
    loaded = _imported_after("import kconv\nkconv.trainers.ClassifierModule\n"
                             "kconv.datasets.ImageDataModule")
    assert {"lightning", "torchmetrics"} <= loaded


def test_a_wheel_holds_kconv_and_no_top_level_models(tmp_path):
    pytest.importorskip("setuptools")
    source = tmp_path / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(os.path.join(ROOT, name), source / name)
    for name in ("kconv", "models"):
        shutil.copytree(os.path.join(ROOT, name), source / name,
                        ignore=shutil.ignore_patterns("__pycache__"))
    result = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps",
                             "--no-build-isolation", "--no-index", "-q", "-w",
                             str(tmp_path / "dist"), str(source)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    (wheel,) = (tmp_path / "dist").glob("kconv-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top = {name.split("/")[0] for name in names}
    assert {t for t in top if not t.endswith(".dist-info")} == {"kconv"}
    assert "kconv/datasets/data/mnist/train-images-idx3-ubyte.gz" in names
    assert "kconv/trainers/classifier.py" in names and "kconv/utils/file_utils.py" in names
