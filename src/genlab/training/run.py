"""Run directories: start a training run, resume one, load what it produced.

A run directory holds ``config.json`` (model name and config, data config, train config, every
default written out), ``model_config.json`` + ``model.safetensors`` (the latest weights),
``checkpoints/``, ``metrics.jsonl``, ``samples/`` and ``loss_curves.png``.
"""
from __future__ import annotations

import dataclasses
import shutil
import sys
from pathlib import Path
from typing import Any

import torch

from genlab import registry
from genlab.config import DataConfig, TrainConfig, from_dict, suggest, to_dict
from genlab.errors import CheckpointError, ConfigError
from genlab.data.base import Splits
from genlab.io import atomic_write_json, read_json
from genlab.models.base import GenerativeModel, check_data_kind
from genlab.training.checkpoint import latest_checkpoint
from genlab.training.monitor import mode_monitor
from genlab.training.trainer import Trainer

RUN_CONFIG = "config.json"
# training settings a resumed run may change; anything else would make it a different run
RESUMABLE_OVERRIDES = {"epochs", "steps", "time_budget", "sample_every", "checkpoint_every", "log_every", "device",
                       "eval_batches", "num_samples", "budget_clock", "mode_check"}


def _as_config(cls: type, value: Any, where: str) -> Any:
    if value is None:
        return cls()
    if isinstance(value, cls):
        return value
    if cls is DataConfig and isinstance(value, str):
        return DataConfig(dataset=value)
    return from_dict(cls, value, where)


def data_fields(model_config_class: type, splits: Any) -> dict[str, Any]:
    """Values of the data-derived model config fields (``data_shape``, ``num_classes``)."""
    names = {f.name for f in dataclasses.fields(model_config_class)}
    derived: dict[str, Any] = {}
    if "data_shape" in names:
        derived["data_shape"] = list(splits.train.shape)
    if "num_classes" in names:
        derived["num_classes"] = splits.train.num_classes
    return derived


def is_run(path: Path) -> bool:
    return (Path(path) / RUN_CONFIG).is_file()


def read_run_config(run_dir: str | Path) -> dict[str, Any]:
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise CheckpointError(f"run directory not found: {run_dir}")
    if not is_run(run_dir):
        raise CheckpointError(f"{run_dir} is not a genlab run (no {RUN_CONFIG})")
    try:
        cfg = read_json(run_dir / RUN_CONFIG)
        cfg["model"]["name"], cfg["model"]["config"], cfg["data"], cfg["train"]  # noqa: B018 - shape check
    except (ValueError, KeyError, TypeError):
        raise CheckpointError(f"{run_dir / RUN_CONFIG} is corrupt or not a genlab run config") from None
    return cfg


def _prepare_out(out: Path, overwrite: bool) -> None:
    if out.exists() and not out.is_dir():
        raise ConfigError(f"output path {out} exists and is not a directory")
    if out.is_dir() and any(out.iterdir()):
        if not overwrite:
            raise ConfigError(f"run directory {out} already exists; pass --resume {out} to continue it "
                              f"or --overwrite to replace it")
        if not is_run(out):
            raise ConfigError(f"refusing to overwrite {out}: it is not empty and not a genlab run")


def train(model: str, *, out: str | Path | None = None, model_config: Any = None, data: Any = None,
          train: Any = None, overwrite: bool = False, splits: Splits | None = None) -> GenerativeModel:
    """Train a new model and return it (also written to ``out`` when given).

    Args:
        model: registry name ('vae', ...).
        out: run directory to create; None trains in memory only.
        model_config: the model's config dataclass or a dict of its fields (data-derived fields
            such as ``data_shape`` are filled from the dataset).
        data: a :class:`DataConfig`, a dict of its fields, or a dataset spec string ('mnist').
        train: a :class:`TrainConfig` or a dict of its fields.
        overwrite: replace an existing run directory at ``out``.
        splits: train on these in-memory splits instead of loading ``data`` (which then only names
            them in the run config; such a run cannot be resumed from the command line).
    """
    from genlab.data import load_splits

    entry = registry.get(model)
    data_cfg = _as_config(DataConfig, data, "data config")
    train_cfg = _as_config(TrainConfig, train, "train config")
    out_path = Path(out) if out is not None else None
    if out_path is not None:
        _prepare_out(out_path, overwrite)
    if splits is None:
        splits = load_splits(data_cfg)
    check_data_kind(entry.model_class, splits.train, model)
    if entry.model_class.requires_labels and splits.train.y is None:
        raise ConfigError(f"model '{model}' is conditional and needs class labels, but dataset "
                          f"'{data_cfg.dataset}' has none (use a folder with class subfolders, or npz with 'y')")
    if model_config is None:
        model_fields: dict[str, Any] = {}
    elif isinstance(model_config, entry.config_class):
        model_fields = to_dict(model_config)
    else:
        model_fields = dict(model_config)
    model_cfg = from_dict(entry.config_class, {**model_fields, **data_fields(entry.config_class, splits)},
                          f"model config of '{model}'")
    torch.manual_seed(train_cfg.seed)
    net = entry.model_class(model_cfg)
    trainer = Trainer(net, splits, train_cfg, data_cfg.binarize, out_path,
                      monitor=mode_monitor(train_cfg, data_cfg, net, splits))
    created = False
    if trainer.run_dir is not None:
        if out_path.exists():
            shutil.rmtree(out_path)
        out_path.mkdir(parents=True)
        created = True
        atomic_write_json(out_path / RUN_CONFIG, {
            "model": {"name": model, "config": to_dict(model_cfg)},
            "data": to_dict(data_cfg), "train": to_dict(train_cfg)})
        if splits.train.info:  # e.g. a series' standardization, to map results back to its units
            atomic_write_json(out_path / "data_info.json", splits.train.info)
        net.save(out_path)
    try:
        return trainer.fit()
    except BaseException:
        if created and latest_checkpoint(out_path) is None:  # nothing worth keeping: leave no half-written run
            shutil.rmtree(out_path, ignore_errors=True)
        raise


def resume(run_dir: str | Path, model: str | None = None, **overrides: Any) -> GenerativeModel:
    """Continue a run from its newest checkpoint; ``overrides`` may extend it (epochs, steps, ...)."""
    from genlab.data import load_splits

    run_dir = Path(run_dir)
    cfg = read_run_config(run_dir)
    name = cfg["model"]["name"]
    if model is not None and model != name:
        raise CheckpointError(f"{run_dir} is a run of '{name}', not '{model}'")
    bad = sorted(set(overrides) - RESUMABLE_OVERRIDES)
    if bad:
        raise ConfigError(f"cannot change '{bad[0]}' when resuming (only {', '.join(sorted(RESUMABLE_OVERRIDES))})"
                          f"{suggest(bad[0], RESUMABLE_OVERRIDES)}")
    entry = registry.get(name)
    data_cfg = from_dict(DataConfig, cfg["data"], f"{run_dir / RUN_CONFIG} data")
    train_cfg = from_dict(TrainConfig, {**cfg["train"], **overrides}, f"{run_dir / RUN_CONFIG} train")
    if latest_checkpoint(run_dir) is None:
        raise CheckpointError(f"{run_dir} has no checkpoint to resume from")
    splits = load_splits(data_cfg)
    net = entry.model_class(from_dict(entry.config_class, cfg["model"]["config"], f"{run_dir / RUN_CONFIG} model"))
    trainer = Trainer(net, splits, train_cfg, data_cfg.binarize, run_dir,
                      monitor=mode_monitor(train_cfg, data_cfg, net, splits))
    trainer.restore(run_dir)
    if trainer.step >= trainer.total_steps:
        if trainer.dist.is_main:
            print(f"{run_dir}: already trained for {trainer.step} steps; pass --epochs or --steps to extend it",
                  file=sys.stderr)
        return trainer.model
    if trainer.run_dir is not None and overrides:
        atomic_write_json(run_dir / RUN_CONFIG, {**cfg, "train": to_dict(train_cfg)})
    return trainer.fit()


def load(run_dir: str | Path, device: str | torch.device = "cpu") -> GenerativeModel:
    """The model of a run directory (or of a directory written by ``model.save``), in eval mode."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise CheckpointError(f"run directory not found: {run_dir}")
    model = GenerativeModel.load(run_dir, map_location=device)
    return model.eval()
