"""Process-level CPU settings that make PyTorch's CPU path faster and its CPU clock honest: glibc's
allocator thresholds, and OpenMP's wait policy.

PyTorch's CPU tensors come from ``malloc``. glibc serves blocks above its mmap threshold
(128 KiB at first, raised dynamically) with fresh ``mmap`` pages and returns them with ``munmap``
on free, so every training step of a conv model faults in its activations page by page again:
about 10 page faults per KiB, measured at 0.7-0.9 million faults and 1.4-2.0 CPU-seconds of kernel
time per epoch of 10k MNIST images for the default conv VAE (15-20% of the epoch's CPU time).
Raising the mmap threshold to glibc's maximum (32 MiB) and the trim threshold to 512 MiB keeps
freed blocks in the heap for the next step: the same epoch then takes about 0.1 million faults
and 0.4 CPU-seconds of kernel time, with the same peak memory (docs/benchmarks.md, "Speed").

:func:`tune_allocator` applies this once per process on Linux with glibc; elsewhere, or with
``GENLAB_MALLOC_TUNING=0``, it does nothing. This module imports nothing from genlab.

OpenMP's worker threads (PyTorch's intra-op threads on Linux, GNU libgomp) by default spin for a
while after every parallel region, waiting for the next one. On a busy machine the spinning threads
take time slices from the thread doing the work, so with two threads one dcgan step (batch 64, fp32)
cost 1.23 CPU-seconds at load 11 against 0.17 with a passive wait policy and 0.16 with one thread
(docs/benchmarks.md, issue 21): a budget in CPU-seconds (``--budget-clock cpu``) then buys 7x fewer
steps. :func:`passive_openmp` sets ``OMP_WAIT_POLICY=PASSIVE`` for the process before torch loads
the OpenMP runtime (it reads the variable once, when it loads); the ``genlab`` command does this
first thing. A user's own ``OMP_WAIT_POLICY`` wins, and ``GENLAB_OMP_PASSIVE=0`` leaves it unset.
"""
from __future__ import annotations

import ctypes
import os
import platform
import sys

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # mallopt parameters (malloc.h)
MMAP_THRESHOLD = 32 * 1024 * 1024  # glibc's upper limit for the mmap threshold on 64-bit
TRIM_THRESHOLD = 512 * 1024 * 1024

_state: dict[str, bool] = {}


def tune_allocator() -> bool:
    """Raise glibc's mmap and trim thresholds once per process; True when they are (now) raised."""
    if "done" in _state:
        return _state["done"]
    ok = False
    if os.environ.get("GENLAB_MALLOC_TUNING", "1").strip() != "0" and platform.system() == "Linux" \
            and platform.libc_ver()[0] == "glibc":
        try:
            libc = ctypes.CDLL("libc.so.6")
            ok = bool(libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(libc.mallopt(M_TRIM_THRESHOLD,
                                                                                            TRIM_THRESHOLD))
        except (OSError, AttributeError):
            ok = False
    _state["done"] = ok
    return ok


def passive_openmp() -> bool:
    """Set ``OMP_WAIT_POLICY=PASSIVE`` unless the user set a policy, ``GENLAB_OMP_PASSIVE=0``, or torch is
    already imported (its OpenMP runtime has read the variable then). True when the policy in force is passive."""
    if os.environ.get("GENLAB_OMP_PASSIVE", "1").strip() != "0" and "torch" not in sys.modules:
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    return os.environ.get("OMP_WAIT_POLICY", "").strip().upper() == "PASSIVE"
