"""``genlab train --tensorboard``: TensorBoard event files in ``RUN/tensorboard`` (an optional extra).

metrics.jsonl stays the record of a run (reports, resume and the tests read it); this callback mirrors
it for people who watch runs in TensorBoard: every scalar of the ``train_step``, ``train`` and
``validation`` records (tagged ``split/name``, so a GAN's ``train/discriminator/loss``), the sample grid
whenever one is drawn, and the run's config as text.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from genlab.errors import ConfigError
from genlab.runs.callbacks import grid_due
from genlab.training.callbacks import Callback
from genlab.training.trainer import EpochRecord, Trainer

TENSORBOARD_DIR = "tensorboard"
SKIP = {"step", "epoch", "split"}


def writer_class() -> Any:
    """``torch.utils.tensorboard.SummaryWriter``, or one line saying how to get the package."""
    try:
        from torch.utils.tensorboard import SummaryWriter  # deferred: needs the optional tensorboard package
    except ImportError:
        raise ConfigError("--tensorboard needs the tensorboard package: pip install 'genlab[tensorboard]'") from None
    return SummaryWriter


class TensorBoardLog(Callback):
    """Mirrors a run's records into TensorBoard (list it after ``SampleGrids``: it reads their latest grid)."""

    def __init__(self, run_dir: Path, config: dict[str, Any]):
        self.run_dir, self.config = run_dir, config
        self.writer_class = writer_class()  # a missing package stops the run before it starts
        self.writer: Any = None

    def scalars(self, split: str, record: Mapping[str, Any], step: int) -> None:
        for k, v in record.items():
            if k not in SKIP and isinstance(v, (int, float)) and not isinstance(v, bool):
                self.writer.add_scalar(f"{split}/{k}", float(v), step)

    def on_train_start(self, trainer: Trainer) -> None:  # the run directory exists from here on
        self.writer = self.writer_class(log_dir=str(self.run_dir / TENSORBOARD_DIR))
        self.writer.add_text("config", "```\n" + json.dumps(self.config, indent=1) + "\n```", trainer.step)

    def on_step_end(self, trainer: Trainer, logs: Mapping[str, float]) -> None:
        if trainer.cfg.log_every and trainer.step % trainer.cfg.log_every == 0:
            self.scalars("train_step", logs, trainer.step)

    def on_epoch_end(self, trainer: Trainer, record: EpochRecord) -> None:
        self.scalars("train", record.train, trainer.step)
        if record.validation:
            self.scalars("validation", record.validation, trainer.step)
        grid = self.run_dir / "samples.png"
        if grid_due(trainer, record) and grid.is_file():  # SampleGrids has just drawn it
            from PIL import Image

            with Image.open(grid) as img:
                self.writer.add_image("samples", np.asarray(img.convert("RGB")), trainer.step, dataformats="HWC")
        self.writer.flush()

    def on_end(self, trainer: Trainer) -> None:
        if self.writer is not None:
            self.writer.close()
