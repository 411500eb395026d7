"""Keeping the best model of a run by validation FD (``--keep-best fd``): early stopping for GANs.

A GAN's sample quality is not its loss and often does not end a run at its best (docs/benchmarks.md,
issue 16: progan's FD swings by 50-100 between evaluations at 64 px). With ``keep_best='fd'`` the
:class:`KeepBest` callback measures, at every epoch end and when the run ends (before that
checkpoint is written), the Frechet distance between ``keep_best_samples`` samples drawn from
fixed noise and as many VALIDATION images, in the features of the dataset's evaluation extractor
(the one `genlab evaluate` uses; built once if it is not cached); with ``keep_best_every=N`` every N
steps and at the run's end instead. It writes a ``selection`` record
to metrics.jsonl each time and, when the FD is the lowest so far, writes ``RUN/best/``:

    RUN/best/   model_config.json, model.safetensors (the whole model at that step, its EMA
                generator included), config.json (the run's), best.json (step, epoch, FD, samples,
                extractor)

``RUN/best`` is a run directory without checkpoints, so every command that reads a run takes it
(``genlab sample RUN/best``, ``genlab evaluate RUN/best``); the test split stays untouched by the
choice. It is written through a temporary folder and a rename.

The best-so-far (its FD, step and weights) is part of every checkpoint (the callback's
``state_key``), so a resumed run continues the selection exactly: the same records, the same
choice. A crash between writing ``best/`` and the checkpoint that follows leaves ``best/`` ahead
of the checkpoint; resuming puts back the checkpoint's best before training goes on, and the
steps redone find the same FD again.
"""
from __future__ import annotations

import json
import math
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import torch

from genlab.config import DataConfig, TrainConfig
from genlab.errors import ConfigError
from genlab.io import atomic_directory, atomic_write_bytes
from genlab.metrics.evaluate import generate
from genlab.metrics.features import cached_extractor
from genlab.metrics.fid import frechet_distance_of_features
from genlab.models.base import GenerativeModel
from genlab.runs import extractors  # a module reference: building an extractor trains a run (genlab.runs.run)
from genlab.runs.callbacks import MetricsFile
from genlab.training.callbacks import Callback
from genlab.training.trainer import SIGNAL_STOPS, EpochRecord, Trainer

BEST_DIR, BEST_INFO = "best", "best.json"
SELECTION_SEED = 5151  # added to the run's seed: the noise every selection sample is drawn from


class KeepBest(Callback):
    """Validation FD at every epoch end; the model of the lowest so far in ``run_dir/best``.

    Args:
        run_dir: the run directory (rank 0); ``best/`` is written inside it.
        config_name: the file name of the run's config, copied into ``best/`` (so it reads as a run).
        extractor: the dataset's :class:`~genlab.metrics.features.FeatureExtractor`.
        validation: the validation images (N, C, H, W), as stored; as many samples are drawn per measurement.
        seed: the sampling seed (the same noise every time).
        metrics: the run's metrics file, for the ``selection`` records.
        every: measure every this many steps and at the run's end (0: at every epoch end).
    """

    state_key = "keep_best"

    def __init__(self, run_dir: Path, config_name: str, extractor: Any, validation: torch.Tensor, seed: int,
                 metrics: MetricsFile, every: int = 0):
        self.run_dir, self.config_name, self.extractor, self.every = run_dir, config_name, extractor, every
        self.validation, self.seed, self.metrics = validation, seed, metrics
        self.real: torch.Tensor | None = None  # validation features, computed at the first measurement
        self.best: dict[str, Any] | None = None  # {"fd", "step", "epoch"}
        self.weights: dict[str, torch.Tensor] | None = None
        self.pending: int | None = None  # the epoch of a measurement a signal stop put off (done on resume)

    # --- checkpoint state ----------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {"meta": {"best": self.best, "pending": self.pending}, "tensors": dict(self.weights or {})}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        best = state["meta"].get("best")
        self.best = dict(best) if best else None
        self.weights = dict(state["tensors"]) if best else None
        self.pending = state["meta"].get("pending")

    # --- the hooks -----------------------------------------------------------------------------------
    def on_train_start(self, trainer: Trainer) -> None:
        if self.best is not None and on_disk(self.run_dir) != self.best["step"]:
            self.write(trainer.model)  # a crash left best/ ahead of (or without) the checkpoint's best
        elif self.best is None and (self.run_dir / BEST_DIR).exists():
            shutil.rmtree(self.run_dir / BEST_DIR, ignore_errors=True)  # a model the checkpoint does not know of
        if self.pending is not None:  # stopped by a signal at an epoch end: the model is the checkpoint's, measure it
            epoch, self.pending = self.pending, None
            self.select(trainer, epoch)

    def on_step_end(self, trainer: Trainer, logs: Any) -> None:
        if self.every and trainer.step % self.every == 0:
            self.select(trainer, trainer.epoch if trainer.round_in_epoch == 0 else trainer.epoch + 1)

    def on_epoch_end(self, trainer: Trainer, record: EpochRecord) -> None:
        if self.every and not (record.last and trainer.step % self.every):
            return  # measured by on_step_end (or not due); the run's end is always measured
        if trainer.stop_reason in SIGNAL_STOPS and trainer.step < trainer.total_steps:
            self.pending = record.train["epoch"]  # stop promptly; the resumed run measures this very model first
            return
        self.select(trainer, record.train["epoch"])

    def select(self, trainer: Trainer, epoch: int) -> None:
        """Measure the model at this step; keep it when it is the best so far; log the measurement."""
        fd = self.measure(trainer)
        step = trainer.step
        if math.isfinite(fd) and (self.best is None or fd < self.best["fd"]):  # a NaN FD is logged, never kept
            self.best = {"fd": fd, "step": step, "epoch": epoch}
            self.weights = {k: v.detach().to("cpu", copy=True) for k, v in trainer.model.state_dict().items()}
            self.write(trainer.model)
        best = self.best or {"fd": None, "step": None}
        self.metrics.write({"step": step, "epoch": epoch, "split": "selection", "fd": fd, "n": len(self.validation),
                            "extractor": self.extractor.id, "best_fd": best["fd"], "best_step": best["step"]})
        kept = "none yet" if self.best is None else f"{self.best['fd']:.4g} at step {self.best['step']}"
        print(f"  validation FD {fd:.4g} ({len(self.validation)} samples; best {kept})", file=sys.stderr, flush=True)

    def on_end(self, trainer: Trainer) -> None:
        if self.best is not None and trainer.stop_reason not in SIGNAL_STOPS:
            print(f"best by validation FD: {self.best['fd']:.4g} at step {self.best['step']} "
                  f"(epoch {self.best['epoch']}): {self.run_dir / BEST_DIR}", file=sys.stderr, flush=True)

    # --- the work ------------------------------------------------------------------------------------
    def measure(self, trainer: Trainer) -> float:
        """FD of as many samples of the trainer's model (fixed noise) as there are validation images; the
        model's train / eval mode is kept."""
        model = trainer.model
        if self.real is None:
            self.real = self.extractor(self.validation)[0]
        was_training = model.training
        try:
            images, _ = generate(model, len(self.validation), seed=self.seed)
        finally:
            model.train(was_training)
        self.extractor.check_images(images, f"samples of '{model.registry_name}'")
        return frechet_distance_of_features(self.real, self.extractor(images)[0])

    def write(self, model: GenerativeModel) -> None:
        """``run_dir/best`` from the kept weights, atomically."""
        assert self.best is not None and self.weights is not None
        info = {**self.best, "metric": "fd", "split": "validation", "n": len(self.validation),
                "extractor": self.extractor.id}
        with atomic_directory(self.run_dir / BEST_DIR) as tmp:
            model.save(tmp, weights=self.weights)
            shutil.copyfile(self.run_dir / self.config_name, tmp / self.config_name)
            atomic_write_bytes(tmp / BEST_INFO, (json.dumps(info, indent=2) + "\n").encode())


def on_disk(run_dir: Path) -> int | None:
    """The step of the model in ``run_dir/best``, or None when there is none (or it is unreadable)."""
    try:
        return int(json.loads((run_dir / BEST_DIR / BEST_INFO).read_text())["step"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def keep_best(run_dir: Path | None, cfg: TrainConfig, data: DataConfig, model: GenerativeModel, splits: Any,
              metrics: MetricsFile, config_name: str) -> KeepBest | None:
    """The :class:`KeepBest` callback a run gets under ``cfg.keep_best``, or None ('off', or not rank 0);
    ``config_name``: the run's config file (genlab.runs.run.RUN_CONFIG), copied into ``best/``.

    Raises:
        ConfigError: 'fd' for a model that cannot sample images, a dataset without labelled images
            (the extractor is a classifier of them) or without a validation split.
    """
    if cfg.keep_best == "off":
        return None
    why = None
    if not model.generative:
        why = f"model '{model.registry_name}' does not generate samples"
    elif len(splits.train.shape) != 3:
        why = "the data are not images"
    elif splits.train.y is None:
        why = "the images have no class labels (the evaluation extractor is a classifier trained on them)"
    elif len(splits.validation) < 2:
        why = "the dataset has no validation split (raise --validation-fraction)"
    if why is not None:
        raise ConfigError(f"--keep-best fd needs a generative image model and a labelled image dataset with a "
                          f"validation split: {why}")
    extractor = cached_extractor(data)
    if extractor is None and int(os.environ.get("WORLD_SIZE", "1")) > 1:  # every rank says so, none trains it
        raise ConfigError(f"--keep-best fd under torchrun needs the evaluation classifier for '{data.dataset}' "
                          f"cached first: build it with one process (`genlab evaluate` of any run on this data, or "
                          f"a short single-process `genlab train ... --keep-best fd`)")
    if run_dir is None:
        return None  # a process other than rank 0 (the run layer refuses it for training in memory)
    if extractor is None:
        print(f"genlab: note: --keep-best fd: training the evaluation classifier for '{data.dataset}' first "
              f"(once; cached for every later run and `genlab evaluate`)", file=sys.stderr, flush=True)
        extractor = extractors.build_extractor(data)
    validation = splits.validation.images(slice(0, cfg.keep_best_samples))
    return KeepBest(run_dir, config_name, extractor, validation, cfg.seed + SELECTION_SEED, metrics,
                    cfg.keep_best_every)
