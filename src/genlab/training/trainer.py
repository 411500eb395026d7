"""The one generic training loop: rounds of phases, precision, distribution, checkpoint state,
stop conditions, and callbacks.

A *step* is one round: every phase of the model (``model.phases()``) runs its ``repeats`` updates,
each on a fresh batch. An epoch is as many rounds as the shard of the training split can feed.

Per update the trainer clears every gradient, computes ``model(batch, phase)['loss']`` under the
chosen precision, checks it is finite on every process, back-propagates, clips, and steps only the
phase's optimizer, then calls ``model.after_step(phase)``.

The trainer knows no run directory, file or console: everything that leaves the loop goes through
its callbacks (:class:`genlab.training.callbacks.Callback`), called in list order:

- ``on_train_start(trainer)``: before the first step of this call of :meth:`Trainer.fit`;
- ``on_step_end(trainer, logs)``: after every step, with its losses (``trainer.step`` counted);
- ``on_epoch_end(trainer, record)``: at the end of an epoch, and when a run ends inside one (``--steps``,
  a time budget), with an :class:`EpochRecord` (train means and timing, validation);
- ``on_checkpoint(trainer)``: when a checkpoint is due (after every epoch end, every
  ``checkpoint_every`` steps, and when a signal stops the run); the trainer decides the cadence,
  a callback writes :meth:`Trainer.state_dict`;
- ``on_epoch_timing(trainer, timing)``: last in an epoch end, where the epoch's wall time went
  (including the time the callbacks took);
- ``on_end(trainer)``: when the loop ends (complete, time budget or signal; not on an exception).
"""
from __future__ import annotations

import contextlib
import math
import os
import signal
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import torch
from torch import nn

from genlab.config import OptimizerConfig, TrainConfig, check_phase_names
from genlab.cpu import tune_allocator
from genlab.data.base import Batch, BatchIterator, Splits, eval_batches
from genlab.errors import ConfigError, Interrupted, TrainingDiverged
from genlab.models.base import GenerativeModel, Phase
from genlab.precision import autocast, resolve_precision
from genlab.training import distributed
from genlab.training.callbacks import Callback, shown_keys


def build_optimizer(params: list[nn.Parameter], cfg: OptimizerConfig) -> torch.optim.Optimizer:
    if not params:
        raise ConfigError("a training phase has no trainable parameters")
    # the fused kernel: the same update in one pass over every parameter (on CPU a small model's
    # per-tensor Adam was ~0.5 ms a step; docs/benchmarks.md, issue 17)
    fused = all(p.is_floating_point() and p.device.type in ("cpu", "cuda") for p in params) or None
    if cfg.name == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, betas=(cfg.betas[0], cfg.betas[1]), weight_decay=cfg.weight_decay,
                                fused=fused)
    if cfg.name == "adamw":
        return torch.optim.AdamW(params, lr=cfg.lr, betas=(cfg.betas[0], cfg.betas[1]),
                                 weight_decay=cfg.weight_decay, fused=fused)
    if cfg.name == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    if cfg.name == "rmsprop":
        return torch.optim.RMSprop(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    raise ConfigError(f"unknown optimizer '{cfg.name}'")


def lr_factor(step: int, total: int, schedule: str, warmup: int, budget_progress: float = 0.0) -> float:
    """Multiplier of the base learning rate at ``step`` (a pure function: nothing to checkpoint).

    The schedule's progress is the share of the steps done, or, when a time budget ends the run, the
    share of the budget spent (``budget_progress``), whichever is further: a run stopped by its budget
    anneals over the budget, not over a step count it never reaches."""
    if warmup and step < warmup:
        return (step + 1) / warmup
    if schedule == "constant":
        return 1.0
    progress = max((step - warmup) / max(1, total - warmup), budget_progress)
    if schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))
    if schedule == "step":
        return 0.1 ** ((progress >= 0.5) + (progress >= 0.75))
    if schedule == "decay":  # constant for the first half, then linearly to zero (CycleGAN, sec. 7.1)
        return max(0.0, min(1.0, 2.0 * (1.0 - progress)))
    raise ConfigError(f"unknown schedule '{schedule}'")


def step_seed(seed: int, step: int, rank: int) -> int:
    """The RNG seed of one training step on one process."""
    return (seed * 1_000_003 + step * 7_919 + rank * 104_729 + 17) % (2**63 - 1)


class StopSignals:
    """Turns SIGINT/SIGTERM into a flag the loop checks after each step (then checkpoints).

    The CLI and ``runs.train`` / ``runs.resume`` enter it before loading data, so a signal that
    arrives before the first step still ends the run cleanly (the trainer checks the flag before
    its loop too). Nested uses share one flag; the outermost installs and restores the handlers.
    A second signal stops at once (KeyboardInterrupt).
    """

    _depth = 0
    _received: int | None = None
    _old: dict[int, Any] = {}

    @property
    def received(self) -> int | None:
        return StopSignals._received

    def __enter__(self) -> StopSignals:
        if StopSignals._depth == 0:
            StopSignals._received = None
            if threading.current_thread() is threading.main_thread():
                StopSignals._old = {sig: signal.signal(sig, StopSignals._handle)
                                    for sig in (signal.SIGINT, signal.SIGTERM)}
        StopSignals._depth += 1
        return self

    @staticmethod
    def _handle(signum: int, frame: Any) -> None:
        if StopSignals._received is not None:  # a second Ctrl-C stops at once
            raise KeyboardInterrupt
        StopSignals._received = signum

    def __exit__(self, *exc: Any) -> None:
        StopSignals._depth -= 1
        if StopSignals._depth == 0:
            for sig, handler in StopSignals._old.items():
                signal.signal(sig, handler)
            StopSignals._old = {}


_StopSignals = StopSignals  # the name older code imports

SIGNAL_STOPS = ("SIGINT", "SIGTERM")
# updates whose losses may wait for a finiteness check (a bound on the list, and on how late a NaN is seen
# when nothing is logged or saved for long: one sync per this many updates)
UNCHECKED_LIMIT = 1024


@dataclass
class EpochRecord:
    """What :meth:`Callback.on_epoch_end` receives.

    Attributes:
        train: the ``train`` record (step, epoch, losses averaged over the epoch's rounds, images_per_s,
            epoch_time, data_time, compute_time, images_seen (real images trained on since the run
            began), cpu_time (CPU-seconds of training rounds since the run began, every thread of
            this process; validation and sample grids are not in it), lr; a run that ends inside an
            epoch adds partial_epoch, rounds and epochs_done).
        validation: mean validation metrics (empty when there is no validation split or none was due).
        epoch_done: whether the epoch is complete (False: the run ended inside it).
        last: whether the run ends here (all steps done, a time budget, or a signal at the epoch end).
        shown: the keys a console line shows (every phase's loss first).
    """

    train: dict[str, Any]
    validation: dict[str, float] = field(default_factory=dict)
    epoch_done: bool = True
    last: bool = False
    shown: list[str] = field(default_factory=list)


class StepLogs(Mapping[str, float]):
    """One step's logged losses, kept on the device until a value is read; the first read fetches all
    of them at once (one host sync), so callbacks that look only at log points stall nothing else."""

    def __init__(self, keys: tuple[str, ...], values: torch.Tensor):
        self.keys_, self.tensor = keys, values
        self._values: dict[str, float] | None = None

    def _read(self) -> dict[str, float]:
        if self._values is None:
            self._values = dict(zip(self.keys_, self.tensor.tolist(), strict=True))
        return self._values

    def __getitem__(self, key: str) -> float:
        return self._read()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys_)

    def __len__(self) -> int:
        return len(self.keys_)

    def __repr__(self) -> str:
        return f"StepLogs({self._read()!r})"


class LossSums:
    """Running sums of an epoch's logged losses, kept on the device and read only when asked.

    Each key is summed in step order in float64 (float32 on mps), the figures a sum of Python floats
    gives, so a resumed epoch's mean is exact. Values already read (a checkpoint's) live in ``host``.
    """

    def __init__(self, device: torch.device, host: dict[str, float] | None = None):
        self.device = device
        self.dtype = torch.float32 if device.type == "mps" else torch.float64
        self.host: dict[str, float] = dict(host or {})
        self.keys: tuple[str, ...] = ()
        self.vec: torch.Tensor | None = None

    def add(self, logs: StepLogs) -> None:
        if self.vec is None or logs.keys_ != self.keys:
            self.flush()
            self.keys = logs.keys_
            self.vec = torch.tensor([self.host.get(k, 0.0) for k in self.keys], dtype=self.dtype, device=self.device)
        self.vec += logs.tensor

    def flush(self) -> None:
        if self.vec is not None:
            self.host.update(zip(self.keys, self.vec.tolist(), strict=True))
            self.vec, self.keys = None, ()

    def read(self) -> dict[str, float]:
        """The sums as Python floats (a host sync when some are still on the device)."""
        self.flush()
        return self.host


class Trainer:
    """Trains a :class:`GenerativeModel` on in-memory splits.

    Args:
        model: the model (on CPU; the trainer moves it).
        data: train / validation / test splits.
        cfg: the training configuration.
        binarize: binarization mode of the data config (applied per batch).
        callbacks: called at the points of the loop listed in the module docstring, in order.
    """

    def __init__(self, model: GenerativeModel, data: Splits, cfg: TrainConfig, binarize: str = "none",
                 callbacks: Sequence[Callback] = ()):
        self.cfg, self.data, self.binarize = cfg, data, binarize
        self.callbacks: list[Callback] = list(callbacks)
        self.device = distributed.resolve_device(cfg.device, int(os.environ.get("LOCAL_RANK", "0")))
        tune_allocator()  # keep freed activation blocks in the heap (genlab/cpu.py: 15-20% less CPU time)
        self.dist = distributed.setup(self.device)
        if cfg.deterministic:
            if self.device.type == "cuda":  # cuBLAS is deterministic only with a fixed workspace (read at its start)
                os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
            torch.use_deterministic_algorithms(True)
        if cfg.precision == "bf16" and self.device.type == "mps":
            raise ConfigError("bf16 autocast is not supported on mps; use --precision fp32")
        if cfg.batch_size % self.dist.world_size:
            raise ConfigError(f"batch_size {cfg.batch_size} does not divide evenly over "
                              f"{self.dist.world_size} processes")
        self.model = model.to(self.device)
        if cfg.channels_last:  # 4-D weights (conv kernels) in NHWC; batches follow in _round
            self.model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        self.precision = resolve_precision(cfg.precision, self.device, model)  # 'auto' -> fp32 or bf16, with why
        self.phases: list[Phase] = model.phases()
        check_phase_names(cfg.phase_lr, [p.name for p in self.phases])
        self.optimizers = {p.name: build_optimizer(model.phase_parameters(p), self._optimizer_cfg(p))
                           for p in self.phases}
        self.base_lr = {k: [g["lr"] for g in opt.param_groups] for k, opt in self.optimizers.items()}
        self.wrapped: nn.Module = model
        if self.dist.enabled:
            self.wrapped = nn.parallel.DistributedDataParallel(
                model, device_ids=[self.device.index] if self.device.type == "cuda" else None,
                find_unused_parameters=len(self.phases) > 1 or model.partial_updates)
        if cfg.compile:  # the forward pass (losses) compiled; weights, optimizers and checkpoints stay the model's
            self.wrapped = cast(nn.Module, torch.compile(self.wrapped))
        self.batches = BatchIterator(data.train, cfg.batch_size // self.dist.world_size, cfg.seed, binarize,
                                     self.dist.rank, self.dist.world_size, device=self.device)
        if not self.phases[0].fresh_batch or any(not p.fresh_batch and p.repeats != 1 for p in self.phases):
            raise ConfigError("a phase that reuses the previous batch must follow another phase and run once")
        self.batches_per_round = sum(p.repeats for p in self.phases if p.fresh_batch)
        self.rounds_per_epoch = len(self.batches) // self.batches_per_round
        if self.rounds_per_epoch == 0:
            raise ConfigError(f"one training round needs {self.batches_per_round} batches but an epoch has only "
                              f"{len(self.batches)}; lower --batch-size")
        self.total_steps = cfg.steps if cfg.steps is not None else cfg.epochs * self.rounds_per_epoch
        self.step, self.epoch, self.round_in_epoch, self.elapsed = 0, 0, 0, 0.0
        self._budget_progress = 0.0  # under torchrun: the share of the budget spent, agreed at each stop check
        # real images trained on (every process; a phase that reuses a batch adds none) and CPU-seconds of the
        # training rounds on this process (threads included), both over the whole run (in checkpoints)
        self.images, self.cpu_time = 0, 0.0
        # running sums of the current epoch's logged losses, on the device (in checkpoints: a resumed epoch's
        # mean is exact)
        self.sums = LossSums(self.device)
        # every update's loss since the last finiteness check (step, phase, loss on the device): checked at log
        # points, before every checkpoint and epoch record, and at the end, never by a host sync per step
        self._unchecked: list[tuple[int, str, torch.Tensor]] = []
        self.epoch_rounds = 0
        self.stop_reason: str | None = None
        self.signals = StopSignals()
        self.resume_command: str | None = None  # set by the run layer: how to resume this run (for messages)
        self.checkpointed_step: int | None = None  # the step of the newest checkpoint (None: none yet)
        self.pass_rounds = 0  # rounds this pass over the current epoch will run (for progress displays)
        self.pass_images = 0  # images the current pass has trained on so far
        self._validation_time = 0.0

    # --- setup helpers -------------------------------------------------------------------------
    def _optimizer_cfg(self, phase: Phase) -> OptimizerConfig:
        return self.cfg.optimizer_for(phase.optimizer, phase.name)

    def _autocast(self) -> contextlib.AbstractContextManager:
        return autocast(self.precision.name, self.device)

    def _call(self, hook: str, *args: Any) -> None:
        for cb in self.callbacks:
            getattr(cb, hook)(self, *args)

    @property
    def epoch_sums(self) -> dict[str, float]:
        """Running sums of the current epoch's logged losses (read from the device)."""
        return dict(self.sums.read())

    @epoch_sums.setter
    def epoch_sums(self, sums: dict[str, float]) -> None:
        self.sums = LossSums(self.device, sums)

    @property
    def n_epochs(self) -> int:
        """Epochs the run spans (the last may be partial)."""
        return math.ceil(self.total_steps / self.rounds_per_epoch)

    # --- checkpoint state ----------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        """The trainer's position (JSON): step, epoch, place in the epoch, budget time, the epoch's running sums."""
        return {"step": self.step, "epoch": self.epoch, "round_in_epoch": self.round_in_epoch,
                "elapsed": self.elapsed, "total_steps": self.total_steps, "complete": self.step >= self.total_steps,
                "epoch_sums": self.epoch_sums, "epoch_rounds": self.epoch_rounds, "images": self.images,
                "cpu_time": self.cpu_time}

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue exactly: ``model`` (its state dict), ``buffers`` (its
        non-persistent buffers: training state that is not part of the saved model), ``optimizers``
        (name -> state dict), ``position`` (:meth:`state`) and ``callbacks`` (the state of each callback
        that names a ``state_key``). Random state needs no snapshot: every
        draw follows from (seed, step, epoch, position)."""
        persistent = set(self.model.state_dict())
        return {"model": self.model.state_dict(),
                "buffers": {n: b for n, b in self.model.named_buffers() if n not in persistent},
                "optimizers": {k: opt.state_dict() for k, opt in self.optimizers.items()},
                "position": self.state(),
                "callbacks": {cb.state_key: cb.state_dict() for cb in self.callbacks if cb.state_key}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from a :meth:`state_dict` (model, optimizers, position).

        Raises:
            ValueError: the state does not fit this model or its optimizers (the message says how).
        """
        try:
            self.model.load_state_dict(state["model"])
        except RuntimeError:
            raise ValueError("does not fit this model's architecture") from None
        opt_states = state["optimizers"]
        if not isinstance(opt_states, dict) or set(opt_states) != set(self.optimizers):
            found = sorted(opt_states) if isinstance(opt_states, dict) else type(opt_states).__name__
            raise ValueError(f"has optimizers {found}, the model needs {sorted(self.optimizers)}")
        try:
            for k, opt in self.optimizers.items():
                opt.load_state_dict(opt_states[k])
        except (ValueError, KeyError, TypeError):
            raise ValueError("has optimizer states that do not fit this model") from None
        for opt in self.optimizers.values():  # saved states are contiguous: give them their parameter's layout
            for p, st in opt.state.items():
                for key, v in st.items():
                    if isinstance(v, torch.Tensor) and v.shape == p.shape and v.stride() != p.stride():
                        st[key] = torch.empty_like(p, dtype=v.dtype).copy_(v)
        persistent = set(self.model.state_dict())
        own = {n: b for n, b in self.model.named_buffers() if n not in persistent}
        with torch.no_grad():
            for k, v in state.get("buffers", {}).items():
                if k in own and own[k].shape == v.shape:
                    own[k].copy_(v)
        saved = state.get("callbacks") or {}
        for cb in self.callbacks:
            if cb.state_key and cb.state_key in saved:
                cb.load_state_dict(saved[cb.state_key])
        pos = state["position"]
        self.step, self.epoch = int(pos["step"]), int(pos["epoch"])
        self.round_in_epoch, self.elapsed = int(pos["round_in_epoch"]), float(pos["elapsed"])
        self._budget_progress = self.elapsed / self.cfg.time_budget if self.cfg.time_budget else 0.0
        self.images, self.cpu_time = int(pos.get("images", 0)), float(pos.get("cpu_time", 0.0))  # 0: older genlab
        if self.round_in_epoch == 0:  # at an epoch boundary nothing carries over (checkpoints of genlab <= 0.2.0.dev0
            self.epoch_sums, self.epoch_rounds = {}, 0  # hold the finished epoch's sums there)
        elif "epoch_sums" in pos:
            self.epoch_sums = {k: float(v) for k, v in pos["epoch_sums"].items()}
            self.epoch_rounds = int(pos["epoch_rounds"])
        else:  # a checkpoint of an older genlab: the resumed epoch's mean covers the rounds after it
            self.epoch_sums, self.epoch_rounds = {}, 0
        self.checkpointed_step = self.step

    def checkpoint(self) -> None:
        """A checkpoint is due: the ``on_checkpoint`` callbacks write :meth:`state_dict` (never of weights
        that a non-finite loss has touched: :meth:`check_finite` raises first)."""
        self.check_finite()
        self._call("on_checkpoint")
        self.checkpointed_step = self.step

    # --- the loop ----------------------------------------------------------------------------------
    def fit(self) -> GenerativeModel:
        """Train until ``total_steps``, the time budget, a signal, or divergence."""
        try:
            return self._fit()
        except (TrainingDiverged, Interrupted, KeyboardInterrupt):
            raise
        except Exception:
            # a loss went non-finite and later code failed on what it did (NaN weights, NaN probabilities):
            # report the divergence, not the failure it caused
            self.check_finite(reduce=False)
            raise

    def _fit(self) -> GenerativeModel:
        with self.signals as signals:
            self._check_stop(signals, budget=False)  # a signal during setup (data loading, ...) stops before step 1
            self._call("on_train_start")
            while self.step < self.total_steps and self.stop_reason is None:
                self.model.train()
                batches = self.batches.epoch(self.epoch, start=self.round_in_epoch * self.batches_per_round)
                rounds = min(self.rounds_per_epoch - self.round_in_epoch, self.total_steps - self.step)
                self.pass_rounds, self.pass_images = rounds, 0
                sums = self.sums  # carried over from a checkpoint taken inside this epoch
                data_time = compute_time = 0.0
                t_epoch = time.perf_counter()
                done = 0  # rounds run in this pass (fewer than the epoch's after a resume or a stop)
                for _ in range(rounds):
                    cpu0 = time.process_time()
                    logs, dt, ct, n_img = self._round(batches)
                    data_time, compute_time = data_time + dt, compute_time + ct
                    self.pass_images += n_img
                    self.images += n_img
                    sums.add(logs)
                    self.epoch_rounds += 1
                    self.step += 1
                    self.round_in_epoch += 1
                    done += 1
                    cpu = time.process_time() - cpu0
                    self.cpu_time += cpu
                    self.elapsed += (dt + ct) if self.cfg.budget_clock == "wall" else cpu
                    if (self.cfg.log_every and self.step % self.cfg.log_every == 0) \
                            or len(self._unchecked) >= UNCHECKED_LIMIT:
                        self.check_finite()  # a log point (the values are read anyway), or a long list
                    self._call("on_step_end", logs)
                    self._check_stop(signals)
                    if self.stop_reason:
                        break
                    if self.cfg.checkpoint_every and self.step % self.cfg.checkpoint_every == 0 \
                            and self.round_in_epoch < self.rounds_per_epoch:
                        self.checkpoint()
                epoch_time = time.perf_counter() - t_epoch
                epoch_done = self.round_in_epoch >= self.rounds_per_epoch
                if epoch_done:
                    self.epoch += 1
                    self.round_in_epoch = 0
                t_end = time.perf_counter()
                # a signal inside an epoch: only a checkpoint (the resume finishes the epoch and its record); in the
                # run's last round the run is complete, so it ends as a straight run does (its record, its grid)
                signal_stop = self.stop_reason in SIGNAL_STOPS and not epoch_done and self.step < self.total_steps
                if signal_stop:
                    if done:
                        self.checkpoint()
                    distributed.barrier(self.dist)
                else:
                    self.check_finite()  # before the epoch's record, grids and checkpoint
                    ended_sums, ended_rounds = sums.read(), self.epoch_rounds
                    if epoch_done:  # before the epoch-end checkpoint: it carries no sums into the next epoch
                        self.sums, self.epoch_rounds = LossSums(self.device), 0
                    self._end_of_epoch(ended_sums, ended_rounds, self.pass_images, epoch_time, data_time, compute_time,
                                       epoch_done)
                if done and self.dist.is_main and not signal_stop:  # where the wall time of the epoch went
                    end_time = time.perf_counter() - t_end
                    self._call("on_epoch_timing", {
                        "step": self.step, "epoch": self.epoch if epoch_done else self.epoch + 1, "split": "timing",
                        "wall_time": epoch_time + end_time, "compute_time": compute_time,
                        "data_time": data_time, "loop_overhead_time": epoch_time - compute_time - data_time,
                        "validation_time": self._validation_time,
                        "end_of_epoch_io_time": end_time - self._validation_time})
            self.check_finite()
            self._call("on_end")
        if self.stop_reason in SIGNAL_STOPS:
            raise Interrupted(self.stop_reason, self.step, self.checkpointed_step is not None)
        return self.model

    def _round(self, batches: Iterator[Batch]) -> tuple[StepLogs, float, float, int]:
        """One step: every phase's updates. Returns logs (on the device), data seconds, compute seconds, images."""
        seed = step_seed(self.cfg.seed, self.step, self.dist.rank)
        if self.device.type == "cpu":  # the CPU generator only: torch.manual_seed also queues a lazy CUDA
            torch.default_generator.manual_seed(seed)  # seeding with a captured stack (~0.4 ms a step)
        else:
            torch.manual_seed(seed)
        f = lr_factor(self.step, self.total_steps, self.cfg.schedule, self.cfg.warmup_steps, self.budget_progress)
        for opt, base in zip(self.optimizers.values(), self.base_lr.values(), strict=True):
            for group, lr in zip(opt.param_groups, base, strict=True):
                group["lr"] = lr * f
        logs: dict[str, torch.Tensor] = {}
        data_time = compute_time = 0.0
        n_images = 0
        batch: Batch | None = None
        for phase in self.phases:
            for _ in range(phase.repeats):
                t0 = time.perf_counter()
                if phase.fresh_batch or batch is None:
                    batch = next(batches)
                    if self.cfg.channels_last and batch.x.dim() == 4:
                        batch = batch._replace(x=batch.x.contiguous(memory_format=torch.channels_last))
                    n_images += batch.x.shape[0] * self.dist.world_size
                t1 = time.perf_counter()
                losses = self._update(phase, batch)
                compute_time += time.perf_counter() - t1
                data_time += t1 - t0
            prefix = "" if len(self.phases) == 1 else f"{phase.name}/"
            logs.update({prefix + k: v for k, v in losses.items()})
        values = torch.stack([torch.as_tensor(v, device=self.device).reshape(()).float() for v in logs.values()])
        return StepLogs(tuple(logs), values.to(self.sums.dtype)), data_time, compute_time, n_images

    def _update(self, phase: Phase, batch: Batch) -> dict[str, torch.Tensor]:
        self.model.zero_grad(set_to_none=True)
        with self._autocast():
            losses = self.wrapped(batch, phase.name)
        loss = losses["loss"]
        # no host sync here: the loss is checked later (check_finite), before anything is logged or saved
        self._unchecked.append((self.step + 1, phase.name, loss.detach()))
        loss.backward()
        if self.cfg.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.model.phase_parameters(phase), self.cfg.grad_clip)
        self.optimizers[phase.name].step()
        self.model.after_step(phase.name)
        return {k: v.detach() if isinstance(v, torch.Tensor) else v for k, v in losses.items()}

    def check_finite(self, reduce: bool = True) -> None:
        """Stop with :class:`TrainingDiverged` when a loss since the last check was NaN or infinite.

        One host sync (and, with several processes, one all-reduce) for all the updates since the last
        check. The message names the first step whose loss went bad; no checkpoint is written after it, so
        the last good one stays. ``reduce=False`` (after a failure) looks at this process only.
        """
        pending, self._unchecked = self._unchecked, []
        first: tuple[int, str, float] | None = None
        if pending:
            values = torch.stack([v.reshape(()).float() for _, _, v in pending])
            finite = torch.isfinite(values)
            if not bool(finite.all()):
                i = int((~finite).nonzero()[0, 0])
                first = (pending[i][0], pending[i][1], float(values[i]))
        if reduce and self.dist.enabled:
            flag = torch.tensor([first[0] if first else 0], device=self.device)
            bad_step = int(distributed.any_flag(flag, self.dist).item())
            if bad_step and first is None:
                first = (bad_step, "", float("nan"))
        if first is not None:
            self.stop_reason = "diverged"
            step, name, value = first
            phase = next((p for p in self.phases if p.name == name), self.phases[0])
            raise TrainingDiverged(self._diverged_message(phase, value, step, known=bool(name)))

    def _diverged_message(self, phase: Phase, value: float, step: int, known: bool = True) -> str:
        """What happened, what is kept, and the resume command with the flags that may rescue the run."""
        if known:
            what = f"loss of phase '{phase.name}' became {value} at step {step}"
        else:
            what = f"a loss became non-finite on another process by step {step}"
        if self.checkpointed_step is None:
            kept = "no checkpoint was written yet (a resume starts again from step 0)"
        else:
            kept = f"the last good checkpoint (step {self.checkpointed_step}) is kept"
        lr = self.base_lr[phase.name][0] / 2
        if len(self.phases) > 1 or phase.name in self.cfg.phase_lr:
            flags = [f"--phase-lr {phase.name}={lr:.3g}"]
        else:
            flags = [f"--lr {lr:.3g}"]
        flags.append(f"--grad-clip {self.cfg.grad_clip / 2:.3g}" if self.cfg.grad_clip > 0 else "--grad-clip 1")
        if self.precision.name != "fp32":
            flags.append("--precision fp32")
        if self.resume_command is None:
            return f"{what}; {kept} (lower the learning rate or add gradient clipping)"
        return f"{what}; {kept}; to rescue it: {self.resume_command} {' '.join(flags)}"

    @property
    def budget_progress(self) -> float:
        """The share of the time budget spent (0 without one), as every process agrees on it: the
        schedule's progress when a budget ends the run (:func:`lr_factor`)."""
        if self.cfg.time_budget is None or self.cfg.time_budget <= 0:
            return 0.0
        return self._budget_progress if self.dist.enabled else self.elapsed / self.cfg.time_budget

    def _check_stop(self, signals: StopSignals, budget: bool = True) -> None:
        spent = self.elapsed / self.cfg.time_budget if self.cfg.time_budget else 0.0
        budget = budget and self.cfg.time_budget is not None and self.elapsed >= self.cfg.time_budget
        received, budget_hit = signals.received or 0, int(budget)
        if self.dist.enabled:  # one process decides alone: no tensor, no device round trip per step
            flags = torch.tensor([received, budget_hit, spent], dtype=torch.float64, device=self.device)
            got = distributed.any_flag(flags, self.dist).tolist()  # the budget spent: the furthest process's
            received, budget_hit, self._budget_progress = int(got[0]), int(got[1]), float(got[2])
        if received:
            self.stop_reason = signal.Signals(received).name
        elif budget_hit:
            self.stop_reason = "time_budget"
            self.total_steps = self.step  # the budget ends the run: it is complete

    def _end_of_epoch(self, sums: dict[str, float], rounds: int, images: int, epoch_time: float,
                      data_time: float, compute_time: float, epoch_done: bool) -> None:
        if rounds == 0:
            return
        partial = not epoch_done  # the last rounds of a run that ends inside an epoch (--steps, a time budget)
        record = {"step": self.step, "epoch": self.epoch + 1 if partial else self.epoch, "split": "train",
                  **({"partial_epoch": True, "rounds": rounds,
                      "epochs_done": self.epoch + rounds / self.rounds_per_epoch} if partial else {}),
                  **{k: v / rounds for k, v in sums.items()},
                  "images_per_s": images / max(epoch_time, 1e-9), "epoch_time": epoch_time,
                  "data_time": data_time, "compute_time": compute_time,
                  "images_seen": self.images, "cpu_time": self.cpu_time,
                  "lr": self.optimizers[self.phases[0].name].param_groups[0]["lr"]}
        t_val = time.perf_counter()
        val = self.validate() if (epoch_done or self.step >= self.total_steps) else {}
        self._validation_time = time.perf_counter() - t_val
        if self.dist.is_main:
            last = self.step >= self.total_steps or self.stop_reason is not None
            self._call("on_epoch_end", EpochRecord(record, val, epoch_done, last, shown_keys(sums)))
        self.checkpoint()
        distributed.barrier(self.dist)

    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        """Mean validation metrics (rank 0 only, a fixed random stream: comparable across epochs)."""
        if not self.dist.is_main or len(self.data.validation) == 0 or self.cfg.eval_batches == 0:
            return {}  # no validation split, or validation switched off (eval_batches 0)
        self.model.eval()
        sums: dict[str, float] = {}
        n = 0
        limit = None if self.cfg.eval_batches is None else self.cfg.eval_batches * self.cfg.batch_size
        with torch.random.fork_rng(devices=[self.device] if self.device.type == "cuda" else []):
            torch.manual_seed(self.cfg.seed + 99_991)
            for batch in eval_batches(self.data.validation, self.cfg.batch_size, self.binarize, device=self.device,
                                      limit=limit):
                with self._autocast():
                    metrics = self.model.evaluate(batch)
                b = batch.x.shape[0]
                for k, v in metrics.items():
                    sums[k] = sums.get(k, 0.0) + v * b
                n += b
        self.model.train()
        return {k: v / n for k, v in sums.items()}


__all__ = ["EpochRecord", "Interrupted", "LossSums", "StepLogs", "StopSignals", "Trainer", "build_optimizer",
           "lr_factor", "shown_keys", "step_seed"]
