"""retain_freed_memory: glibc keeps a training step's freed memory instead of faulting it
back in, unless the environment already sets the policy."""

import os
import subprocess
import sys

import pytest

from kconv.utils import retain_freed_memory
from kconv.utils.memory_utils import glibc, tunes_allocator

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))

# 16 blocks of 1 MiB written, then all freed: a step's activations. Prints whether the
# policy was applied and the page faults of 20 steps after two warm-up steps.
STEPS = """import resource, sys
import numpy as np
from kconv.utils import retain_freed_memory
applied = retain_freed_memory() if sys.argv[1] == "apply" else False

def step():
    blocks = [np.ones(2**20, np.uint8) for _ in range(16)]
    del blocks

step(); step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):
    step()
print(applied, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def run_steps(mode, **env):
    environment = {k: v for k, v in os.environ.items() if not tunes_allocator(k)}
    done = subprocess.run([sys.executable, "-c", STEPS, mode], capture_output=True, text=True,
                          env={**environment, "PYTHONPATH": ROOT, **env}, timeout=120)
    assert done.returncode == 0, done.stderr
    applied, faults = done.stdout.split()
    return applied == "True", int(faults)


GLIBC = pytest.mark.skipif(glibc() is None, reason="glibc only")


@GLIBC
def test_freed_memory_is_reused_without_page_faults():
    pages = 20 * 16 * 256  # every step's 16 MiB, in 4 KiB pages
    applied, faults = run_steps("default")
    assert not applied and faults > 0.5 * pages  # glibc's default hands them back
    assert run_steps("apply") == (True, pytest.approx(0, abs=200))


@GLIBC
@pytest.mark.parametrize("env", [dict(MALLOC_TRIM_THRESHOLD_="1"),
                                 dict(GLIBC_TUNABLES="glibc.malloc.trim_threshold=1")])
def test_a_policy_from_the_environment_is_left_alone(env):
    applied, faults = run_steps("apply", **env)
    assert not applied and faults > 0.5 * 20 * 16 * 256  # the user's policy, not ours


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(mmap_threshold=2**25 + 1), ValueError, "mmap_threshold`: expected an int from 0 to"),
    (dict(trim_threshold=2**31), ValueError, "trim_threshold`: expected an int from 0 to"),
    (dict(trim_threshold=-1), ValueError, "trim_threshold`: expected an int >= 0"),
    (dict(mmap_threshold="1M"), TypeError, "mmap_threshold`: expected an int"),
])
def test_bad_thresholds_are_clear_errors(kwargs, error, message):
    with pytest.raises(error, match=message):
        retain_freed_memory(**kwargs)
