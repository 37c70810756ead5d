"""The C allocator's policy for a training process: keep freed memory for reuse (glibc)."""

import ctypes
import os
import sys

from kconv.validation import check_int, invalid_value

# mallopt's parameters (glibc's malloc.h).
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_MAX = 32 * 2**20  # glibc's ceiling on 64-bit systems
C_INT_MAX = 2**31 - 1  # mallopt takes a C int


def retain_freed_memory(mmap_threshold=MMAP_THRESHOLD_MAX, trim_threshold=2**30):
    """Make glibc's malloc keep freed memory for reuse instead of handing it back to the
    system.

    By default glibc maps large blocks afresh (over a threshold that starts at 128 KiB and
    moves) and hands a free top of the heap back once it exceeds twice that threshold, so
    the tensors a training step frees and allocates again (activations, decoded images)
    come back as new pages, each faulted in and zeroed: a million page faults in a
    one-epoch MNIST run of train.py, 160,000 with this policy (``benchmarks/README.md``). Here
    blocks up to ``mmap_threshold`` bytes come from the heap and up to ``trim_threshold``
    bytes of free heap are kept. Process-wide and inherited by forked workers; train.py
    sets it, importing kconv never does.

    Returns:
        True when applied; False on another platform or C library, or when the
        environment already tunes the allocator (any ``MALLOC_*`` variable, or
        ``GLIBC_TUNABLES``): the user's choice is left alone.

    Raises:
        TypeError, ValueError: a threshold that is not an int from 0 to its ceiling
            (32 MiB for ``mmap_threshold``, mallopt's int for ``trim_threshold``).
    """
    for name, value, ceiling in (("mmap_threshold", mmap_threshold, MMAP_THRESHOLD_MAX),
                                 ("trim_threshold", trim_threshold, C_INT_MAX)):
        if check_int(name, value, 0) > ceiling:
            raise invalid_value(name, f"an int from 0 to {ceiling}", value)
    libc = glibc()
    if libc is None or any(map(tunes_allocator, os.environ)):
        return False
    return bool(libc.mallopt(M_MMAP_THRESHOLD, mmap_threshold)
                and libc.mallopt(M_TRIM_THRESHOLD, trim_threshold))


def glibc():
    """The process's C library when it is glibc on Linux (whose mallopt parameters these
    are), else None."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version
    except (OSError, AttributeError):
        return None
    return libc


def tunes_allocator(name):
    """Whether the environment variable ``name`` tunes glibc's allocator: a ``MALLOC_*``
    variable or ``GLIBC_TUNABLES``."""
    return name == "GLIBC_TUNABLES" or name.startswith("MALLOC_")
