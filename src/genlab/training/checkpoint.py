"""Checkpoints: everything needed to continue a run exactly, written atomically.

Layout inside a run directory::

    checkpoints/step-00001234/   model.safetensors, optimizers.pt, state.json
    checkpoints/LATEST           the name of the newest complete checkpoint

A checkpoint is written into a temporary folder, renamed into place (atomic), and only then does
LATEST (replaced atomically) point to it; older checkpoints are removed afterwards. A crash at any
moment leaves LATEST naming a complete checkpoint.

Random state is not stored as generator snapshots: the trainer reseeds from (seed, step, rank) at
every step and data order is a function of (seed, epoch), so (seed, step, epoch, position) in
state.json determine every random draw that follows, on any number of processes.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import torch

from genlab.errors import CheckpointError
from genlab.io import atomic_directory, atomic_write_bytes, load_state_dict, save_state_dict

LATEST = "LATEST"


def checkpoint_dir(run_dir: Path) -> Path:
    return Path(run_dir) / "checkpoints"


def save_checkpoint(run_dir: Path, model: torch.nn.Module, optimizers: dict[str, torch.optim.Optimizer],
                    state: dict[str, Any], keep: int = 1) -> Path:
    """Write a checkpoint of ``model``, ``optimizers`` and the JSON ``state`` (must hold 'step')."""
    root = checkpoint_dir(run_dir)
    root.mkdir(parents=True, exist_ok=True)
    name = f"step-{int(state['step']):08d}"
    final = root / name
    with atomic_directory(final) as tmp:  # the same step saved again (epoch end, then a signal) is replaced
        save_state_dict(model.state_dict(), tmp / "model.safetensors")
        torch.save({k: opt.state_dict() for k, opt in optimizers.items()}, tmp / "optimizers.pt")
        (tmp / "state.json").write_text(json.dumps(state, indent=2))
    atomic_write_bytes(root / LATEST, (name + "\n").encode())
    old = sorted(p for p in root.glob("step-*") if p.is_dir() and p.name != name)
    for p in old[: max(0, len(old) - (keep - 1))]:
        shutil.rmtree(p, ignore_errors=True)
    return final


def latest_checkpoint(run_dir: Path) -> Path | None:
    pointer = checkpoint_dir(run_dir) / LATEST
    if not pointer.is_file():
        return None
    path = checkpoint_dir(run_dir) / pointer.read_text().strip()
    return path if path.is_dir() else None


def load_checkpoint(path: Path, model: torch.nn.Module, optimizers: dict[str, torch.optim.Optimizer]) -> dict[str, Any]:
    """Restore ``model`` and ``optimizers`` in place from ``path``; return the saved state."""
    try:
        state = json.loads((path / "state.json").read_text())
        weights = load_state_dict(path / "model.safetensors")
        opt_states = torch.load(path / "optimizers.pt", map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - any unreadable part means a corrupt checkpoint
        raise CheckpointError(f"checkpoint {path} is corrupt or incomplete: {e}") from None
    try:
        model.load_state_dict(weights)
    except RuntimeError:
        raise CheckpointError(f"checkpoint {path} does not fit this model's architecture") from None
    if set(opt_states) != set(optimizers):
        raise CheckpointError(f"checkpoint {path} has optimizers {sorted(opt_states)}, the model needs {sorted(optimizers)}")
    for k, opt in optimizers.items():
        opt.load_state_dict(opt_states[k])
    return state
