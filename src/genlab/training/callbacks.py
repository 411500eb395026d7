"""Callbacks: what the training loop reports to, and the two that only talk to the console.

A callback overrides any of the hooks of :class:`Callback`; the trainer calls them in list order
(see :mod:`genlab.training.trainer` for when). Callbacks that write a run directory (metrics.jsonl,
sample grids, loss curves, checkpoints, the mode monitor) belong to the run layer
(:mod:`genlab.runs.callbacks`); the console ones live here because in-memory training (the anomaly
detector, :func:`genlab.training.fit`) reports progress too and knows no run layer.
"""
from __future__ import annotations

import sys
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # annotations only: the trainer imports this module
    from genlab.training.trainer import EpochRecord, Trainer


def shown_keys(logs: Mapping[str, Any], n: int = 4) -> list[str]:
    """The keys a console line shows: every phase's ``loss`` first, then the others, ``n`` in all."""
    losses = [k for k in logs if k == "loss" or k.endswith("/loss")]
    return (losses + [k for k in logs if k not in losses])[:max(n, len(losses))]


class Callback:
    """The hooks of the training loop; each does nothing unless overridden.

    A callback with state of its own that a resumed run must continue from (the best-so-far of
    :class:`genlab.runs.selection.KeepBest`) names it with ``state_key``: the trainer's
    :meth:`~genlab.training.trainer.Trainer.state_dict` then holds ``state_dict()`` under
    ``callbacks[state_key]`` (``{"meta": JSON values, "tensors": name -> tensor}``), the checkpoint
    stores it, and resuming calls ``load_state_dict`` with it before the first step (not at all when the
    checkpoint has none: a run that turns the callback on at resume starts it fresh).
    """

    state_key: str | None = None

    def state_dict(self) -> dict[str, Any]:
        """``{"meta": {...JSON...}, "tensors": {name: tensor}}``: what a checkpoint keeps of this callback."""
        return {"meta": {}, "tensors": {}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from a :meth:`state_dict` read back from a checkpoint."""

    def on_train_start(self, trainer: Trainer) -> None:
        """Before the first step of :meth:`Trainer.fit` (also when there is nothing left to train)."""

    def on_step_end(self, trainer: Trainer, logs: Mapping[str, float]) -> None:
        """After a step (``trainer.step`` already counts it); ``logs`` are its losses."""

    def on_epoch_end(self, trainer: Trainer, record: EpochRecord) -> None:
        """At an epoch end, or when the run ends inside an epoch (rank 0 only)."""

    def on_checkpoint(self, trainer: Trainer) -> None:
        """A checkpoint is due: write ``trainer.state_dict()`` (every process is called; rank 0 writes)."""

    def on_epoch_timing(self, trainer: Trainer, timing: dict[str, Any]) -> None:
        """Last in an epoch end (rank 0 only): the ``timing`` record of where the epoch's wall time went."""

    def on_end(self, trainer: Trainer) -> None:
        """When the loop ends (steps done, a time budget or a signal; not when an exception leaves it)."""


class ConsoleLine(Callback):
    """One line per epoch on stderr (the shown losses, validation, speed), and the resolved precision
    when ``--precision auto`` chose it and there is training to do. Rank 0 only."""

    def on_train_start(self, trainer: Trainer) -> None:
        if trainer.dist.is_main and trainer.cfg.precision == "auto" and trainer.step < trainer.total_steps \
                and trainer.stop_reason is None:
            print(f"precision {trainer.precision.name} ({trainer.precision.reason})", file=sys.stderr, flush=True)

    def on_epoch_end(self, trainer: Trainer, record: EpochRecord) -> None:
        train = record.train
        shown = "  ".join(f"{k} {train[k]:.4g}" for k in record.shown)
        vshown = "  ".join(f"val {k} {v:.4g}" for k, v in list(record.validation.items())[:2])
        label = (f"epoch {trainer.epoch}" if record.epoch_done
                 else f"epoch {trainer.epoch + 1} (partial, {trainer.round_in_epoch} rounds)")
        print(f"{label} step {trainer.step}: {shown}  {vshown}  {train['images_per_s']:.0f} img/s "
              f"{train['epoch_time']:.1f}s", file=sys.stderr, flush=True)


class ProgressBar(Callback):
    """A tqdm bar per pass over an epoch, on an interactive stderr of rank 0 (losses and img/s)."""

    def __init__(self) -> None:
        self.bar: Any = None
        self.epoch = -1
        self.t0 = 0.0

    def on_step_end(self, trainer: Trainer, logs: Mapping[str, float]) -> None:
        if not (trainer.dist.is_main and sys.stderr.isatty()):
            return
        epoch = trainer.epoch if trainer.round_in_epoch else trainer.epoch - 1  # the epoch this step belongs to
        if self.bar is None or epoch != self.epoch:
            from tqdm.auto import tqdm  # deferred: an optional display, imported once a bar is shown

            self.close()
            self.epoch, self.t0 = epoch, time.perf_counter()
            self.bar = tqdm(total=trainer.pass_rounds, desc=f"epoch {epoch + 1}/{trainer.n_epochs}", leave=False,
                            dynamic_ncols=True)
        if self.bar.n % 10 == 0:
            rate = trainer.pass_images / max(time.perf_counter() - self.t0, 1e-9)
            self.bar.set_postfix({k: f"{logs[k]:.4g}" for k in shown_keys(logs)} | {"img/s": f"{rate:.0f}"},
                                 refresh=False)
        self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def on_epoch_end(self, trainer: Trainer, record: EpochRecord) -> None:
        self.close()

    def on_checkpoint(self, trainer: Trainer) -> None:
        if trainer.stop_reason is not None:  # a signal inside an epoch: no epoch end follows
            self.close()

    def on_end(self, trainer: Trainer) -> None:
        self.close()


def console_callbacks() -> list[Callback]:
    """What a run shows on the console: the progress bar (interactive only) and the epoch lines."""
    return [ProgressBar(), ConsoleLine()]
