"""Choosing the numeric precision of training and sampling from the hardware at hand.

bf16 autocast only pays where the hardware computes in bf16 natively. On a CPU without AVX512-BF16
or AMX (most laptops, AMD Zen 3 and older, Intel before Cooper Lake) PyTorch emulates bf16 and a
conv VAE trains about 12x slower than in fp32; on a CPU with native bf16 the same model trains
faster in bf16 (see docs/benchmarks.md, "Precision"). On a GPU, the small models genlab trains by
default are launch-bound and bf16 autocast adds casts without saving time, so fp32 is kept there
unless a model is large enough for bf16 matrix units to matter.

``resolve_precision('auto', device, model)`` applies that rule and says why; an explicit 'bf16'
on hardware without native bf16 is honoured with a one-time warning.

This module is neutral: it imports only torch, so every layer (training, metrics, anomaly, the
CLI) can ask it.
"""
from __future__ import annotations

import functools
import os
import platform
import sys
from pathlib import Path
from typing import NamedTuple

import torch

PRECISIONS = ("auto", "fp32", "bf16")
# Parameters above which bf16 autocast is chosen on a CUDA GPU with bf16 support. genlab's default
# models (0.1M - 3M parameters) are launch-bound there: bf16 was measured slower than fp32 for the
# default conv VAE on an H200 (batch 128: 21.8k vs 26.3k images/s).
CUDA_BF16_MIN_PARAMETERS = 20_000_000


class Precision(NamedTuple):
    """The chosen precision ('fp32' or 'bf16') and a short reason a person can read."""

    name: str
    reason: str


def _cpu_flags() -> set[str]:
    """CPU feature flags from /proc/cpuinfo (Linux; empty elsewhere)."""
    path = Path("/proc/cpuinfo")
    try:
        text = path.read_text()
    except OSError:
        return set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):  # x86 / ARM
            return set(value.split())
    return set()


def cpu_has_native_bf16() -> tuple[bool, str]:
    """Whether this CPU computes bf16 natively, and what showed it.

    x86: AVX512-BF16 or AMX-BF16 (asked of PyTorch's own CPU probe, else the /proc/cpuinfo flags);
    ARM: the BF16 extension ('bf16' in /proc/cpuinfo, or FEAT_BF16 on macOS). The environment
    variable ``GENLAB_NATIVE_BF16`` (1 or 0) overrides the probe (the test suite sets 0, so its
    results do not depend on the CPU it runs on).
    """
    forced = os.environ.get("GENLAB_NATIVE_BF16", "").strip()
    if forced in ("0", "1"):
        return forced == "1", f"GENLAB_NATIVE_BF16={forced}"
    return _probe_cpu_bf16()


@functools.cache
def _probe_cpu_bf16() -> tuple[bool, str]:
    probe = getattr(torch.cpu, "_is_avx512_bf16_supported", None)
    amx = getattr(torch.cpu, "_is_amx_tile_supported", None)
    try:
        if probe is not None and probe():
            return True, "AVX512-BF16"
        if amx is not None and amx():
            return True, "AMX"
    except Exception:  # noqa: BLE001 - a private probe that changed: fall back to the flags
        pass
    flags = _cpu_flags()
    if {"avx512_bf16", "amx_bf16"} & flags:
        return True, "AVX512-BF16" if "avx512_bf16" in flags else "AMX-BF16"
    machine = platform.machine().lower()
    if machine in ("aarch64", "arm64"):
        if "bf16" in flags:
            return True, "ARM BF16"
        if sys.platform == "darwin":
            import subprocess

            try:
                out = subprocess.run(["sysctl", "-n", "hw.optional.arm.FEAT_BF16"], capture_output=True,
                                     text=True, timeout=2).stdout.strip()
            except (OSError, subprocess.SubprocessError):
                out = ""
            if out == "1":
                return True, "ARM FEAT_BF16"
    isa = "AVX2" if "avx2" in flags else (machine or "this CPU")
    return False, f"{isa}, no native bf16"


def _parameters(model: torch.nn.Module | None) -> int:
    return 0 if model is None else sum(p.numel() for p in model.parameters())


def resolve_precision(requested: str, device: torch.device | str, model: torch.nn.Module | None = None) -> Precision:
    """The precision to run ``model`` on ``device`` with, for a requested 'auto', 'fp32' or 'bf16'.

    Rule for 'auto': bf16 on a CPU with native bf16 (AVX512-BF16, AMX, ARM BF16); fp32 on any
    other CPU; on CUDA bf16 only when the GPU supports it and the model has at least
    ``CUDA_BF16_MIN_PARAMETERS`` parameters; fp32 on every other device (mps, ...).
    """
    device = torch.device(device)
    if requested == "fp32":
        return Precision("fp32", "asked for")
    if requested == "bf16":
        if device.type == "cpu":
            native, why = cpu_has_native_bf16()
            if not native:
                warn_once(f"--precision bf16 on a CPU without native bf16 ({why}): PyTorch emulates it, "
                          f"training will be about 10x slower than fp32 (use --precision auto)")
        return Precision("bf16", "asked for")
    if requested != "auto":
        raise ValueError(f"unknown precision {requested!r} (use {', '.join(PRECISIONS)})")
    if device.type == "cpu":
        native, why = cpu_has_native_bf16()
        return Precision("bf16", f"CPU with native bf16 ({why})") if native else Precision("fp32", f"CPU: {why}")
    if device.type == "cuda":
        if not torch.cuda.is_bf16_supported():
            return Precision("fp32", "GPU without bf16 support")
        n = _parameters(model)
        if n >= CUDA_BF16_MIN_PARAMETERS:
            return Precision("bf16", f"GPU with bf16, model of {n / 1e6:.0f}M parameters")
        return Precision("fp32", f"GPU: a model of {n / 1e6:.1f}M parameters is faster in fp32")
    return Precision("fp32", f"{device.type}: bf16 autocast not used")


_warned: set[str] = set()


def warn_once(message: str) -> None:
    """Print ``genlab: warning: message`` to stderr once per process."""
    if message in _warned:
        return
    _warned.add(message)
    print(f"genlab: warning: {message}", file=sys.stderr, flush=True)


def autocast(precision: str, device: torch.device | str):
    """The autocast context for a resolved precision ('fp32' -> no autocast)."""
    device = torch.device(device)
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=precision == "bf16")


__all__ = ["PRECISIONS", "Precision", "cpu_has_native_bf16", "resolve_precision", "autocast", "warn_once"]
