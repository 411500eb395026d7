"""Synthetic tables: fit a synthesizer on real rows, sample new rows, save and load it.

    synth = Synthesizer("ctgan", metadata={"columns": {"zip": "categorical"}}, epochs=300)
    synth.fit("table:fair")                  # or a DataFrame, a CSV path, 'csv:PATH'
    rows = synth.sample(1000, conditions={"occupation": 3})   # a pandas DataFrame
    synth.save("synth/"); synth = Synthesizer.load("synth/")

``fit`` infers column kinds (the metadata overrides them), fits the reversible
:class:`~genlab.tables.transformer.TableTransformer`, holds out ``holdout`` of the rows (for the
report's utility and privacy checks; 0 trains on every row), and trains the model (``ctgan`` or
``tvae``) with genlab's trainer, which gets the table layout through the model config. A saved
synthesizer is ``synthesizer.json`` (settings, transformer, which rows were held out) and
``model/`` (the usual model files): plain JSON and safetensors, no pickle.
"""
from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from genlab import registry
from genlab.config import from_dict, to_dict
from genlab.data.base import ArrayDataset, Splits
from genlab.data.tables import TableSource, load_table
from genlab.errors import CheckpointError, ConfigError, DataError
from genlab.io import atomic_directory, atomic_write_json, read_json
from genlab.precision import cpu_has_native_bf16
from genlab.tables.transformer import DISCRETE_KINDS, TableTransformer, read_metadata
from genlab.training import Callback, build_model, distributed, fit, model_config

SYNTH_FILE = "synthesizer.json"
SYNTH_FORMAT = 1
TABLE_MODELS = ("ctgan", "tvae")
# tvae trains in bf16 by default from this many rows a batch, on a CPU with native bf16 (see
# :func:`default_precision`): measured on an AVX512-BF16 CPU (docs/benchmarks.md, issue 17), bf16 took
# 0.78x fp32's CPU time at batch 500 (fair) and 0.93x at 189 (anes96), the same at 150 and 114 on
# anes96, 1.04x at 114 on breast cancer
TVAE_BF16_MIN_BATCH = 160


@dataclass
class SynthConfig:
    """How a synthesizer is built and trained.

    Attributes:
        model: 'ctgan' or 'tvae'.
        epochs: passes over the training rows (paper: 300).
        batch_size: rows per step (paper: 500; lowered to the training rows when fewer, and to a
            multiple of ctgan's pac). None (the default): 500 for ctgan; for tvae 500, or a quarter
            of the training rows (rounded up) when that is less, so that an epoch of a small table
            still makes 3-4 updates (the last, short batch is dropped: anes96's 755 training rows
            make batches of 189 and 3 updates; at 500 such a table gets one update per epoch, and 300 epochs leave
            tvae underfitted: TSTR 0.59 instead of 0.85 on anes96, see docs/benchmarks.md).
        holdout: share of rows held out from training for the report (utility, privacy).
        max_modes: most modes of a continuous column's Gaussian mixture.
        validate: compute the losses on the held-out rows after every epoch (metrics and the
            progress line; with few rows per epoch this costs as much as training).
        seed: seed of the hold-out split, the mixtures and training.
        model_config: fields of the model's config (e.g. {"pac": 5}).
        train: fields of :class:`genlab.config.TrainConfig` (device, precision, time_budget, ...).
            The precision is fp32 unless given, except tvae on a CPU with native bf16 at batches
            of 160 rows or more: bf16 (:func:`default_precision`; until session 7 of issue 17 every
            table model defaulted to fp32).
    """

    model: str = "ctgan"
    epochs: int = 300
    batch_size: int | None = None
    holdout: float = 0.2
    max_modes: int = 10
    validate: bool = False
    seed: int = 0
    model_config: dict = field(default_factory=dict)
    train: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.model not in TABLE_MODELS:
            registry.get(self.model)  # unknown name: the registry's did-you-mean error
            raise ValueError(f"model '{self.model}' does not synthesize tables; use {' or '.join(TABLE_MODELS)}")
        if self.epochs < 1 or (self.batch_size is not None and self.batch_size < 2):
            raise ValueError("epochs must be at least 1 and batch_size at least 2")
        if not 0 <= self.holdout < 0.9:
            raise ValueError(f"holdout must be in [0, 0.9), got {self.holdout}")
        if self.max_modes < 1:
            raise ValueError("max_modes must be at least 1")


@dataclass
class TrainingPlan:
    """What :meth:`Synthesizer.prepare` decided to train: the model, its config fields (with the
    table layout), the train config, the data, and the table's name."""

    model: str
    model_fields: dict[str, Any]
    train: dict[str, Any]
    splits: Splits
    source: str


def _resumable_spec(data: Any) -> str | None:
    """The spec that reads ``data`` again from another working directory (None for a DataFrame)."""
    if isinstance(data, Path) or (isinstance(data, str) and not data.startswith("table:")):
        path = str(data)[4:] if str(data).startswith("csv:") else str(data)
        return f"csv:{Path(path).expanduser().resolve()}"
    return data if isinstance(data, str) else None


def default_batch(model: str, rows: int) -> int:
    """The batch size when none is given (see SynthConfig.batch_size)."""
    if model == "tvae":
        return max(2, min(500, -(-rows // 4)))
    return 500


def default_precision(model: str, batch: int, train: dict[str, Any]) -> str:
    """The training precision of a table model: the one asked for in ``train``, except that tvae
    without one (or with 'auto') on a CPU trains in bf16 when the CPU computes bf16 natively
    (:func:`genlab.precision.cpu_has_native_bf16`: AVX512-BF16, AMX, ARM BF16; never assumed) and a
    batch has at least ``TVAE_BF16_MIN_BATCH`` rows (below that bf16 was not faster), else in fp32.
    ctgan, and tvae on a GPU, keep fp32 unless asked ('auto' is then the trainer's rule)."""
    requested = train.get("precision")
    if model != "tvae" or requested not in (None, "auto"):
        return str(requested or "fp32")
    if distributed.resolve_device(str(train.get("device", "auto"))).type != "cpu":
        return "auto" if requested == "auto" else "fp32"
    native, _ = cpu_has_native_bf16()
    return "bf16" if native and batch >= TVAE_BF16_MIN_BATCH else "fp32"


def fingerprint(frame: Any) -> str:
    """A hash of a table's columns and cells (to recognize the table a synthesizer was fitted on)."""
    import pandas as pd

    h = hashlib.sha256("\x1f".join(map(str, frame.columns)).encode())
    h.update(pd.util.hash_pandas_object(frame.astype(str), index=False).to_numpy().tobytes())
    return h.hexdigest()[:32]


def _train(model: str, model_fields: dict[str, Any], train_cfg: dict[str, Any], splits: Splits, source: str,
           callbacks: Sequence[Callback] = ()) -> Any:
    """The one call into the training layer: in memory (``callbacks``, e.g. the run layer's metrics
    file, see what the trainer reports)."""
    net = build_model(model, model_config(model, model_fields, splits, source), int(train_cfg.get("seed", 0)))
    return fit(net, splits, train_cfg, callbacks=callbacks)


class Synthesizer:
    """Fit on a table, sample synthetic rows; see the module docstring."""

    def __init__(self, model: str | SynthConfig | dict = "ctgan", metadata: Any = None, **fields: Any):
        if isinstance(model, SynthConfig):
            base = to_dict(model)
        elif isinstance(model, dict):
            base = dict(model)
        else:
            base = {"model": model}
        self.config = from_dict(SynthConfig, {**base, **fields}, "synthesizer config")
        if isinstance(metadata, (str, Path)):
            metadata = read_metadata_file(metadata)
        self.kinds = read_metadata(metadata)
        self.transformer: TableTransformer | None = None
        self.model: Any = None
        self.state: dict[str, Any] = {}

    # ------------------------------------------------------------------ fit
    def fit(self, data: Any, target: str | None = None, callbacks: Sequence[Callback] = ()) -> Synthesizer:
        """Train on a table (DataFrame, 'csv:PATH', 'table:NAME' or a CSV path).

        Args:
            callbacks: training callbacks (e.g. a metrics file; see what the trainer reports).
            target: the column the report predicts for utility (default: the source's own target,
                else the last column).
        """
        t0 = time.perf_counter()
        plan = self.prepare(data, target)
        t1 = time.perf_counter()
        self.model = _train(self.config.model, plan.model_fields, plan.train, plan.splits, plan.source,
                            callbacks).eval()
        self.state.update(fit_seconds=round(t1 - t0, 3), train_seconds=round(time.perf_counter() - t1, 3))
        return self

    def prepare(self, data: Any, target: str | None = None) -> TrainingPlan:
        """Everything :meth:`fit` does before training: read the table, fit the transformer, split
        off the held-out rows; returns what to train (the CLI trains it as a resumable run)."""
        cfg = self.config
        table = load_table(data)
        frame = table.frame
        kinds = {**table.kinds, **self.kinds}
        if target is not None and target not in frame.columns:
            raise DataError(f"target column '{target}' is not in {table.name}")
        self.transformer = TableTransformer(cfg.max_modes, cfg.seed).fit(frame, kinds, table.name)
        n = len(frame)
        perm = np.random.default_rng(cfg.seed).permutation(n)
        n_hold = int(round(n * cfg.holdout))
        hold, fit_rows = np.sort(perm[:n_hold]), np.sort(perm[n_hold:])
        pac = int(self.config.model_config.get("pac", 10)) if cfg.model == "ctgan" else 1
        if len(fit_rows) < max(2, pac):
            raise DataError(f"{table.name}: {len(fit_rows)} training rows are too few (need at least {max(2, pac)})")
        per_round = int(self.config.model_config.get("discriminator_steps", 1)) if cfg.model == "ctgan" else 1
        batch = min(default_batch(cfg.model, len(fit_rows)) if cfg.batch_size is None else cfg.batch_size,
                    len(fit_rows) // per_round)
        batch -= batch % pac
        discrete = [c.name for c, _ in self.transformer.discrete_blocks()]
        self.state = {"source": table.name, "data": _resumable_spec(data), "rows": n, "fingerprint": fingerprint(frame),
                      "holdout_rows": hold.tolist(), "target": target or table.target or frame.columns[-1],
                      "conditionable": discrete}
        precision = default_precision(cfg.model, batch, cfg.train)
        self.state["precision"] = precision
        train_cfg = {"epochs": cfg.epochs, "batch_size": batch, "seed": cfg.seed, "log_every": 0, "mode_check": "off",
                     "sample_every": 0, **cfg.train, "precision": precision}
        return TrainingPlan(cfg.model, {**cfg.model_config, **self._layout(n)}, train_cfg, self._splits(table),
                            table.name)

    def _splits(self, table: TableSource) -> Splits:
        """The training rows (and held-out rows when ``validate``) in the transformed layout."""
        assert self.transformer is not None
        frame, n = table.frame, len(table.frame)
        hold = np.array(self.state["holdout_rows"], dtype=np.int64)
        mask = np.zeros(n, dtype=bool)
        mask[hold] = True
        x = torch.from_numpy(self.transformer.transform(frame, table.name).astype(np.float32)).view(n, 1, 1, -1)
        train_x = x[torch.from_numpy(np.flatnonzero(~mask))]
        val_x = x[torch.from_numpy(hold)] if len(hold) else train_x[:min(len(train_x), 500)]
        if not self.config.validate:
            val_x = val_x[:0]  # an empty validation split: the trainer skips validation
        return Splits(*(ArrayDataset(t, name=table.name) for t in (train_x, val_x, val_x)))

    def resume_splits(self, data: Any = None) -> Splits:
        """The training data of an unfinished fit, rebuilt from its table (``data``, default: the
        spec it was fitted from), which must be the same table (checked by its fingerprint)."""
        spec = data if data is not None else self.state.get("data")
        if spec is None:
            raise ConfigError("this synthesizer was fitted on an in-memory table; name it again with --data")
        table = load_table(spec)
        if fingerprint(table.frame) != self.state.get("fingerprint"):
            raise DataError(f"{table.name} is not the table this fit started on (its rows or columns differ)")
        return self._splits(table)

    def _layout(self, rows: int) -> dict[str, Any]:
        """The model config fields that describe the table: blocks, discrete blocks, category counts."""
        assert self.transformer is not None
        blocks = self.transformer.discrete_blocks()
        return {"spans": self.transformer.spans(), "discrete": [b for _, b in blocks],
                "category_counts": [[round(f * rows, 6) for f in c.frequencies] for c, _ in blocks]}

    # ------------------------------------------------------------------ sample
    def _require_fitted(self) -> None:
        if self.model is None or self.transformer is None:
            raise ConfigError("the synthesizer is not fitted yet; call fit() or load a saved one")

    def _condition(self, conditions: dict[str, Any]) -> dict[int, int]:
        assert self.transformer is not None
        blocks = self.transformer.discrete_blocks()
        out = {}
        for name, value in conditions.items():
            col = self.transformer.column(name)
            if col.kind not in DISCRETE_KINDS:
                raise DataError(f"conditions work on categorical and boolean columns; '{name}' is {col.kind}")
            j = next(i for i, (c, _) in enumerate(blocks) if c.name == name)
            matches = [k for k, cat in enumerate(col.categories) if cat == value or str(cat) == str(value)
                       or (col.kind == "boolean" and str(cat).lower() == str(value).strip().lower())]
            if not matches:
                seen = ", ".join(map(str, col.categories[:12])) + (" ..." if len(col.categories) > 12 else "")
                raise DataError(f"column '{name}' never had the value {value!r} in training (seen: {seen})")
            out[j] = matches[0]
        return out

    def sample(self, n: int, conditions: dict[str, Any] | None = None, seed: int | None = None,
               batch_size: int = 10_000, clip: bool = True) -> Any:
        """``n`` synthetic rows as a DataFrame; ``conditions`` fixes categorical columns to values.

        ``clip=False`` lets numeric values leave the range seen in training (up to 4 standard
        deviations of a mode from its mean)."""
        self._require_fitted()
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n <= 0:
            raise DataError(f"the number of rows to sample must be a positive integer, got {n!r}")
        condition = self._condition(conditions or {})
        assert self.transformer is not None  # _require_fitted
        blocks = self.transformer.discrete_blocks()
        slices = [(s, e) for s, e, _ in _block_positions(self.transformer.spans())]
        chunks, have, tries = [], 0, 0
        with torch.random.fork_rng():
            torch.manual_seed(self.config.seed + 17 if seed is None else seed)
            while have < n:
                rows = self.model.sample(min(batch_size, max(n - have, 1000) if condition else n - have),
                                         condition=condition or None).cpu().numpy()
                for j, k in condition.items():  # models that cannot condition: keep the rows that meet it
                    s, e = slices[blocks[j][1]]
                    rows = rows[rows[:, s:e].argmax(1) == k]
                chunks.append(rows)
                have += len(rows)
                tries += 1
                if have < n and tries >= 100:
                    raise DataError(f"{self.config.model} produced only {have} of {n} rows meeting the conditions in "
                                    f"{tries} batches; use ctgan, which conditions directly")
        return self.transformer.inverse(np.concatenate(chunks)[:n], clip=clip)

    # ------------------------------------------------------------------ persistence
    def save(self, directory: str | Path, overwrite: bool = True) -> Path:
        """Write synthesizer.json and model/ into ``directory`` (atomically, beside anything else there)."""
        self._require_fitted()
        assert self.transformer is not None
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        if (directory / SYNTH_FILE).exists() and not overwrite:
            raise ConfigError(f"{directory} already holds a synthesizer; pass --overwrite to replace it")
        with atomic_directory(directory / "model") as tmp:
            self.model.save(tmp)
        self._write(directory, pending=False)
        return directory

    def save_pending(self, directory: str | Path) -> Path:
        """Write synthesizer.json of a fit that has not trained yet (after :meth:`prepare`): what a
        resumed fit needs besides the run's checkpoints. :meth:`load` refuses it until :meth:`save`."""
        assert self.transformer is not None, "prepare() first"
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self._write(directory, pending=True)
        return directory

    def _write(self, directory: Path, pending: bool) -> None:
        assert self.transformer is not None
        atomic_write_json(directory / SYNTH_FILE, {
            "format": SYNTH_FORMAT, "pending": pending, "config": to_dict(self.config),
            "metadata": {"columns": self.kinds}, "transformer": self.transformer.to_dict(), "state": self.state})

    @classmethod
    def load(cls, directory: str | Path, map_location: str = "cpu", pending: bool = False) -> Synthesizer:
        """A saved synthesizer. ``pending=True`` reads one whose fit has not finished (no model yet:
        `genlab synth fit --resume` continues it)."""
        from genlab.models.base import GenerativeModel

        directory = Path(directory)
        if not (directory / SYNTH_FILE).is_file():
            raise CheckpointError(f"{directory} is not a genlab synthesizer (no {SYNTH_FILE})")
        try:
            saved = read_json(directory / SYNTH_FILE)
            if saved.get("format") != SYNTH_FORMAT:
                raise CheckpointError(f"{directory / SYNTH_FILE} has format {saved.get('format')}, this genlab "
                                      f"reads {SYNTH_FORMAT}")
            synth = cls(saved["config"], metadata=saved["metadata"])
            synth.transformer = TableTransformer.from_dict(saved["transformer"])
            synth.state = saved["state"]
        except (KeyError, TypeError, ValueError) as e:
            raise CheckpointError(f"{directory / SYNTH_FILE} is corrupt: {e}") from None
        if saved.get("pending") and not pending:
            raise CheckpointError(f"the fit of {directory} did not finish; continue it with: "
                                  f"genlab synth fit --resume {directory}")
        if pending and not saved.get("pending"):
            raise CheckpointError(f"{directory} holds a finished synthesizer; there is no fit to resume")
        if pending:
            return synth
        synth.model = GenerativeModel.load(directory / "model", map_location=map_location).eval()
        return synth


def _block_positions(spans: list[list[int]]) -> list[tuple[int, int, int]]:
    out, pos = [], 0
    for size, kind in spans:
        out.append((pos, pos + size, kind))
        pos += size
    return out


def read_metadata_file(path: str | Path) -> dict[str, Any]:
    """A metadata JSON file ({"columns": {NAME: KIND}}), with one-line errors."""
    file = Path(path).expanduser()
    if not file.is_file():
        raise ConfigError(f"metadata file not found: {file}")
    try:
        return read_json(file)
    except ValueError as e:
        raise ConfigError(f"metadata file {file} is not valid JSON: {e}") from None


__all__ = ["SYNTH_FILE", "SynthConfig", "Synthesizer", "TableSource", "TrainingPlan", "fingerprint",
           "read_metadata_file"]
