"""Train the tutorials' networks from the command line, the Keras way.

Examples:
    python train.py                                   # MNIST CNN on the embedded MNIST, 5 epochs
    python train.py --dataset path/to/101_ObjectCategories --plot plot.png   # StridedNet tutorial
    python train.py --dataset cifar10 --model cifar_ex7 --epochs 30
    python train.py --dataset cifar10 --ablation --epochs 30   # the ten Conv2D variants
    python train.py --dataset fake --model cifar_ex1,cifar_ex4 # compare any networks
    python train.py --dataset fake --epochs 2 --fast-dev-run
    python train.py --resume                          # continue the run in --out-dir
    python train.py --devices 2 --strategy ddp --accelerator cpu

Results go to --out-dir: metrics.csv, report.txt, report.json, plot.png, config.json and
checkpoints/{last,best}.ckpt; with several models, one such folder per model plus
ablation.csv, ablation.md and ablation_val_{acc,loss}.png. Every file is written atomically.
"""

import argparse
import contextlib
import gc
import logging
import os
import re
import sys
import warnings

import torch

import models
from kconv import mixed_precision, optimizers
from kconv.datasets import BUILTIN, load_dataset
from kconv.trainers.errors import Diverged
from kconv.utils.file_utils import FolderInUseError, folder_lock
from kconv.utils.memory_utils import retain_freed_memory
from kconv.validation import InputTooSmallError
from models.cifar import VARIANTS

# Lightning's own use of a deprecated torch API; nothing a user can act on.
warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\)")

# Each dataset's tutorial recipe (the StridedNet tutorial for image folders, the Keras
# CIFAR-10 example, the MNIST lecture); flags left unset take these values.
RECIPES = {
    "mnist": dict(model="mnist_cnn", epochs=5, batch_size=64, optimizer="rmsprop", lr=1e-3,
                  decay=0.0, augment=False, image_size=None),
    "cifar10": dict(model="cifar_ex1", epochs=10, batch_size=32, optimizer="rmsprop", lr=1e-4,
                    decay=1e-6, augment=True, image_size=None),
    "fake": dict(model="mnist_cnn", epochs=2, batch_size=32, optimizer="adam", lr=1e-3,
                 decay=0.0, augment=False, image_size=(32, 32)),
    "folder": dict(model="stridednet", epochs=50, batch_size=32, optimizer="adam", lr=1e-4,
                   decay="lr/epochs", augment=True, image_size=(96, 96)),
}
AUGMENTATION = {
    "cifar10": dict(width_shift_range=0.1, height_shift_range=0.1, horizontal_flip=True),
    "folder": dict(rotation_range=20, zoom_range=0.15, width_shift_range=0.2,
                   height_shift_range=0.2, shear_range=0.15, horizontal_flip=True,
                   fill_mode="nearest"),
}


def _per_dataset(key, show=str):
    """The recipes' values of ``key`` for --help: 'default per dataset: mnist 5, cifar10 10,
    fake 2, folders 50'."""
    values = (f"{'folders' if kind == 'folder' else kind} {show(recipe[key])}"
              for kind, recipe in RECIPES.items())
    return "default per dataset: " + ", ".join(values)


def _show_size(size):
    return "own size" if size is None else "x".join(map(str, size))


def _show_switch(on):
    return "on" if on else "off"


class UserError(Exception):
    """A mistake in the command line or the data: reported in one line, no traceback."""


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter,
                    argparse.RawDescriptionHelpFormatter):
    """Defaults shown (those of the recipes in the help text itself), examples kept as
    written."""

    def _get_help_string(self, action):
        if action.default is None:
            return action.help
        return super()._get_help_string(action)


class Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UserError(message)


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _non_negative_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a non-negative number, got {text!r}")
    return value


def _image_size(text):
    parts = text.lower().replace("x", ",").split(",")
    try:
        size = tuple(int(p) for p in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected N or HxW, got {text!r}") from None
    if len(size) == 1:
        size = size * 2
    if len(size) != 2 or min(size) < 1:
        raise argparse.ArgumentTypeError(f"expected N or HxW with positive sizes, got {text!r}")
    return size


def _models(text):
    names = [n.strip() for n in text.split(",") if n.strip()]
    valid = models.list_models()
    for name in names:
        if name not in valid:
            raise argparse.ArgumentTypeError(f"invalid choice: {name!r} (choose from "
                                             f"{', '.join(valid)})")
    if not names:
        raise argparse.ArgumentTypeError(f"expected a model name, got {text!r}")
    return names


def _devices(text):
    return text if text == "auto" else _positive_int(text)


def _classes(text):
    names = [c.strip() for c in text.split(",") if c.strip()]
    if len(names) < 2:
        raise argparse.ArgumentTypeError(f"expected at least two comma-separated class names, "
                                         f"got {text!r}")
    return names


def build_parser():
    parser = Parser(prog="train.py", description=__doc__.split("\n\n")[0],
                    epilog=__doc__.split("\n\n", 1)[1],
                    formatter_class=lambda prog: HelpFormatter(prog, max_help_position=32))
    data = parser.add_argument_group("data")
    data.add_argument("--dataset", default="mnist",
                      help="mnist, cifar10 (files under $KCONV_CIFAR10 or data/cifar10), fake, "
                           "or a folder of class sub-folders")
    data.add_argument("--classes", type=_classes,
                      help="comma-separated class names to keep (a CALTECH-101 folder defaults "
                           "to the tutorial's Faces,Leopards,Motorbikes,airplanes)")
    data.add_argument("--image-size", type=_image_size,
                      help=f"resize to N or HxW ({_per_dataset('image_size', _show_size)})")
    data.add_argument("--test-size", type=_non_negative_float, default=0.25,
                      help="test share of a folder dataset (stratified)")
    data.add_argument("--augment", action=argparse.BooleanOptionalAction, default=None,
                      help="ImageDataGenerator augmentation "
                           f"({_per_dataset('augment', _show_switch)})")
    data.add_argument("--download", action="store_true",
                      help="fetch CIFAR-10 into its folder when the files are missing")
    data.add_argument("--cache-dir",
                      help="where a folder's decoded images are cached for later runs and DDP "
                           "processes (default $KCONV_CACHE_DIR, else "
                           "$XDG_CACHE_HOME/kconv/images or ~/.cache/kconv/images)")
    data.add_argument("--no-cache", action="store_true",
                      help="decode a folder into memory only, neither reading nor writing the "
                           "cache")
    data.add_argument("--seed", type=int, default=42, help="seed of the split and training")
    train = parser.add_argument_group("model and training")
    train.add_argument("--model", type=_models,
                       help="network, or comma-separated networks to compare "
                            f"({_per_dataset('model')}); one of "
                            f"{', '.join(models.list_models())}")
    train.add_argument("--ablation", action="store_true",
                       help="train the ten CIFAR-10 ablation CNNs (cifar_ex1..cifar_ex10) with "
                            "one recipe and compare them")
    train.add_argument("--epochs", type=_positive_int, help=f"epochs ({_per_dataset('epochs')})")
    train.add_argument("--batch-size", type=_positive_int,
                       help=f"batch size ({_per_dataset('batch_size')})")
    train.add_argument("--optimizer", choices=optimizers.names(),
                       help=f"Keras optimizer ({_per_dataset('optimizer')})")
    train.add_argument("--lr", type=_non_negative_float,
                       help=f"learning rate ({_per_dataset('lr')})")
    train.add_argument("--decay", type=_non_negative_float,
                       help=f"Keras 2 legacy per-step decay ({_per_dataset('decay')})")
    train.add_argument("--data-format", choices=("channels_last", "channels_first"),
                       default="channels_last", help="layout of the network")
    out = parser.add_argument_group("output")
    out.add_argument("--out-dir", help="results folder (default runs/<dataset>)")
    out.add_argument("--plot", help="path of the loss/accuracy plot (default <out-dir>/plot.png)")
    out.add_argument("--resume", action="store_true",
                     help="continue from <out-dir>/checkpoints/last.ckpt")
    out.add_argument("--verbose", action="store_true",
                     help="show Lightning's own messages (devices found, tips)")
    hw = parser.add_argument_group("hardware")
    hw.add_argument("--accelerator", default="auto", choices=("auto", "cpu", "gpu", "cuda"),
                    help="where to train")
    hw.add_argument("--devices", type=_devices, default=1, help="number of devices, or auto")
    hw.add_argument("--num-nodes", type=_positive_int, default=1, help="nodes for DDP")
    hw.add_argument("--strategy", default="auto", help="auto, ddp, ...")
    hw.add_argument("--precision", default="32-true",
                    choices=("32-true", "bf16-mixed", "16-mixed", "32", "bf16", "16"),
                    help="Lightning precision")
    hw.add_argument("--compile", nargs="?", const="on", default="auto",
                    choices=("auto", "on", "off"),
                    help="torch.compile the training step: 'auto' (the default) decides as "
                         "model.compile(jit_compile='auto') does (never on a CPU, where it "
                         "measured slower; on CUDA for runs of 1000 steps or more); a bare "
                         "--compile is 'on'")
    hw.add_argument("--fast-dev-run", action="store_true",
                    help="one training and one test batch, nothing written")
    return parser


def resolve(args):
    """Fill unset flags from the dataset's recipe; returns the resolved configuration."""
    kind = args.dataset if args.dataset in BUILTIN else "folder"
    recipe = RECIPES[kind]
    config = dict(vars(args))
    for key in ("epochs", "batch_size", "optimizer", "lr", "decay", "augment", "image_size"):
        if config[key] is None:
            config[key] = recipe[key]
    if config["ablation"]:
        config["models"] = list(VARIANTS)
    else:
        config["models"] = config["model"] or [recipe["model"]]
    config["model"] = config["models"][0]
    if config["decay"] == "lr/epochs":
        config["decay"] = config["lr"] / config["epochs"]
    config["augmentation"] = AUGMENTATION.get(kind) if config["augment"] else None
    config["out_dir"] = config["out_dir"] or os.path.join("runs", os.path.basename(
        os.path.normpath(args.dataset)))
    config["plot"] = config["plot"] or os.path.join(config["out_dir"], "plot.png")
    return config


def _import_lightning():
    import lightning  # noqa: F401


def load_data(config):
    """The run's data module, its dataset decoded once (for every variant of an ablation).
    Lightning is imported meanwhile: in a thread while a folder is decoded, which hides
    that import's seconds on a first run."""
    if config["accelerator"] in ("gpu", "cuda") and not torch.cuda.is_available():
        raise UserError(f"--accelerator {config['accelerator']}: no CUDA GPU is available on "
                        "this machine")
    if config["dataset"] not in BUILTIN and not os.path.isdir(config["dataset"]):
        raise UserError(f"dataset folder not found: {config['dataset']} (built-in datasets: "
                        f"{', '.join(BUILTIN)})")
    try:
        bundle = load_dataset(config["dataset"], image_size=config["image_size"],
                              classes=config["classes"], test_size=config["test_size"],
                              seed=config["seed"], download=config["download"],
                              cache=not config["no_cache"], cache_dir=config["cache_dir"],
                              meanwhile=_import_lightning)
    except (ValueError, TypeError, FileNotFoundError) as e:
        raise UserError(str(e).splitlines()[0]) from None
    from kconv.datasets import ImageDataModule
    return ImageDataModule.from_bundle(bundle, seed=config["seed"],
                                       batch_size=config["batch_size"])


def setup(config, data):
    """Build the system and the trainer: everything that can fail on bad input, before
    anything is written."""
    import lightning as L
    from lightning.pytorch.callbacks import ModelCheckpoint, TQDMProgressBar
    from kconv.trainers import AtomicCheckpointIO, EpochSeed, History, StopOnDivergence

    h, w, c = data.bundle.image_shape
    try:
        system = models.ClassifierSystem(
            config["model"], model_kwargs=dict(classes=len(data.bundle.class_names),
                                               input_shape=(h, w, c),
                                               data_format=config["data_format"]),
            optimizer=config["optimizer"],
            optimizer_kwargs=dict(learning_rate=config["lr"], decay=config["decay"]),
            class_names=data.bundle.class_names, augment=config["augmentation"],
            compile={"on": True, "off": False}.get(config["compile"], "auto"))
    except InputTooSmallError as e:
        raise UserError(f"images of {h}x{w} are too small for {config['model']}: {e}") from None
    # One progress bar whatever is installed (Lightning picks Rich's when Rich, which Keras
    # brings, is importable): tqdm's, as the folder's decoding shows.
    callbacks = [EpochSeed(config["seed"]), StopOnDivergence(), TQDMProgressBar()]
    if not config["fast_dev_run"]:
        folder = os.path.join(config["out_dir"], "checkpoints")
        callbacks += [
            History(os.path.join(config["out_dir"], "metrics.csv"), config["plot"]),
            ModelCheckpoint(folder, filename="best", monitor="val_acc", mode="max",
                            save_on_train_epoch_end=True, enable_version_counter=False),
            # Lightning refreshes save_last only with a new best; this one writes every epoch.
            ModelCheckpoint(folder, filename="last", save_on_train_epoch_end=True,
                            enable_version_counter=False)]
    half = {"bf16": torch.bfloat16, "16": torch.float16}.get(
        str(config["precision"]).split("-")[0])
    on_cpu = config["accelerator"] == "cpu" or (config["accelerator"] == "auto"
                                                and not torch.cuda.is_available())
    if half is not None and on_cpu:
        mixed_precision.warn_if_slow("cpu", half)  # once: emulated half is slow
    trainer = L.Trainer(accelerator=config["accelerator"], devices=config["devices"],
                        num_nodes=config["num_nodes"], strategy=config["strategy"],
                        precision=config["precision"], max_epochs=config["epochs"],
                        fast_dev_run=config["fast_dev_run"], logger=False,
                        benchmark=True,  # cuDNN picks its fastest kernels, as TensorFlow does
                        enable_model_summary=False, callbacks=callbacks,
                        plugins=[AtomicCheckpointIO()], default_root_dir=config["out_dir"])
    return system, trainer


def _check_resumable(path):
    """--resume needs a checkpoint that loads with ``weights_only=True`` (tensors and plain
    values: what train.py writes); anything else is refused in one line, unexecuted."""
    if not os.path.isfile(path):
        raise UserError(f"--resume: no checkpoint at {path}")
    try:
        torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - every reason becomes one line
        found = re.search(r"GLOBAL ([\w.]+)", str(e))
        reason = (f"it holds a Python object ({found.group(1)}), not only tensors and plain "
                  f"values" if found else str(e).splitlines()[0] or type(e).__name__)
        raise UserError(f"--resume: {path} cannot be loaded safely: {reason}; only "
                        f"checkpoints written by train.py can be resumed") from None


def run(config, data):
    """Train and test one network on the data module ``data``; returns the trained system."""
    import lightning as L
    from lightning.fabric.utilities.exceptions import MisconfigurationException
    from kconv.trainers.results import report_text
    from kconv.utils import atomic_write_json, atomic_write_text

    L.seed_everything(config["seed"], verbose=False)
    try:
        system, trainer = setup(config, data)
    except (ValueError, TypeError, FileNotFoundError, MisconfigurationException) as e:
        raise UserError(str(e).splitlines()[0]) from None
    last = os.path.join(config["out_dir"], "checkpoints", "last.ckpt")
    if config["resume"]:
        _check_resumable(last)
    writes = trainer.is_global_zero and not config["fast_dev_run"]
    if trainer.is_global_zero:
        print(data.bundle.description, file=sys.stderr)
        system.model.summary()
    if writes:
        atomic_write_json(os.path.join(config["out_dir"], "config.json"), dict(config))
    try:
        trainer.fit(system, datamodule=data, ckpt_path=last if config["resume"] else None,
                    weights_only=True)
    except Diverged as e:
        if writes:
            report = {"diverged": True, "epoch": e.epoch, "step": e.step,
                      "learning_rate": e.learning_rate, "message": str(e)}
            atomic_write_text(os.path.join(config["out_dir"], "report.txt"),
                              f"The run diverged: {e}.\n")
            atomic_write_json(os.path.join(config["out_dir"], "report.json"), report)
        raise
    trainer.test(system, datamodule=data, verbose=False)
    if trainer.is_global_zero:
        text = report_text(system.test_report)
        print(text)
        if writes:
            atomic_write_text(os.path.join(config["out_dir"], "report.txt"), text)
            atomic_write_json(os.path.join(config["out_dir"], "report.json"),
                              system.test_report)
    return system


def run_ablation(config, data):
    """Train every network of ``config["models"]`` into its own sub-folder, then write the
    comparison; a failing variant is recorded and the others still run."""
    from kconv.trainers.comparison import markdown, read_history, summarize, write_comparison

    rows, histories = [], {}
    for name in config["models"]:
        variant = dict(config, model=name, out_dir=os.path.join(config["out_dir"], name),
                       plot=os.path.join(config["out_dir"], name, "plot.png"))
        finished = os.path.isfile(os.path.join(variant["out_dir"], "report.json"))
        variant["resume"] = config["resume"] and os.path.isfile(
            os.path.join(variant["out_dir"], "checkpoints", "last.ckpt"))
        error, parameters = None, None
        try:
            if config["resume"] and finished:
                model = models.get_model(name, classes=len(data.bundle.class_names),
                                         input_shape=data.bundle.image_shape)
            else:
                model = run(variant, data).model
            parameters = model.count_params()
        except Exception as e:  # noqa: BLE001 - one variant's failure must not stop the rest
            error = str(e).splitlines()[0] if str(e) else type(e).__name__
            print(f"train.py: variant {name} failed: {error}", file=sys.stderr)
        histories[name] = read_history(os.path.join(variant["out_dir"], "metrics.csv"))
        rows.append(summarize(name, models.describe(name), parameters, histories[name], error))
    if not config["fast_dev_run"]:
        write_comparison(config["out_dir"], rows, histories)
    print(markdown(rows))
    return rows


def _results_lock(config):
    """One run per results folder: its lock, held by the launching process (not by the DDP
    processes Lightning starts, nor by --fast-dev-run, which writes nothing)."""
    out = config["out_dir"]
    if os.path.exists(out) and not os.path.isdir(out):
        raise UserError(f"--out-dir {out} exists and is not a folder")
    child = os.environ.get("LOCAL_RANK", "0") != "0" or os.environ.get("NODE_RANK", "0") != "0"
    if config["fast_dev_run"] or child:
        return contextlib.nullcontext()
    return folder_lock(out)


def main(argv=None):
    try:
        config = resolve(build_parser().parse_args(argv))
        retain_freed_memory()  # before the decoding workers are forked: they inherit it
        with _results_lock(config):
            data = load_data(config)  # imports Lightning
            # Lightning's info lines (GPU/TPU available, tips) say nothing a user can act
            # on; its import sets its loggers' level, so quiet them after it.
            logging.getLogger("lightning.pytorch").setLevel(
                logging.INFO if config["verbose"] else logging.WARNING)
            if len(config["models"]) > 1:
                return run_ablation(config, data)
            return run(config, data)
    except FolderInUseError as e:
        print(f"train.py: error: --out-dir {e}", file=sys.stderr)
        raise SystemExit(2) from None
    except UserError as e:
        print(f"train.py: error: {e}", file=sys.stderr)
        raise SystemExit(2) from None
    except Diverged as e:
        print(f"train.py: error: {e}", file=sys.stderr)
        raise SystemExit(3) from None


if __name__ == "__main__":
    try:
        main()
    finally:
        # The process ends here. Python's exit would sweep every object torch, Lightning
        # and SciPy made for reference cycles, 1-1.5 s on 2 cores (benchmarks/README.md);
        # objects are still released, and files were closed by main.
        gc.freeze()
