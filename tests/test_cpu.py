"""glibc allocator tuning: applied once, switched off by GENLAB_MALLOC_TUNING=0, and fewer page faults per step."""
from __future__ import annotations

import platform
import subprocess
import sys

import pytest

from genlab import cpu

LINUX_GLIBC = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"

PROBE = """
import resource, sys, torch
if sys.argv[1] == "1":
    from genlab.cpu import tune_allocator
    assert tune_allocator()
torch.manual_seed(0)
net = torch.nn.Sequential(torch.nn.Conv2d(1, 32, 3, padding=1), torch.nn.ReLU(), torch.nn.Conv2d(32, 64, 3, padding=1),
                          torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(64 * 28 * 28, 10))
x = torch.rand(64, 1, 28, 28)
def steps(n):  # training steps: large activations and gradients, all freed at the end of each step
    for _ in range(n):
        net.zero_grad(set_to_none=True)
        net(x).square().mean().backward()
steps(3)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
steps(5)
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def test_switched_off_by_the_environment(monkeypatch):
    monkeypatch.setenv("GENLAB_MALLOC_TUNING", "0")
    monkeypatch.setattr(cpu, "_state", {})
    assert cpu.tune_allocator() is False
    assert cpu.tune_allocator() is False  # decided once


@pytest.mark.skipif(not LINUX_GLIBC, reason="mallopt thresholds are a glibc feature")
def test_tuning_removes_the_page_faults_of_large_temporary_tensors():
    faults = {}
    for tuned in ("0", "1"):
        out = subprocess.run([sys.executable, "-c", PROBE, tuned], capture_output=True, text=True, check=True,
                             env={"GENLAB_MALLOC_TUNING": "1", "PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1",
                                  "PYTHONPATH": ":".join(sys.path)})
        faults[tuned] = int(out.stdout.strip().splitlines()[-1])
    # untuned: the freed top of the heap is trimmed and faulted in again every round; tuned: reused
    assert faults["1"] * 3 < faults["0"], faults  # measured ~50k vs 0-6k (heap layout varies)
