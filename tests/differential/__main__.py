"""The deep tier of the differential fuzzer: ``python -m tests.differential --graphs 1000
--jobs 2`` checks graphs 0..999 against Keras and records the result in
``tests/differential/RESULTS.md``; ``--seed N`` reproduces one graph and prints it."""

import argparse
import datetime
import multiprocessing
import os
import sys
import tempfile
import time

os.environ["KERAS_BACKEND"] = "torch"
os.environ.setdefault("KERAS_HOME", tempfile.mkdtemp(prefix="kconv-fuzz-keras-home-"))
from tests.differential.check import run_one  # noqa: E402

RESULTS = os.path.join(os.path.dirname(__file__), "RESULTS.md")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tests.differential",
                                     description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--graphs", type=int, default=1000, help="how many graphs")
    parser.add_argument("--start", type=int, default=0, help="the first seed")
    parser.add_argument("--jobs", type=int, default=os.cpu_count(), help="processes")
    parser.add_argument("--seed", type=int, help="check this one graph and print it")
    parser.add_argument("--no-record", action="store_true",
                        help=f"do not write {os.path.relpath(RESULTS)}")
    args = parser.parse_args(argv)
    if args.seed is not None:
        import keras

        from tests.differential.generator import random_graph
        print(random_graph(args.seed, keras).describe())
        seed, status, detail = run_one(args.seed)
        print(status, detail)
        return 0 if status in ("ok", "ill-conditioned", "skipped") else 1
    seeds = range(args.start, args.start + args.graphs)
    started = time.time()
    counts = {"ok": 0, "ill-conditioned": 0, "skipped": 0, "mismatch": 0, "error": 0}
    failures = []
    with multiprocessing.get_context("spawn").Pool(args.jobs, maxtasksperchild=50) as pool:
        for i, (seed, status, detail) in enumerate(pool.imap_unordered(run_one, seeds), 1):
            counts[status] += 1
            if status in ("mismatch", "error"):
                failures.append(detail)
                print(detail, file=sys.stderr)
            if i % 50 == 0:
                print(f"{i} graphs: {counts}", flush=True)
    minutes = (time.time() - started) / 60
    summary = (f"{args.graphs} graphs (seeds {args.start}..{args.start + args.graphs - 1}), "
               f"{counts['ok']} equal to Keras, {counts['ill-conditioned']} equal within their "
               f"float32 rounding noise (fit not compared), {counts['skipped']} skipped "
               f"(Keras refuses), "
               f"{counts['mismatch']} mismatches, {counts['error']} errors; "
               f"{minutes:.1f} min with {args.jobs} processes")
    print(summary)
    if not args.no_record:
        _record(summary, failures)
    return 0 if not failures else 1


def _record(summary, failures):
    import keras
    import torch

    from kconv.utils.file_utils import atomic_path
    today = datetime.date.today().isoformat()
    lines = ["# The differential fuzzer's last deep run", "",
             f"{today}, Keras {keras.__version__}, torch {torch.__version__}: {summary}.", ""]
    lines += [f"- {f.splitlines()[0]}" for f in failures[:50]] or ["No failures."]
    with atomic_path(RESULTS) as tmp:
        with open(tmp, "w") as f:
            f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    sys.exit(main())
