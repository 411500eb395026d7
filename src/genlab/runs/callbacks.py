"""The callbacks a run directory is made of: the run layer composes them with the trainer.

=============  ======================================================================
MetricsFile    metrics.jsonl: ``train_step`` every ``log_every`` steps; per epoch ``train``,
               ``validation`` and ``timing``; the run layer adds ``config_change`` and truncates
               the log on resume
SampleGrids    ``samples/epoch_NNN.png`` (or ``step_NNNNNNNN.png`` inside an epoch) and ``samples.png``
               every ``sample_every`` epochs and at the end; for a model with stages
               (:meth:`~genlab.models.base.GenerativeModel.sampling_stage`, e.g. progan)
               ``samples/stages/NAME.png``, the grid of a stage drawn when it ends and, for the
               current stage, with every other grid
LossCurves     ``loss_curves.png`` once, when the run ends or stops at an epoch end
Checkpointer   ``checkpoints/step-N/`` whenever the trainer says one is due; ``model.safetensors``
               becomes a hard link to its weights
ModeCheck      the mode monitor: after the checkpoint of an epoch end with a sample grid, a ``modes``
               record and a one-line warning on collapse
=============  ======================================================================

Console lines and the progress bar are :mod:`genlab.training.callbacks` (in-memory training shows
them too). Every callback here writes on rank 0 only: the run layer gives them no directory on the
other processes.
"""
from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch

from genlab.io import atomic_link, save_image_grid
from genlab.models.base import MODEL_WEIGHTS, GenerativeModel
from genlab.runs.metrics_log import MetricsLog, plot_loss_curves
from genlab.training.callbacks import Callback
from genlab.training.checkpoint import save_checkpoint
from genlab.training.trainer import SIGNAL_STOPS, EpochRecord, Trainer


def grid_due(trainer: Trainer, record: EpochRecord) -> bool:
    """Whether this epoch end draws a sample grid: every ``sample_every`` epochs, and at the end."""
    return record.last or bool(trainer.cfg.sample_every and trainer.epoch % trainer.cfg.sample_every == 0)


class MetricsFile(Callback):
    """Appends the loop's records to ``metrics.jsonl`` (nothing when ``path`` is None)."""

    def __init__(self, path: Path | None):
        self.log = MetricsLog(path)

    def write(self, record: dict[str, Any]) -> None:
        self.log.write(record)

    def truncate_after(self, step: int) -> None:
        """Drop records past ``step`` (a resume redoes that work); a temporary file and a rename."""
        self.log.truncate_after(step)

    def on_step_end(self, trainer: Trainer, logs: Mapping[str, float]) -> None:
        if trainer.cfg.log_every and trainer.step % trainer.cfg.log_every == 0:
            self.write({"step": trainer.step, "epoch": trainer.epoch, "split": "train_step", **logs})
        for record in trainer.model.training_records():  # the model's own events (progan's stages)
            self.write({"step": trainer.step, "epoch": trainer.epoch, **record})

    def on_epoch_end(self, trainer: Trainer, record: EpochRecord) -> None:
        self.write(record.train)
        if record.validation:
            self.write({"step": trainer.step, "epoch": record.train["epoch"], "split": "validation",
                        **record.validation})

    def on_epoch_timing(self, trainer: Trainer, timing: dict[str, Any]) -> None:
        self.write(timing)


class SampleGrids(Callback):
    """A grid of samples from fixed noise (the same every time, so progress can be watched)."""

    def __init__(self, run_dir: Path):
        self.run_dir = run_dir
        self.stage: tuple[str, dict[str, Any]] | None = None  # the stage the model sampled at after the last step

    def on_step_end(self, trainer: Trainer, logs: Mapping[str, float]) -> None:
        stage = trainer.model.sampling_stage()
        if stage is not None and self.stage is not None and stage[0] != self.stage[0]:
            self.save_stage(trainer, self.stage)  # the stage that just ended, as it was trained
        self.stage = stage

    def save_stage(self, trainer: Trainer, stage: tuple[str, dict[str, Any]]) -> None:
        """``samples/stages/NAME.png``: a grid of ``stage`` (name, sample options)."""
        save_samples(trainer, self.run_dir / "samples" / "stages" / f"{stage[0]}.png", **stage[1])

    def on_epoch_end(self, trainer: Trainer, record: EpochRecord) -> None:
        if grid_due(trainer, record):  # a grid inside an epoch is named by its step: it never replaces an epoch's
            name = f"epoch_{trainer.epoch:03d}.png" if record.epoch_done else f"step_{trainer.step:08d}.png"
            save_samples(trainer, self.run_dir / "samples" / name, self.run_dir / "samples.png")
            stage = trainer.model.sampling_stage()
            if stage is not None:
                self.save_stage(trainer, stage)


@torch.no_grad()
def save_samples(trainer: Trainer, path: Path, latest: Path | None = None, **options: Any) -> None:
    """Draw ``num_samples`` from the trainer's model (seed ``seed + 4242``, the global RNG untouched;
    ``options`` go to its ``sample_grid``) into ``path`` and ``latest``; models whose samples are not
    images draw nothing."""
    model = trainer.model
    if model.grid_from_data:  # translators: rows of fixed validation images (training images if there are none)
        options = {**options, "data": trainer.data.validation if len(trainer.data.validation) else trainer.data.train}
    model.eval()
    try:
        with torch.random.fork_rng(devices=[trainer.device] if trainer.device.type == "cuda" else []):
            torch.manual_seed(trainer.cfg.seed + 4242)
            images, nrow = model.sample_grid(trainer.cfg.num_samples, **options)
    except NotImplementedError:
        return
    finally:
        model.train()
    if images.dim() != 4:  # not images (e.g. sequences): there is no grid to draw
        return
    save_image_grid(images, path, nrow=nrow)
    if latest is not None:
        save_image_grid(images, latest, nrow=nrow)


class LossCurves(Callback):
    """``loss_curves.png`` from metrics.jsonl, drawn once when the run ends or stops."""

    def __init__(self, run_dir: Path):
        self.run_dir = run_dir

    def on_epoch_end(self, trainer: Trainer, record: EpochRecord) -> None:
        if record.last:
            plot_loss_curves(self.run_dir / "metrics.jsonl", self.run_dir / "loss_curves.png")


class Checkpointer(Callback):
    """Writes the trainer's state to ``checkpoints/`` when one is due (rank 0: it alone has a ``run_dir``)."""

    def __init__(self, run_dir: Path | None):
        self.run_dir = run_dir

    def on_checkpoint(self, trainer: Trainer) -> None:
        if self.run_dir is not None:
            path = save_checkpoint(self.run_dir, trainer.state_dict())
            atomic_link(path / MODEL_WEIGHTS, self.run_dir / MODEL_WEIGHTS)


class ModeCheck(Callback):
    """Runs a mode monitor (:class:`genlab.runs.monitor.ModeMonitor`) with every sample grid.

    The check runs after the epoch's checkpoint is written (list it after the :class:`Checkpointer`),
    so a failing check loses nothing; a failure is a warning and training goes on. Not after a stop
    by a signal.
    """

    def __init__(self, monitor: Callable[[GenerativeModel], dict[str, Any]], metrics: MetricsFile | None = None):
        self.monitor, self.metrics = monitor, metrics
        self.pending, self.epoch = False, 0

    def on_epoch_end(self, trainer: Trainer, record: EpochRecord) -> None:
        self.pending = grid_due(trainer, record) and trainer.stop_reason not in SIGNAL_STOPS
        self.epoch = record.train["epoch"]  # the epoch under way when the run ends inside one (as the train record)

    def on_checkpoint(self, trainer: Trainer) -> None:
        if not self.pending:
            return
        self.pending = False
        try:
            result = self.monitor(trainer.model)
        except Exception as e:  # noqa: BLE001 - monitoring must never stop training
            print(f"genlab: warning: mode check failed ({type(e).__name__}: {e}); training goes on", file=sys.stderr)
            return
        warning = result.pop("warning", None)
        if self.metrics is not None:
            self.metrics.write({"step": trainer.step, "epoch": self.epoch, "split": "modes", **result})
        if warning:
            print(f"genlab: warning: epoch {self.epoch}, step {trainer.step}: {warning}", file=sys.stderr,
                  flush=True)
