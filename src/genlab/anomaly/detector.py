"""One anomaly detector over any suitable genlab model, for images, tables and time series.

    det = AnomalyDetector(model="conv-ae", train={"epochs": 10})
    det.fit(normal_images)                 # (N, C, H, W) or (N, H, W), uint8 or float in [0, 1]
    scores = det.score(test_images)        # (N,) float64, higher = more abnormal
    flags = det.predict(test_images)       # (N,) 0/1
    det.save("det/"); det = AnomalyDetector.load("det/")

What it does on ``fit``:

1. encodes the input: images as they are; a table through a :class:`TableEncoder` fitted on the
   training rows (min-max scaling, one-hot categories), presented to the model as (1, 1, F)
   "images"; a series (L, F) standardized with its training mean and std and cut into windows;
2. holds out ``holdout_fraction`` of the normal data (the last part of a series, in time order);
3. trains the model on the rest with the genlab trainer;
4. sets the threshold: the ``threshold_quantile`` quantile of the held-out scores (a false alarm
   rate of 1 - quantile on normal data), or, with ``contamination`` given (the share of anomalies
   in the training data, PyOD's convention), the 1 - contamination quantile of all training scores.
   For series a second threshold is set the same way on per-time-step scores.
"""
from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from genlab import formats, registry, training
from genlab.anomaly.scores import check_score, default_score, item_scores, step_errors
from genlab.anomaly.state import FittedState, Prepared, images_input, series_input
from genlab.anomaly.tables import Table, TableEncoder, as_table
from genlab.config import TrainConfig, from_dict, to_dict
from genlab.data.base import ArrayDataset, Splits
from genlab.data.sequences import windows
from genlab.errors import CheckpointError, ConfigError, DataError
from genlab.io import atomic_directory, atomic_write_json, read_json
from genlab.models.base import GenerativeModel

DETECTOR_FILE = "detector.json"
KINDS = ("images", "table", "series")
SEQUENCE_MODELS = ("recurrent-ae",)
DEFAULT_MODEL = {"images": "conv-ae", "table": "ae", "series": "recurrent-ae"}
# the detector trains in memory (no run directory, so no grids or checkpoints); no class monitor
DEFAULT_TRAIN = {"epochs": 20, "batch_size": 128, "log_every": 0, "mode_check": "off"}


@dataclass
class DetectorConfig:
    """How a detector is built, trained, scored and thresholded.

    Attributes:
        model: a registered model name; None = 'conv-ae' for images, 'ae' for tables,
            'recurrent-ae' for series.
        score: 'auto' ('elbo' for VAEs, 'disc' for GANs, else 'mse'), or one of
            mse, bce, elbo, nll, disc, latent (see :mod:`genlab.anomaly.scores`).
        kind: 'images', 'table' or 'series'; None = decided from the input and the model.
        contamination: share of anomalies in the training data; sets the threshold from
            training scores instead of held-out normal ones.
        threshold_quantile: quantile of held-out normal scores used as threshold.
        holdout_fraction: share of the normal training data held out for the threshold.
        nll_k: importance samples of the 'nll' score.
        latent_steps, latent_lr: gradient steps and Adam step size of the 'latent' score.
        window, stride: series only: window length, and the stride of training windows
            (scoring uses every window, stride 1).
        batch_size: scoring batch size.
        seed: seed of the hold-out split and of stochastic scores.
        model_config: fields of the model's config.
        train: fields of :class:`genlab.config.TrainConfig` (default: 20 epochs, batch 128).
    """

    model: str | None = None
    score: typing.Literal["auto", "mse", "bce", "elbo", "nll", "disc", "latent"] = "auto"
    kind: typing.Literal["images", "table", "series"] | None = None
    contamination: float | None = None
    threshold_quantile: float = 0.95
    holdout_fraction: float = 0.1
    nll_k: int = 100
    latent_steps: int = 200
    latent_lr: float = 0.05
    window: int = 32
    stride: int = 4
    batch_size: int = 256
    seed: int = 0
    model_config: dict = field(default_factory=dict)
    train: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.contamination is not None and not 0 < self.contamination < 0.5:
            raise ValueError(f"contamination must be in (0, 0.5), got {self.contamination}")
        if not 0 < self.threshold_quantile < 1:
            raise ValueError(f"threshold_quantile must be in (0, 1), got {self.threshold_quantile}")
        if not 0 < self.holdout_fraction < 0.9:
            raise ValueError(f"holdout_fraction must be in (0, 0.9), got {self.holdout_fraction}")
        if self.window < 2 or self.stride < 1:
            raise ValueError(f"window must be at least 2 and stride at least 1, got {self.window} and {self.stride}")
        if self.model is not None and self.model not in registry.MODELS:
            registry.get(self.model)  # raises the registry's did-you-mean error


class AnomalyDetector:
    """Fit on normal data, then score, flag, save and load; see the module docstring."""

    def __init__(self, config: DetectorConfig | dict | None = None, **fields: Any):
        if isinstance(config, DetectorConfig):
            config = to_dict(config)
        self.config = from_dict(DetectorConfig, {**(config or {}), **fields}, "detector config")
        self.model: Any = None
        self.kind: str | None = self.config.kind
        self.state = FittedState()  # what fit learned besides the model: threshold, encodings, shapes
        self.encoder: TableEncoder | None = None

    # ------------------------------------------------------------------ inputs
    def _decide_kind(self, data: Any) -> str:
        if self.kind is not None:
            return self.kind
        if self.config.model in SEQUENCE_MODELS:
            return "series"
        if isinstance(data, (Table, str, Path)) or hasattr(data, "columns"):
            return "table"
        ndim = data.dim() if isinstance(data, torch.Tensor) else np.asarray(data).ndim
        return "images" if ndim in (3, 4) else "table" if ndim == 2 else "series"

    def _encode(self, data: Any, where: str, drop: list[str] | None = None) -> torch.Tensor:
        """The model's input for a data set: images, encoded table rows (N, 1, 1, F), or series windows.

        ``drop``: table columns that are not features (e.g. a label column given only when scoring).
        """
        if self.kind == "images":
            return self._encode_images(data, where)
        if self.kind == "table":
            return self._encode_table(data, drop)
        return self._encode_series(data, where)

    def _encode_images(self, data: Any, where: str) -> torch.Tensor:
        x = images_input(data, where)
        shape = self.state.input_shape
        if shape is not None and list(x.shape[1:]) != list(shape):
            raise DataError(f"{where}: images of shape {tuple(x.shape[1:])} (C, H, W), but the detector was fitted "
                            f"on {tuple(shape)}; resize or convert them first")
        return x

    def _encode_table(self, data: Any, drop: list[str] | None) -> torch.Tensor:
        assert self.encoder is not None
        table = as_table(data)
        extra = [c for c in [self.state.label_column, *(drop or [])] if c and c in table.columns]
        if extra:
            table = table.drop(extra)
        return torch.from_numpy(self.encoder.transform(table)).view(len(table), 1, 1, -1)

    def _encode_series(self, data: Any, where: str) -> torch.Tensor:
        series = self._standardized(data, where)
        return torch.from_numpy(windows(series, self.config.window, 1).astype(np.float32))

    def _standardized(self, data: Any, where: str, columns: list[str] | None = None) -> np.ndarray:
        a = series_input(data, where)
        mean, std = np.asarray(self.state.mean), np.asarray(self.state.std)
        fitted = self.state.columns
        if columns is not None and fitted is not None and list(columns) != list(fitted):
            raise DataError(f"{where} has columns {', '.join(columns)}, but the detector was fitted on "
                            f"{', '.join(fitted)} (same names, same order)")
        if a.shape[1] != len(mean):
            raise DataError(f"{where}: the series has {a.shape[1]} columns, but the detector was fitted on {len(mean)}")
        if len(a) < self.config.window:
            raise DataError(f"{where}: the series has {len(a)} steps, fewer than the window ({self.config.window})")
        return (a - mean) / std

    # ------------------------------------------------------------------ fit
    def fit(self, data: Any, labels: Any = None, normal_classes: list[int] | None = None,
            label_column: str | None = None, normal_values: list[str] | None = None,
            source: str = "array", columns: list[str] | None = None,
            select_columns: list[str] | None = None) -> AnomalyDetector:
        """Train on normal data (or contaminated data with ``contamination`` set) and set the threshold.

        Args:
            data: images (N, C, H, W) / (N, H, W); a table (:class:`Table`, CSV path, 'sklearn:NAME',
                2-D array or DataFrame); or a series (L, F) / (L,) for the recurrent autoencoder.
            labels, normal_classes: keep only the items whose label is in ``normal_classes``.
            label_column, normal_values: tables: a column that is not a feature; rows whose value is
                in ``normal_values`` are the normal ones (all rows when None). Series: the column that
                held the labels (recorded, so scoring reads it again).
            source: a name for the data in the saved detector.
            columns: series: the column names, checked again when scoring with names.
            select_columns: tables and series: the columns the data was read with (recorded, so
                scoring reads the same columns by name).
        """
        cfg = self.config
        self.kind = self._decide_kind(data)
        model_name = cfg.model or DEFAULT_MODEL[self.kind]
        entry = registry.get(model_name)
        if (self.kind == "series") != (model_name in SEQUENCE_MODELS):
            raise ConfigError(f"model '{model_name}' does not take {self.kind}; use "
                              f"{'recurrent-ae' if self.kind == 'series' else 'an image model such as conv-ae or vae'}")
        score = default_score(entry.model_class) if cfg.score == "auto" else cfg.score
        check_score(entry.model_class, score)  # before training: a score the model cannot give fails now
        if score == "bce" and self.kind != "images":
            raise ConfigError(f"the 'bce' score needs inputs in [0, 1]; {self.kind} are not, use 'mse'")
        self.state = FittedState(source=source, model=model_name, score=score,
                                 select_columns=None if select_columns is None else list(select_columns))
        if self.kind == "images":
            prepared = self._fit_images(data, labels, normal_classes, source)
        elif self.kind == "table":
            prepared = self._fit_table(data, label_column, normal_values, source)
        else:
            prepared = self._fit_series(data, source, columns)
            self.state.label_column = label_column
        self.model = self._train(model_name, entry, prepared.fit_x, prepared.hold_x, source)
        check_score(self.model, score)
        self._calibrate(prepared)
        return self

    def _holdout(self, x: torch.Tensor, source: str) -> Prepared:
        """A random ``holdout_fraction`` of images or table rows held out (seeded)."""
        cfg = self.config
        if len(x) < 4:
            raise DataError(f"{source}: {len(x)} normal items are too few to fit a detector")
        perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(cfg.seed))
        n_hold = max(1, int(round(len(x) * cfg.holdout_fraction)))
        return Prepared(x[perm[n_hold:]], x[perm[:n_hold]])

    def _fit_images(self, data: Any, labels: Any, normal_classes: list[int] | None, source: str) -> Prepared:
        x = images_input(data, source)
        if normal_classes is not None:
            if labels is None:
                raise DataError(f"{source} has no labels, so normal classes cannot be chosen")
            y = torch.as_tensor(np.asarray(labels)).long()
            keep = torch.isin(y, torch.tensor(normal_classes))
            if not keep.any():
                raise DataError(f"{source} has no item of class {', '.join(map(str, normal_classes))}")
            x = x[keep]
            self.state.normal_classes = [int(c) for c in normal_classes]
        self.state.input_shape = list(x.shape[1:])
        return self._holdout(x, source)

    def _fit_table(self, data: Any, label_column: str | None, normal_values: list[str] | None,
                   source: str) -> Prepared:
        table = as_table(data)
        if label_column is not None:
            column = table.column(label_column)
            if normal_values is not None:
                keep = np.isin(column, [str(v) for v in normal_values])
                if not keep.any():
                    raise DataError(f"{table.source}: no row has {label_column} in "
                                    f"{', '.join(map(str, normal_values))}")
                table = table.rows(np.flatnonzero(keep))
            table = table.drop([label_column])
            self.state.label_column = label_column
            self.state.normal_values = None if normal_values is None else [str(v) for v in normal_values]
        self.encoder = TableEncoder().fit(table)
        x = torch.from_numpy(self.encoder.transform(table)).view(len(table), 1, 1, -1)
        return self._holdout(x, source)

    def _fit_series(self, data: Any, source: str, columns: list[str] | None) -> Prepared:
        cfg = self.config
        a = series_input(data, source)
        # the threshold needs a few windows of held-out steps: at least window + 20 steps
        n_hold = max(cfg.window + 20, int(round(len(a) * cfg.holdout_fraction)))
        if len(a) - n_hold < 2 * cfg.window:
            raise DataError(f"{source}: {len(a)} steps are too few for a window of {cfg.window}: fitting needs "
                            f"{2 * cfg.window} steps plus {cfg.window + 20} held out for the threshold; "
                            f"use a shorter --window")
        train_part = a[:len(a) - n_hold]
        mean, std = train_part.mean(0), train_part.std(0)
        self.state.mean, self.state.std = mean.tolist(), np.where(std > 0, std, 1.0).tolist()
        self.state.length, self.state.columns = len(a), None if columns is None else list(columns)
        s = self._standardized(a, source)
        fit_x = torch.from_numpy(windows(s[:len(a) - n_hold], cfg.window, cfg.stride).astype(np.float32))
        hold_series = s[len(a) - n_hold:]
        hold_x = torch.from_numpy(windows(hold_series, cfg.window, 1).astype(np.float32))
        return Prepared(fit_x, hold_x, hold_series)

    def _train(self, model_name: str, entry: Any, fit_x: torch.Tensor, hold_x: torch.Tensor, source: str) -> Any:
        cfg = self.config
        model_fields = dict(cfg.model_config)
        if self.kind == "table":  # a small MLP suits tables; the user's fields win
            names = {f.name for f in dataclasses.fields(entry.config_class)}
            width = fit_x.shape[-1]
            defaults = {"architecture": "mlp", "mlp_hidden": [max(16, 2 * width), max(8, width)],
                        "latent_dim": max(1, min(8, width // 2)), "reconstruction": "mse", "likelihood": "gaussian"}
            model_fields = {**{k: v for k, v in defaults.items() if k in names}, **model_fields}
        held_out = ArrayDataset(hold_x, name=source)
        splits = Splits(ArrayDataset(fit_x, name=source), held_out, held_out)
        train_cfg = {**DEFAULT_TRAIN, "seed": cfg.seed, **cfg.train}
        train_cfg["batch_size"] = min(int(train_cfg["batch_size"]), len(fit_x))
        train = from_dict(TrainConfig, train_cfg, "train config")
        fields = training.model_config(model_name, model_fields, splits, source)
        model = training.build_model(model_name, fields, train.seed)
        return training.fit(model, splits, train, callbacks=training.console_callbacks()).eval()

    def _calibrate(self, prepared: Prepared) -> None:
        cfg, st = self.config, self.state
        hold = self._scores(prepared.hold_x).numpy()
        if cfg.contamination is not None:
            pool = np.concatenate([self._scores(prepared.fit_x).numpy(), hold])
            q = 1 - cfg.contamination
        else:
            pool, q = hold, cfg.threshold_quantile
        st.threshold = float(np.quantile(pool, q))
        st.threshold_from = "contamination" if cfg.contamination else "held-out normal data"
        st.threshold_quantile, st.calibration_items = q, int(len(pool))
        st.holdout_score_mean, st.holdout_score_std = float(hold.mean()), float(hold.std())
        if prepared.hold_series is not None:
            steps = self._step_scores_standardized(prepared.hold_series)
            st.step_threshold = float(np.quantile(steps, q))

    # ------------------------------------------------------------------ scores
    def _scores(self, x: torch.Tensor) -> torch.Tensor:
        cfg = self.config
        return item_scores(self.model, x, self.state.score, cfg.batch_size, cfg.nll_k, cfg.latent_steps,
                           cfg.latent_lr, cfg.seed)

    def _require_fitted(self) -> None:
        if self.model is None:
            raise ConfigError("the detector is not fitted yet; call fit() or load a saved one")

    def score(self, data: Any, where: str = "input", drop: list[str] | None = None) -> np.ndarray:
        """Anomaly scores (N,), higher = more abnormal: per image, per table row, or per series window.

        ``drop``: table columns to leave out (a label column the detector was not told of at fit time).
        """
        self._require_fitted()
        return self._scores(self._encode(data, where, drop)).numpy()

    def predict(self, data: Any, where: str = "input", drop: list[str] | None = None) -> np.ndarray:
        """0 (normal) / 1 (anomaly) per item at the calibrated threshold."""
        return (self.score(data, where, drop) > self.state.threshold).astype(np.int64)

    @property
    def threshold(self) -> float:
        self._require_fitted()
        return float(self.state.threshold)

    @property
    def step_threshold(self) -> float:
        """Series only: the threshold on per-time-step scores."""
        self._require_fitted()
        if self.state.step_threshold is None:
            raise ConfigError(f"per-step scores are for series; this detector was fitted on {self.kind}")
        return float(self.state.step_threshold)

    def _step_scores_standardized(self, s: np.ndarray) -> np.ndarray:
        w = self.config.window
        x = torch.from_numpy(windows(s, w, 1).astype(np.float32))
        errs = []
        with torch.no_grad():
            for i in range(0, len(x), self.config.batch_size):
                xb = x[i:i + self.config.batch_size].to(self.model.device)
                errs.append(step_errors(self.model, xb).double().cpu())
        err = torch.cat(errs).numpy()  # (N, w): error of step j of window i = time i + j
        total, count = np.zeros(len(s)), np.zeros(len(s))
        for j in range(w):
            total[j:j + len(err)] += err[:, j]
            count[j:j + len(err)] += 1
        return total / count

    def score_steps(self, series: Any, where: str = "input", columns: list[str] | None = None) -> np.ndarray:
        """Series only: a score per time step (L,), the squared error at that step averaged over every
        window covering it. ``columns`` (names of the series' columns) are checked against the fitted ones."""
        self._require_fitted()
        if self.kind != "series":
            raise ConfigError(f"score_steps is for series; this detector was fitted on {self.kind}")
        return self._step_scores_standardized(self._standardized(series, where, columns))

    def predict_steps(self, series: Any, where: str = "input", columns: list[str] | None = None) -> np.ndarray:
        """Series only: 0/1 per time step at the per-step threshold calibrated on held-out normal steps."""
        return (self.score_steps(series, where, columns) > self.step_threshold).astype(np.int64)

    # ------------------------------------------------------------------ persistence
    def save(self, directory: str | Path, overwrite: bool = False) -> Path:
        """Write detector.json (config, threshold, encodings) and the model, atomically."""
        self._require_fitted()
        directory = Path(directory)
        occupied = directory.is_file() or (directory.is_dir() and any(directory.iterdir()))
        if occupied:
            if not overwrite:
                raise ConfigError(f"{directory} already exists; pass --overwrite to replace it")
            if not (directory / DETECTOR_FILE).is_file():
                raise ConfigError(f"refusing to overwrite {directory}: it is not a genlab detector")
        with atomic_directory(directory) as tmp:
            self.model.save(tmp / "model")
            atomic_write_json(tmp / DETECTOR_FILE, formats.stamp({
                "kind": self.kind, "config": to_dict(self.config), "state": dataclasses.asdict(self.state),
                "table_encoder": self.encoder.to_dict() if self.encoder is not None else None}))
        return directory

    @classmethod
    def load(cls, directory: str | Path, map_location: str = "cpu") -> AnomalyDetector:
        """Rebuild a saved detector (files of older formats are migrated, see :mod:`genlab.formats`)."""
        directory = Path(directory)
        path = directory / DETECTOR_FILE
        if not path.is_file():
            raise CheckpointError(f"{directory} is not a genlab anomaly detector (no {DETECTOR_FILE})")
        try:
            data = read_json(path)
        except ValueError as e:
            raise CheckpointError(f"{path} is corrupt: {e}") from None
        saved = formats.read_saved(formats.DETECTOR, data, path)
        body = saved.body
        formats.refuse_unknown(saved, body.get("state"), formats.config_fields(FittedState), "state")
        try:
            det = cls(from_dict(DetectorConfig, body["config"], saved.origin))
            det.kind, det.state = body["kind"], FittedState(**body["state"])
            det.encoder = TableEncoder.from_dict(body["table_encoder"]) if body["table_encoder"] else None
        except (KeyError, TypeError, ValueError) as e:
            raise CheckpointError(f"{path} is corrupt: {e}") from None
        det.model = GenerativeModel.load(directory / "model", map_location=map_location).eval()
        return det
