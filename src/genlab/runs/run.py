"""Run directories: start a training run, resume one, load what it produced.

A run directory holds ``config.json`` (model name and config, data config, train config, every
default written out), ``model_config.json`` + ``model.safetensors`` (the latest weights),
``checkpoints/``, ``metrics.jsonl``, ``samples/`` and ``loss_curves.png``. This module owns the
directory's life (creation, the lock, clean-up, the config file, resume) and composes the trainer
with the callbacks that write the rest (:func:`run_callbacks`).
"""
from __future__ import annotations

import os
import shutil
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from genlab import data as datasets  # `datasets.load_splits`: looked up per call (tests stop a run while it loads)
from genlab import formats, registry
from genlab.apps.inputs import Images
from genlab.config import DataConfig, TrainConfig, from_dict, suggest, to_dict
from genlab.data.base import Splits, binarize
from genlab.errors import CheckpointError, ConfigError, Interrupted, TrainingDiverged
from genlab.io import atomic_write_json, read_json, remove_temporaries
from genlab.models.base import MODEL_CONFIG, GenerativeModel
from genlab.runs import report as run_report  # a module reference: report.py reads runs through this module
from genlab.runs import translation  # a module reference: it builds extractors, which train runs
from genlab.runs.callbacks import Checkpointer, LossCurves, MetricsFile, ModeCheck, SampleGrids
from genlab.runs.lock import LOCK_FILE, RunLock
from genlab.runs.monitor import mode_monitor
from genlab.runs.selection import BEST_INFO, keep_best
from genlab.runs.tensorboard import TensorBoardLog
from genlab.tables.synthesizer import SYNTH_FILE
from genlab.training import distributed
from genlab.training.callbacks import Callback, console_callbacks
from genlab.training.checkpoint import checkpoint_dir, latest_checkpoint, load_checkpoint
from genlab.training.in_memory import build_model, model_config
from genlab.training.trainer import StopSignals, Trainer

RUN_CONFIG = "config.json"
# training settings a resumed run may change; anything else would make it a different run. The
# rescue settings (learning rates, clipping, precision) let a diverged run continue; each change
# is logged as a ``config_change`` record in metrics.jsonl.
RESUMABLE_OVERRIDES = {"epochs", "steps", "time_budget", "sample_every", "checkpoint_every", "log_every", "device",
                       "eval_batches", "num_samples", "budget_clock", "mode_check", "keep_best", "keep_best_every",
                       "lr", "phase_lr", "grad_clip", "precision", "compile", "channels_last", "report",
                       "tensorboard"}
# an early stop (a signal, a kill, divergence) keeps the run directory: --resume continues it from its
# newest checkpoint, or from step 0 when none was written yet. Other errors before the first
# checkpoint (which would only happen again) remove a run this call created.
KEEP_RUN_ON = (Interrupted, TrainingDiverged, KeyboardInterrupt)


def _is_main() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


def clean_run(run_dir: Path) -> None:
    """Remove the temporary files a killed process left in a run (call with the run's lock held)."""
    for folder in (run_dir, checkpoint_dir(run_dir), run_dir / "samples"):
        remove_temporaries(folder)


def resume_command(run_dir: Path) -> str:
    return f"genlab train --resume {run_dir}"


def _as_config(cls: type, value: Any, where: str) -> Any:
    if value is None:
        return cls()
    if isinstance(value, cls):
        return value
    if cls is DataConfig and isinstance(value, str):
        return DataConfig(dataset=value)
    return from_dict(cls, value, where)


def is_run(path: Path) -> bool:
    return (Path(path) / RUN_CONFIG).is_file()


def _refuse_synthesizer(directory: Path) -> None:
    """A table synthesizer's directory given where a run is expected: say what to use instead."""
    if (directory / SYNTH_FILE).is_file():
        raise CheckpointError(f"{directory} is a synthesizer directory (`genlab synth fit`): draw rows with "
                              f"`genlab synth sample {directory} --n N --out rows.csv`, its training run is "
                              f"{directory / 'run'}")


def refuse_table_run(run_dir: str | Path, what: str) -> None:
    """A table synthesizer's training run given to a command made for image / clip / series runs: its
    rows only make sense through the synthesizer's transformer, so point to ``genlab synth``."""
    run_dir = Path(run_dir)
    if not is_run(run_dir):
        return  # a directory written by ``model.save``, or not a run at all: the caller's own checks say so
    name = read_run_config(run_dir)["model"]["name"]
    if name in registry.names() and registry.get(name).model_class.tabular:
        home = run_dir.parent if (run_dir.parent / SYNTH_FILE).is_file() else Path("DIR")
        raise ConfigError(f"{run_dir} is the training run of a table synthesizer ({name}); {what} does not "
                          f"take it: use `genlab synth sample {home} --n N --out rows.csv` or `genlab synth report "
                          f"{home} --real SOURCE --out DIR`")


def read_run_config(run_dir: str | Path) -> dict[str, Any]:
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise CheckpointError(f"run directory not found: {run_dir}")
    if not is_run(run_dir):
        _refuse_synthesizer(run_dir)
        raise CheckpointError(f"{run_dir} is not a genlab run (no {RUN_CONFIG})")
    path = run_dir / RUN_CONFIG
    try:
        raw = read_json(path)
        raw["model"]["name"], raw["model"]["config"], raw["data"], raw["train"]  # noqa: B018 - shape check
    except (ValueError, KeyError, TypeError):
        raise CheckpointError(f"{path} is corrupt or not a genlab run config") from None
    saved = formats.read_saved(formats.RUN_CONFIG, raw, path)  # older formats migrated to the current one
    model = saved.body["model"]
    formats.refuse_unknown(saved, model, ("name", "config"), "model")
    formats.refuse_unknown(saved, saved.body["data"], formats.config_fields(DataConfig), "data")
    formats.refuse_unknown(saved, saved.body["train"], formats.config_fields(TrainConfig), "train")
    if model["name"] not in registry.names():
        raise CheckpointError(f"{saved.origin} is a run of model '{model['name']}', which this genlab does not have"
                              f"{suggest(str(model['name']), registry.names())}")
    formats.refuse_unknown(saved, model["config"], formats.config_fields(registry.get(model["name"]).config_class),
                           "model config")
    return saved.stamped()


def _prepare_out(out: Path, overwrite: bool) -> None:
    if out.exists() and not out.is_dir():
        raise ConfigError(f"output path {out} exists and is not a directory")
    if out.is_dir() and any(p.name != LOCK_FILE for p in out.iterdir()):  # a lone lock: killed as it began
        if not overwrite:
            raise ConfigError(f"run directory {out} already exists; pass --resume {out} to continue it "
                              f"or --overwrite to replace it")
        if not is_run(out):
            raise ConfigError(f"refusing to overwrite {out}: it is not empty and not a genlab run")


def train(model: str, *, out: str | Path | None = None, model_config: Any = None, data: Any = None,
          train: Any = None, overwrite: bool = False, splits: Splits | None = None,
          callbacks: Sequence[Callback] = ()) -> GenerativeModel:
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
        callbacks: more :class:`~genlab.training.callbacks.Callback` objects, called after the run's own
            (checkpoints, metrics, grids) at every hook (e.g. a benchmark's measurements during training).
    """
    registry.get(model)  # an unknown name fails first, with a suggestion
    data_cfg = _as_config(DataConfig, data, "data config")
    train_cfg = _as_config(TrainConfig, train, "train config")
    out_path = Path(out) if out is not None else None
    if out_path is None and train_cfg.keep_best != "off":
        raise ConfigError("keep_best needs a run directory to write the best model into (pass out=...)")
    if out_path is not None:
        _prepare_out(out_path, overwrite)
    with StopSignals() as signals:
        net = _train(model, out_path, model_config, data_cfg, train_cfg, splits, signals, callbacks)
    distributed.finish()  # under torchrun: no process tears down while rank 0 still writes the run
    return net


def run_callbacks(run_dir: Path | None, train_cfg: TrainConfig, data_cfg: DataConfig, net: GenerativeModel,
                  splits: Splits) -> tuple[list[Callback], MetricsFile]:
    """The callbacks of a run, in the order they must run, and its metrics file.

    ``run_dir`` None (in memory, or a process other than rank 0) writes no file; the console lines
    and the mode monitor (which prints its warning) are there either way.
    """
    metrics = MetricsFile(run_dir / "metrics.jsonl" if run_dir is not None else None)
    files: list[Callback] = [metrics, SampleGrids(run_dir), LossCurves(run_dir)] if run_dir is not None else [metrics]
    if run_dir is not None and train_cfg.tensorboard:  # after SampleGrids: it logs their latest grid
        files.append(TensorBoardLog(run_dir, {"data": to_dict(data_cfg), "train": to_dict(train_cfg),
                                              "model": {"name": net.registry_name, "config": to_dict(net.config)}}))
    bar, line = console_callbacks()
    callbacks: list[Callback] = [bar, *files, line]
    best = keep_best(run_dir, train_cfg, data_cfg, net, splits, metrics, RUN_CONFIG)
    if best is not None:  # before the Checkpointer: the epoch's checkpoint holds the best-so-far it measured
        callbacks.append(best)
    callbacks.append(Checkpointer(run_dir))
    # one extractor for both: looking it up loads the dataset again (seconds for `shapes`)
    monitor = mode_monitor(train_cfg, data_cfg, net, splits, best.extractor if best is not None else None)
    if monitor is not None:  # after the Checkpointer: the check runs once the epoch's checkpoint is written
        callbacks.append(ModeCheck(monitor, metrics))
    return callbacks, metrics


def _train(model: str, out_path: Path | None, model_fields: Any, data_cfg: DataConfig,
           train_cfg: TrainConfig, splits: Splits | None, signals: StopSignals,
           extra: Sequence[Callback] = ()) -> GenerativeModel:
    if splits is None:
        splits = datasets.load_splits(data_cfg)
    model_cfg = model_config(model, model_fields, splits, data_cfg.dataset)
    model_cfg = translation.with_feature_net(model_cfg, data_cfg, splits)  # SRGAN: the perceptual loss's network
    net = build_model(model, model_cfg, train_cfg.seed)
    run_dir = out_path if out_path is not None and _is_main() else None
    callbacks, _ = run_callbacks(run_dir, train_cfg, data_cfg, net, splits)
    trainer = Trainer(net, splits, train_cfg, data_cfg.binarize, [*callbacks, *extra])
    trainer.signals = signals
    if signals.received:  # stopped while loading: nothing has been written
        name = signal_name(signals.received)
        raise Interrupted(name, 0, saved=False, run_dir=None,
                          detail=f"stopped by {name} before training started; nothing was written")
    created = False
    lock = None
    try:
        if run_dir is not None:
            if run_dir.exists():
                if is_run(run_dir):  # --overwrite: never under a process that trains into it
                    RunLock(run_dir).acquire().release()
                shutil.rmtree(run_dir)
            run_dir.mkdir(parents=True)
            lock = RunLock(run_dir).acquire()
            created = True
            trainer.resume_command = resume_command(run_dir)
            atomic_write_json(run_dir / RUN_CONFIG, formats.stamp({
                "model": {"name": model, "config": to_dict(model_cfg)},
                "data": to_dict(data_cfg), "train": to_dict(train_cfg),
                "precision": trainer.precision._asdict()}))  # what 'auto' resolved to on this machine, and why
            atomic_write_json(run_dir / run_report.MACHINE_FILE, run_report.machine_info())
            if splits.train.info:  # e.g. a series' standardization, to map results back to its units
                atomic_write_json(run_dir / "data_info.json", splits.train.info)
            net.save(run_dir)
        return _fit(trainer, run_dir)
    except KEEP_RUN_ON:
        raise
    except BaseException:
        # nothing worth keeping: leave no half-written run
        if created and run_dir is not None and latest_checkpoint(run_dir) is None:
            shutil.rmtree(run_dir, ignore_errors=True)
        raise
    finally:
        if lock is not None:
            lock.release()


def _fit(trainer: Trainer, run_dir: Path | None) -> GenerativeModel:
    """``trainer.fit()``; a stop by a signal names the run directory (the trainer knows none). A run that
    ends writes its report (``TrainConfig.report``)."""
    try:
        net = trainer.fit()
    except Interrupted as e:
        e.run_dir = run_dir
        raise
    if run_dir is not None and trainer.cfg.report:
        run_report.report_at_end(run_dir, net, trainer.data)
    return net


def signal_name(signum: int) -> str:
    return signal.Signals(signum).name


def resume(run_dir: str | Path, model: str | None = None, splits: Splits | None = None,
           **overrides: Any) -> GenerativeModel:
    """Continue a run from its newest checkpoint; ``overrides`` may extend it (epochs, steps, ...).

    A run stopped before its first checkpoint starts again from step 0 (the same initial weights
    and data order as a fresh run). The run is locked while it trains (another process trying to
    train it fails naming this one), and temporary files a killed process left are removed first.
    ``splits``: the in-memory data a run started with ``train(splits=...)`` trained on (rebuilt by
    the caller, e.g. `genlab synth fit --resume`); None loads the run's data config.
    """
    run_dir = Path(run_dir)
    cfg = read_run_config(run_dir)
    if (run_dir / BEST_INFO).is_file():
        raise ConfigError(f"{run_dir} is the best model a run kept (--keep-best), not a run to resume: resume "
                          f"{run_dir.parent}")
    lock = RunLock(run_dir).acquire() if _is_main() else None
    try:
        with StopSignals() as signals:
            net = _resume(run_dir, cfg, model, overrides, signals, splits)
    finally:
        if lock is not None:
            lock.release()
    distributed.finish()  # under torchrun: no process tears down while rank 0 still writes the run
    return net


def _resume(run_dir: Path, cfg: dict[str, Any], model: str | None, overrides: dict[str, Any],
            signals: StopSignals, splits: Splits | None = None) -> GenerativeModel:
    if _is_main():
        clean_run(run_dir)
    name = cfg["model"]["name"]
    if model is not None and model != name:
        raise CheckpointError(f"{run_dir} is a run of '{name}', not '{model}'")
    bad = sorted(set(overrides) - RESUMABLE_OVERRIDES)
    if bad:
        raise ConfigError(f"cannot change '{bad[0]}' when resuming (only {', '.join(sorted(RESUMABLE_OVERRIDES))})"
                          f"{suggest(bad[0], RESUMABLE_OVERRIDES)}")
    if "epochs" in overrides and "steps" not in overrides and cfg["train"].get("steps") is not None:
        raise ConfigError(f"{run_dir} was trained with --steps {cfg['train']['steps']}, which overrides --epochs; "
                          f"extend it with --steps N")
    entry = registry.get(name)
    data_cfg = from_dict(DataConfig, cfg["data"], f"{run_dir / RUN_CONFIG} data")
    train_cfg = from_dict(TrainConfig, {**cfg["train"], **overrides}, f"{run_dir / RUN_CONFIG} train")
    has_checkpoint = latest_checkpoint(run_dir) is not None
    splits = datasets.load_splits(data_cfg) if splits is None else splits
    model_cfg = from_dict(entry.config_class, cfg["model"]["config"], f"{run_dir / RUN_CONFIG} model")
    net = build_model(name, model_cfg, train_cfg.seed)  # as `train` does: without a checkpoint, the same weights
    main = _is_main()
    callbacks, metrics = run_callbacks(run_dir if main else None, train_cfg, data_cfg, net, splits)
    trainer = Trainer(net, splits, train_cfg, data_cfg.binarize, callbacks)
    trainer.signals = signals
    trainer.resume_command = resume_command(run_dir)
    if has_checkpoint:
        path = latest_checkpoint(run_dir, warn=main)
        if path is None:
            raise CheckpointError(f"{run_dir} has no checkpoint to resume from")
        load_checkpoint(path, trainer)
        metrics.truncate_after(trainer.step)
    else:
        if main:
            print(f"genlab: {run_dir} stopped before its first checkpoint; training it from step 0",
                  file=sys.stderr, flush=True)
        metrics.truncate_after(0)
    if signals.received:
        raise Interrupted(signal_name(signals.received), trainer.step, saved=has_checkpoint,
                          run_dir=run_dir if main else None)
    changes = {k: {"from": cfg["train"].get(k), "to": v} for k, v in to_dict(train_cfg).items()
               if k in overrides and cfg["train"].get(k) != v}
    if trainer.step >= trainer.total_steps:
        if changes:  # e.g. --keep-best fd, which would select among no new steps: refused, not ignored
            flags = ", ".join("--" + k.replace("_", "-") for k in changes)
            raise ConfigError(f"{run_dir} is already trained for {trainer.step} steps, so {flags} would change "
                              f"nothing; extend it with --epochs N or --steps N (the change applies from there)")
        if main:
            print(f"{run_dir}: already trained for {trainer.step} steps; pass --epochs or --steps to extend it",
                  file=sys.stderr)
        return trainer.model
    if main:
        atomic_write_json(run_dir / run_report.MACHINE_FILE, run_report.machine_info())  # the machine that resumed
    if main and (changes or cfg.get("precision") != trainer.precision._asdict()):
        atomic_write_json(run_dir / RUN_CONFIG, formats.stamp({**cfg, "train": to_dict(train_cfg),
                                                               "precision": trainer.precision._asdict()}))
        if changes:
            metrics.write({"step": trainer.step, "epoch": trainer.epoch, "split": "config_change", "changes": changes})
    return _fit(trainer, run_dir if main else None)


def load(run_dir: str | Path, device: str | torch.device = "cpu") -> GenerativeModel:
    """The model of a run directory (or of a directory written by ``model.save``), in eval mode."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise CheckpointError(f"run directory not found: {run_dir}")
    if not (run_dir / MODEL_CONFIG).is_file():
        _refuse_synthesizer(run_dir)
    model = GenerativeModel.load(run_dir, map_location=device)
    return model.eval()


def run_splits(run_dir: str | Path) -> Splits:
    """The run's own dataset, as it was configured for training."""
    refuse_table_run(run_dir, "this command")
    return datasets.load_splits(from_dict(DataConfig, read_run_config(run_dir)["data"], "run data config"))


def run_images(run_dir: str | Path, split: str, index: list[int], seed: int = 0,
               splits: Splits | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Items ``index`` of a split of the run's dataset (``splits``: already loaded) and their labels,
    binarized as in training with a fixed sample (``seed``)."""
    cfg = read_run_config(run_dir)
    data = (splits or run_splits(run_dir))[split]
    bad = [i for i in index if not 0 <= i < len(data)]
    if bad:
        raise ConfigError(f"image index {bad[0]} is out of range: the {split} split has {len(data)} images")
    idx = torch.tensor(index)
    x = binarize(data.images(idx), cfg["data"]["binarize"], torch.Generator().manual_seed(seed))
    return x, None if data.y is None else data.y[idx]


def run_split(run_dir: str | Path, split: str = "test", n: int | None = None, seed: int = 0) -> Images:
    """The first ``n`` items of a split of the run's own dataset (binarized as in training)."""
    refuse_table_run(run_dir, "this command")
    cfg = read_run_config(run_dir)
    data = datasets.load_splits(from_dict(DataConfig, cfg["data"], "run data config"))[split]
    count = len(data) if n is None else min(n, len(data))
    x = data.images(torch.arange(count))
    if x.dim() == 4:
        x = binarize(x, cfg["data"]["binarize"], torch.Generator().manual_seed(seed))
    y = None if data.y is None else data.y[:count]
    return Images(x, [f"{i:05d}.png" for i in range(count)], y)
