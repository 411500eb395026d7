"""Checkpoints: everything needed to continue a run exactly, written atomically.

Layout inside a run directory::

    checkpoints/step-00001234/   model.safetensors, optimizers.safetensors, optimizers.json,
                                 buffers.safetensors, state.json, and callbacks.json +
                                 callbacks.safetensors when a callback keeps state (--keep-best)
    checkpoints/LATEST           the name of the newest complete checkpoint

A checkpoint is written into a temporary folder, renamed into place (atomic), and only then does
LATEST (replaced atomically) point to it; older checkpoints are removed afterwards. A crash at any
moment leaves LATEST naming a complete checkpoint.

Nothing in a checkpoint is a pickle: optimizer states are split into their tensors
(``optimizers.safetensors``) and everything else (step counts, param groups) as JSON. The model's
non-persistent buffers (training-time state such as a GAN's last gradient norms, which is not
part of the saved model) go to ``buffers.safetensors``. Checkpoints of older versions with an
``optimizers.pt`` are still read, with ``weights_only=True``.

Random state is not stored as generator snapshots: the trainer reseeds from (seed, step, rank) at
every step and data order is a function of (seed, epoch), so (seed, step, epoch, position) in
state.json determine every random draw that follows, on any number of processes.
"""
from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

import torch

from genlab.errors import CheckpointError
from genlab.io import atomic_directory, atomic_write_bytes, load_state_dict, save_state_dict

LATEST = "LATEST"
OPT_TENSORS, OPT_JSON, LEGACY_OPT = "optimizers.safetensors", "optimizers.json", "optimizers.pt"
BUFFERS = "buffers.safetensors"
CALLBACK_TENSORS, CALLBACK_JSON = "callbacks.safetensors", "callbacks.json"


def checkpoint_dir(run_dir: Path) -> Path:
    return Path(run_dir) / "checkpoints"


def _json_value(v: Any) -> Any:
    if isinstance(v, (tuple, list)):
        return {"__tuple__": [_json_value(x) for x in v]} if isinstance(v, tuple) else [_json_value(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _json_value(x) for k, x in v.items()}
    if isinstance(v, float) and v != v:
        return {"__float__": "nan"}
    if isinstance(v, float) and v in (float("inf"), float("-inf")):
        return {"__float__": str(v)}
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    raise TypeError(f"cannot store {type(v).__name__} in a checkpoint")


def _from_json(v: Any) -> Any:
    if isinstance(v, list):
        return [_from_json(x) for x in v]
    if isinstance(v, dict):
        if set(v) == {"__tuple__"}:
            return tuple(_from_json(x) for x in v["__tuple__"])
        if set(v) == {"__float__"}:
            return float(v["__float__"])
        return {k: _from_json(x) for k, x in v.items()}
    return v


def optimizer_files(states: dict[str, dict[str, Any]]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Split optimizer state dicts into tensors (for safetensors) and JSON (everything else)."""
    tensors: dict[str, torch.Tensor] = {}
    meta: dict[str, Any] = {}
    for name, sd in states.items():
        per_param: dict[str, dict[str, Any]] = {}
        for pid, entry in sd["state"].items():
            plain: dict[str, Any] = {}
            for key, value in entry.items():
                if isinstance(value, torch.Tensor):
                    tensors[f"{name}/{pid}/{key}"] = value
                else:
                    plain[key] = _json_value(value)
            per_param[str(pid)] = plain
        tensor_keys = {str(pid): [k for k, v in e.items() if isinstance(v, torch.Tensor)]
                       for pid, e in sd["state"].items()}
        meta[name] = {"state": per_param, "tensor_keys": tensor_keys,
                      "param_groups": _json_value(sd["param_groups"])}
    return tensors, meta


def optimizer_states(tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The inverse of :func:`optimizer_files`."""
    states: dict[str, dict[str, Any]] = {}
    for name, m in meta.items():
        state: dict[int, dict[str, Any]] = {}
        for pid, plain in m["state"].items():
            entry = {k: _from_json(v) for k, v in plain.items()}
            for key in m["tensor_keys"].get(pid, []):
                entry[key] = tensors[f"{name}/{pid}/{key}"]
            state[int(pid)] = entry
        states[name] = {"state": state, "param_groups": _from_json(m["param_groups"])}
    return states


def save_checkpoint(run_dir: Path, state: dict[str, Any], keep: int = 1) -> Path:
    """Write a checkpoint of a trainer's ``state`` (:meth:`~genlab.training.trainer.Trainer.state_dict`:
    model, buffers, optimizers, position) into ``run_dir/checkpoints/``; return its folder."""
    root = checkpoint_dir(run_dir)
    root.mkdir(parents=True, exist_ok=True)
    position = state["position"]
    name = f"step-{int(position['step']):08d}"
    final = root / name
    tensors, meta = optimizer_files(state["optimizers"])
    with atomic_directory(final) as tmp:  # the same step saved again (epoch end, then a signal) is replaced
        save_state_dict(state["model"], tmp / "model.safetensors")
        save_state_dict(tensors, tmp / OPT_TENSORS)
        atomic_write_bytes(tmp / OPT_JSON, json.dumps(meta).encode())
        if state.get("buffers"):
            save_state_dict(state["buffers"], tmp / BUFFERS)
        if state.get("callbacks"):  # callbacks with state of their own (e.g. the best-so-far of --keep-best)
            cb_tensors = {f"{key}/{name}": t for key, cb in state["callbacks"].items()
                          for name, t in cb["tensors"].items()}
            save_state_dict(cb_tensors, tmp / CALLBACK_TENSORS)
            cb_meta = {key: {"meta": _json_value(cb["meta"]), "tensors": sorted(cb["tensors"])}
                       for key, cb in state["callbacks"].items()}
            atomic_write_bytes(tmp / CALLBACK_JSON, json.dumps(cb_meta).encode())
        atomic_write_bytes(tmp / "state.json", json.dumps(position, indent=2).encode())
    atomic_write_bytes(root / LATEST, (name + "\n").encode())
    old = sorted(p for p in root.glob("step-*") if p.is_dir() and p.name != name)
    for p in old[: max(0, len(old) - (keep - 1))]:
        shutil.rmtree(p, ignore_errors=True)
    return final


def is_complete(path: Path) -> bool:
    """Whether ``path`` holds every file of a checkpoint (this format or the older one)."""
    return (path / "state.json").is_file() and (path / "model.safetensors").is_file() and (
        ((path / OPT_TENSORS).is_file() and (path / OPT_JSON).is_file()) or (path / LEGACY_OPT).is_file())


def latest_checkpoint(run_dir: Path, warn: bool = False) -> Path | None:
    """The checkpoint LATEST names; if it is missing or incomplete, the newest complete one.

    ``warn`` prints one line when falling back.
    """
    root = checkpoint_dir(run_dir)
    pointer = root / LATEST
    named = None
    if pointer.is_file():
        try:
            named = pointer.read_text().strip()
        except (OSError, UnicodeDecodeError):
            named = "?"
        path = root / named
        if named.startswith("step-") and "/" not in named and is_complete(path):
            return path
    complete = sorted(p for p in root.glob("step-*") if p.is_dir() and is_complete(p)) if root.is_dir() else []
    if not complete:
        return None
    if warn:
        why = (f"{LATEST} names '{named}', which is missing or incomplete" if named is not None
               else f"{LATEST} is missing")
        print(f"genlab: warning: {why}; resuming from the newest complete checkpoint {complete[-1].name}",
              file=sys.stderr, flush=True)
    return complete[-1]


def read_checkpoint(path: Path) -> dict[str, Any]:
    """The trainer state saved in checkpoint folder ``path`` (the shape of ``Trainer.state_dict()``)."""
    try:
        position = json.loads((path / "state.json").read_text())
        weights = load_state_dict(path / "model.safetensors")
        buffers = load_state_dict(path / BUFFERS) if (path / BUFFERS).is_file() else {}
        callbacks: dict[str, Any] = {}
        if (path / CALLBACK_JSON).is_file():
            cb_meta = json.loads((path / CALLBACK_JSON).read_text())
            cb_tensors = load_state_dict(path / CALLBACK_TENSORS)
            callbacks = {key: {"meta": _from_json(m["meta"]),
                               "tensors": {name: cb_tensors[f"{key}/{name}"] for name in m["tensors"]}}
                         for key, m in cb_meta.items()}
        if (path / OPT_JSON).is_file():
            meta = json.loads((path / OPT_JSON).read_text())
            opt_states = optimizer_states(load_state_dict(path / OPT_TENSORS), meta)
        else:  # a checkpoint of an older genlab: a pickle, read without running any code in it
            opt_states = torch.load(path / LEGACY_OPT, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - any unreadable part means a corrupt checkpoint
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise CheckpointError(f"checkpoint {path} is corrupt or incomplete "
                              f"({type(e).__name__}: {first[:200]})") from None
    return {"model": weights, "buffers": buffers, "optimizers": opt_states, "position": position,
            "callbacks": callbacks}


def load_checkpoint(path: Path, trainer: Any) -> dict[str, Any]:
    """Restore ``trainer`` (model, optimizers, position) from checkpoint folder ``path``; return the
    saved position. A state that does not fit the trainer's model is a :class:`CheckpointError`."""
    state = read_checkpoint(path)
    try:
        trainer.load_state_dict(state)
    except ValueError as e:
        raise CheckpointError(f"checkpoint {path} {e}") from None
    return state["position"]
