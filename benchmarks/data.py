"""The image-folder data path: decoding once in parallel into the memory-mapped cache, and
what DDP processes share of it. Ratios from one run.

1. Start-up on a generated folder (default 12,000 JPEGs of 320x240 in 4 classes), the files
   in the page cache for every contender: a single-threaded PIL decode of every file
   (``Image.open().convert("RGB")``, the baseline, under train.py's allocator policy),
   then ``train.py --fast-dev-run`` on the folder three times, each in a fresh process with
   its wall time from launch to exit: with an empty cache (decodes and writes it), again
   (opens the cache), and with ``--no-cache`` (decodes into memory), ``--rounds`` times
   interleaved; medians are compared, and the ratios of each round shown. Targets: first
   run <= 0.9x the PIL decode, second run <= 0.5x the first (together: second run <= 0.45x
   the PIL decode). Each round also times what the second run's fixed start-up is made of
   (``import torch``, then ``import lightning``, in a fresh process) and the data path alone:
   the warm cache opened by ``load_image_folder`` in a process that has imported kconv, and
   the first run's decode and write estimated as first run - second run + that opening.
2. Memory of DDP's data path: the epoch that each DDP process of a run reads, without the
   network (whose per-process memory is the same with any data path): processes that import
   Lightning and kconv, load the folder at ``--mem-size`` (default 224x224: a decoded size
   several times a torch process's own footprint) through ``ImageDataModule``, and read
   every batch of their shard of the training split and of the test split, as ranks of a
   world of one or of two. With the cache warm, then with ``--no-cache`` (each process
   decodes its own copy, the path before the cache) for contrast. Method: every 0.1 s, the
   proportional set size (PSS, /proc/PID/smaps_rollup: a page shared by several processes
   is divided among them, so a page of the cache counts once in the sum) of the processes
   and their descendants is summed; the peak of that sum is reported. Target: two processes
   <= 1.3x one process.

Run: python benchmarks/data.py [--folder PATH] [--count 12000] [--mem-size 224]
     [--rounds 3] [--skip-memory]
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLASSES = ("alpha", "beta", "gamma", "delta")


def make_folder(folder, count, size=(240, 320)):
    """``count`` JPEGs of ``size`` (H, W): smooth random colour fields with noise, so
    their files are as large and as slow to decode as photographs' (~15-25 KB)."""
    from PIL import Image

    done = os.path.join(folder, ".complete")
    if os.path.exists(done):
        return folder
    rng = np.random.default_rng(0)
    h, w = size
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    for i in range(count):
        cls = CLASSES[i % len(CLASSES)]
        os.makedirs(os.path.join(folder, cls), exist_ok=True)
        a, b, c = rng.uniform(0.005, 0.05, 3)
        base = np.stack([np.sin(a * xx + b * yy + k) for k in rng.uniform(0, 6, 3)], -1)
        pixels = (127 + 100 * base + rng.normal(0, 12, (h, w, 3))).clip(0, 255)
        Image.fromarray(pixels.astype(np.uint8)).save(
            os.path.join(folder, cls, f"{i:06d}.jpg"), quality=90)
    open(done, "w").close()
    return folder


def warm(folder):
    """Read every file once, so each contender finds them in the page cache."""
    for cls in CLASSES:
        for name in os.listdir(os.path.join(folder, cls)):
            with open(os.path.join(folder, cls, name), "rb") as f:
                f.read()


def pil_decode(folder):
    from PIL import Image

    warm(folder)
    start = time.perf_counter()
    n = 0
    for cls in CLASSES:
        for name in sorted(os.listdir(os.path.join(folder, cls))):
            with Image.open(os.path.join(folder, cls, name)) as image:
                np.asarray(image.convert("RGB"))
            n += 1
    return time.perf_counter() - start, n


def _pss_kib(pid):
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _descendants(pid):
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        try:
            with open(f"/proc/{p}/task/{p}/children") as f:
                todo.extend(int(c) for c in f.read().split())
        except OSError:
            pass
    return found


def peak_pss(procs):
    """Wait for ``procs``; the peak of their (and their descendants') summed PSS, in MiB."""
    peak = 0
    while any(p.poll() is None for p in procs):
        pids = [d for p in procs if p.poll() is None for d in _descendants(p.pid)]
        peak = max(peak, sum(_pss_kib(pid) for pid in pids))
        time.sleep(0.1)
    for p in procs:
        _, err = p.communicate()
        if p.returncode != 0:
            raise SystemExit(f"a worker failed:\n{err[-2000:]}")
    return peak / 1024


def python(args, env, what):
    """The standard output of a fresh ``python args``; its failure ends the benchmark."""
    done = subprocess.run([sys.executable, *args], env=env, cwd=ROOT, capture_output=True,
                          text=True)
    if done.returncode != 0:
        raise SystemExit(f"{what} failed:\n{done.stderr[-2000:]}")
    return done.stdout


def run_train(args, env):
    """Wall seconds of ``train.py args`` in a fresh process."""
    start = time.perf_counter()
    python([os.path.join(ROOT, "train.py"), *args], env, f"train.py {' '.join(args)}")
    return time.perf_counter() - start


def python_seconds(code, env):
    """The numbers a fresh ``python -c code`` prints (it ends with ``os._exit``, so Python's
    exit is not timed)."""
    return [float(x) for x in python(["-c", code], env, "python -c").split()]


IMPORTS = """import os, time
start = time.perf_counter()
import torch
torch_done = time.perf_counter()
import lightning
print(torch_done - start, time.perf_counter() - torch_done, flush=True)
os._exit(0)
"""

CACHE_OPEN = """import os, time
from kconv.datasets import load_image_folder
start = time.perf_counter()
folder = load_image_folder({folder!r}, (96, 96), progress=False)
seconds = time.perf_counter() - start
assert folder.source.startswith("opened from the cache"), folder.source
print(seconds, flush=True)
os._exit(0)
"""


def epoch_worker(rank, world, folder, size, cache):
    """One DDP process's data: its shard of an epoch of the training split and of the test
    split, every batch read."""
    from types import SimpleNamespace

    import torch
    import lightning  # noqa: F401 - a run's process holds it
    from kconv.datasets import ImageDataModule
    from kconv.utils import retain_freed_memory

    retain_freed_memory()  # as train.py's processes do

    data = ImageDataModule(folder, image_size=(size, size), batch_size=64, cache=cache)
    data.trainer = SimpleNamespace(world_size=world, global_rank=rank,
                                   strategy=SimpleNamespace(root_device=torch.device("cpu")))
    data.setup("fit")
    total = 0
    for images, _ in data.train_dataloader():
        total += int(images.sum())
    bundle = data.bundle
    for images, _ in make_test_shard(bundle, rank, world):
        total += int(images.sum())
    print(total)


def make_test_shard(bundle, rank, world):
    from kconv.datasets.datamodule import make_loader
    return make_loader(bundle.images, bundle.labels, 256, shuffle=False,
                       index=bundle.test[rank::world])


def data_path_memory(folder, size, world, cache, env):
    procs = [subprocess.Popen([sys.executable, os.path.abspath(__file__), "--epoch-worker",
                               str(rank), str(world), folder, str(size), str(int(cache))],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              text=True) for rank in range(world)]
    start = time.perf_counter()
    return peak_pss(procs), time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--folder", default=os.path.join(tempfile.gettempdir(),
                                                         "kconv-bench-jpegs"))
    parser.add_argument("--count", type=int, default=12000)
    parser.add_argument("--mem-size", type=int, default=224)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--epoch-worker", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    sys.path.insert(0, ROOT)
    if args.epoch_worker:
        rank, world, folder, size, cache = args.epoch_worker
        return epoch_worker(int(rank), int(world), folder, int(size), cache == "1")
    from kconv.utils import retain_freed_memory

    # The PIL decode runs under train.py's allocator policy: with glibc's default its time
    # depends on the heap's history (7 or 11 s for the same loop; benchmarks/README.md).
    retain_freed_memory()
    folder = make_folder(f"{args.folder}-{args.count}", args.count)
    print(f"{args.count} JPEGs of 320x240 in {folder}; {os.cpu_count()} CPUs")

    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "KCONV_CACHE_DIR": cache}
        common = ["--dataset", folder, "--fast-dev-run"]
        times = {k: [] for k in ("pil", "first", "second", "no_cache", "torch", "lightning",
                                 "open")}
        for _ in range(args.rounds):  # interleaved, so noise hits every contender alike
            shutil.rmtree(cache)
            os.mkdir(cache)
            seconds, n = pil_decode(folder)
            times["pil"].append(seconds)
            times["first"].append(run_train(common, env))
            times["second"].append(run_train(common, env))
            times["open"] += python_seconds(CACHE_OPEN.format(folder=folder), env)
            times["no_cache"].append(run_train(common + ["--no-cache"], env))
            torch_s, lightning_s = python_seconds(IMPORTS, env)
            times["torch"].append(torch_s)
            times["lightning"].append(lightning_s)
        pil, first, second, no_cache, torch_s, lightning_s, opened = (
            statistics.median(v) for v in times.values())

        def per_round(a, b):
            return " ".join(f"{x / y:.2f}" for x, y in zip(times[a], times[b]))

        print(f"medians of {args.rounds} interleaved rounds (all: "
              + "; ".join(f"{k} " + " ".join(f"{t:.2f}" for t in v) for k, v in times.items())
              + ")")
        print(f"single-threaded PIL decode of {n} files: {pil:.1f} s")
        print(f"train.py --fast-dev-run, empty cache: {first:.1f} s = {first / pil:.2f}x PIL "
              f"(target <= 0.9; rounds {per_round('first', 'pil')})")
        print(f"train.py --fast-dev-run, cache warm:  {second:.1f} s = {second / first:.2f}x "
              f"the first run (target <= 0.5; rounds {per_round('second', 'first')})")
        print(f"train.py --fast-dev-run, --no-cache:  {no_cache:.1f} s = {no_cache / pil:.2f}x "
              "PIL")
        print(f"both targets together need the cache-warm run <= 0.45x PIL: it is "
              f"{second / pil:.2f}x (rounds {per_round('second', 'pil')}); of it, "
              f"import torch {torch_s:.2f} s, then import lightning {lightning_s:.2f} s")
        decode = first - second + opened
        print(f"the data path alone: the first run's decode and write ~ {decode:.1f} s = "
              f"{decode / pil:.2f}x PIL; the warm cache opens in {opened:.2f} s = "
              f"{opened / decode:.3f}x that")

        if args.skip_memory:
            return
        size = args.mem_size
        decoded = n * size * size * 3 / 2 ** 20
        print(f"\ndata path of a DDP run at {size}x{size} ({decoded:.0f} MiB decoded): peak "
              "summed PSS")
        bare = peak_pss([subprocess.Popen(
            [sys.executable, "-c", "import time, torch, lightning; time.sleep(2)"], env=env,
            stderr=subprocess.PIPE, text=True)])
        print(f"  a process with torch and Lightning imported, nothing else: {bare:.0f} MiB")
        data_path_memory(folder, size, 1, True, env)  # fills the cache at this size
        for cache_on in (True, False):
            one, one_s = data_path_memory(folder, size, 1, cache_on, env)
            two, two_s = data_path_memory(folder, size, 2, cache_on, env)
            label = "cache" if cache_on else "--no-cache"
            print(f"  {label:<10} one process {one:6.0f} MiB ({one_s:.0f} s), two processes "
                  f"{two:6.0f} MiB ({two_s:.0f} s) = {two / one:.2f}x"
                  + (" (target <= 1.3)" if cache_on else ""))


if __name__ == "__main__":
    main()
