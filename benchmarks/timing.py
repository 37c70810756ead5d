"""Interleaved timing: contenders take turns every round, so machine noise hits them alike."""

import statistics
import time


def interleaved(contenders, rounds, *, inner=1, warmup=2, sync=None):
    """Median seconds per call of each contender over ``rounds`` rounds of ``inner`` calls,
    after ``warmup`` calls each; ``sync`` (e.g. a CUDA synchronize) runs around every
    round."""
    sync = sync or (lambda: None)
    for fn in contenders.values():
        for _ in range(warmup):
            fn()
    samples = {name: [] for name in contenders}
    for _ in range(rounds):
        for name, fn in contenders.items():
            sync()
            start = time.perf_counter()
            for _ in range(inner):
                fn()
            sync()
            samples[name].append((time.perf_counter() - start) / inner)
    return {name: statistics.median(v) for name, v in samples.items()}
