"""Sequence datasets: numeric tables and time series cut into windows, and npz sequences.

Every source becomes float32 sequences (N, T, F) in an :class:`ArrayDataset`, standardized per
feature with the mean and standard deviation of the training split only; those statistics are
kept in ``ArrayDataset.info`` (and written to ``data_info.json`` in a run directory), so
``x * std + mean`` maps results back to the original units.

* One long series (``csv:FILE``, the named statsmodels series, an npz holding ``series``) is split
  in time order, first ``1 - validation_fraction - test_fraction`` for training, then validation,
  then test, so no held-out window overlaps a training point; each part is then cut into windows
  of ``window`` steps every ``stride`` steps.
* Many sequences (an npz holding ``sequences`` (N, T, F) or (N, T), with optional ``lengths``
  (N,) and labels ``y``) are split at random like images. A sequence shorter than T is padded
  with NaN after its length, which is how the mask travels with every batch.
"""
from __future__ import annotations

from collections.abc import Callable, Container
from pathlib import Path

import numpy as np
import torch

from genlab.config import DataConfig, suggest
from genlab.data.base import ArrayDataset, Splits, split_off
from genlab.data.csv import numeric_columns
from genlab.data.npz import load_npz
from genlab.errors import DataError

# ------------------------------------------------------------------------------ shared helpers

def windows(series: np.ndarray, window: int, stride: int) -> np.ndarray:
    """Cut (L, F) into overlapping windows (N, window, F), N = (L - window) // stride + 1."""
    starts = np.arange(0, len(series) - window + 1, stride)
    return np.stack([series[s:s + window] for s in starts]) if len(starts) else np.empty((0, window, series.shape[1]))


def _standardize(train: np.ndarray, columns: list[str]) -> dict:
    """Per-feature mean and std of the (finite) training values of (..., F)."""
    flat = train.reshape(-1, train.shape[-1])
    mean = np.nanmean(flat, axis=0)
    std = np.nanstd(flat, axis=0)
    std = np.where(std > 0, std, 1.0)  # a constant feature is only centred
    return {"columns": columns, "mean": mean.tolist(), "std": std.tolist()}


def _apply(x: np.ndarray, info: dict) -> torch.Tensor:
    return torch.from_numpy(((x - np.asarray(info["mean"])) / np.asarray(info["std"])).astype(np.float32))


def _select(table: np.ndarray, names: list[str], wanted: tuple[str, ...], source: str) -> tuple[np.ndarray, list[str]]:
    """The columns of (L, K) a config asks for (all when ``wanted`` is empty)."""
    if not wanted:
        return table, names
    index = []
    for w in wanted:
        if w not in names:
            raise DataError(f"{source} has no column '{w}'{suggest(w, names)}; columns: {', '.join(names)}")
        index.append(names.index(w))
    return table[:, index], list(wanted)


def series_splits(series: np.ndarray, names: list[str], cfg: DataConfig, source: str) -> Splits:
    """Split one long series (L, F) in time order, standardize with the training part, window it.

    Args:
        series: float (L, F), finite.
        names: the F column names.
        cfg: ``window``, ``stride``, ``columns`` and the split fractions.
        source: name used in messages.

    Returns:
        Splits of float32 windows (N, window, F); ``info`` holds columns, mean and std.
    """
    series, names = _select(series, names, tuple(cfg.columns), source)
    n = len(series)
    n_val, n_test = round(n * cfg.validation_fraction), round(n * cfg.test_fraction)
    parts = {"train": series[:n - n_val - n_test], "validation": series[n - n_val - n_test:n - n_test],
             "test": series[n - n_test:]}
    for split, part in parts.items():
        if len(part) < cfg.window:
            raise DataError(f"{source}: the {split} part has {len(part)} of {n} time steps, fewer than --window "
                            f"{cfg.window}; lower --window or change --validation-fraction/--test-fraction")
    info = {**_standardize(parts["train"], names), "source": source, "length": n,
            "split_steps": [len(p) for p in parts.values()]}
    out = {k: ArrayDataset(_apply(windows(p, cfg.window, cfg.stride), info), None, cfg.dataset, [], info)
           for k, p in parts.items()}
    return Splits(out["train"], out["validation"], out["test"])


# ----------------------------------------------------------------------------------- csv:FILE

def load_csv(cfg: DataConfig, path: str) -> Splits:
    """A CSV table of a time series (rows in time order): its numeric columns, windowed.

    The cell rules (header, missing values, text columns, ``--columns``) are those of
    :mod:`genlab.data.csv`, shared with the anomaly tables.
    """
    file = Path(path).expanduser()
    if not file.is_file():
        raise DataError(f"csv dataset: {file} is not a file")
    table, names = numeric_columns(file, tuple(cfg.columns))
    return series_splits(table, names, cfg, str(file))


# -------------------------------------------------------------------------- named real series

def _co2() -> tuple[np.ndarray, list[str]]:
    import statsmodels.api as sm

    frame = sm.datasets.co2.load_pandas().data.interpolate(limit_direction="both")  # 59 missing weeks
    return frame.to_numpy(float), list(frame.columns)


def _column_frame(name: str, drop: tuple[str, ...]) -> Callable[[], tuple[np.ndarray, list[str]]]:
    def read() -> tuple[np.ndarray, list[str]]:
        import statsmodels.api as sm

        frame = getattr(sm.datasets, name).load_pandas().data.drop(columns=list(drop))
        return frame.to_numpy(float), list(frame.columns)
    return read


def _elnino() -> tuple[np.ndarray, list[str]]:
    import statsmodels.api as sm

    frame = sm.datasets.elnino.load_pandas().data  # one row per year, one column per month
    return frame.drop(columns=["YEAR"]).to_numpy(float).reshape(-1, 1), ["sea_surface_temperature"]


# name -> (reader of (L, F) values and column names, description)
SERIES: dict[str, tuple[Callable[[], tuple[np.ndarray, list[str]]], str]] = {
    "co2": (_co2, "Mauna Loa weekly CO2 (ppm), 1958-2001, 2284 steps (statsmodels; gaps interpolated)"),
    "sunspots": (_column_frame("sunspots", ("YEAR",)), "yearly sunspot numbers 1700-2008, 309 steps (statsmodels)"),
    "nile": (_column_frame("nile", ("year",)), "yearly Nile flow at Aswan 1871-1970, 100 steps (statsmodels)"),
    "elnino": (_elnino, "monthly El Nino sea surface temperature 1950-2010, 732 steps (statsmodels)"),
    "macrodata": (_column_frame("macrodata", ("year", "quarter")),
                  "US quarterly macroeconomic data 1959-2009, 203 steps x 12 series (statsmodels)"),
}


def named_series_loader(name: str) -> Callable[[DataConfig, str | None], Splits]:
    """The ``DATASETS`` loader of one named series."""
    def load(cfg: DataConfig, path: str | None = None) -> Splits:
        values, names = SERIES[name][0]()
        return series_splits(values, names, cfg, name)
    load.__doc__ = f"Load the '{name}' series, split in time order and windowed."
    return load


# ------------------------------------------------------------------------------ npz sequences

def is_sequence_npz(keys: Container[str]) -> bool:
    """True when npz arrays with these names (a dict or the names) hold sequences."""
    return "sequences" in keys or "series" in keys


def load_sequence_npz(cfg: DataConfig, arrays: dict[str, np.ndarray], where: str) -> Splits:
    """Sequences from npz arrays: ``series`` (L, F) / (L,), or ``sequences`` (N, T, F) / (N, T)
    with optional ``lengths`` (N,) and integer labels ``y`` (N,)."""
    if "series" in arrays:
        s = np.asarray(arrays["series"], dtype=float)
        s = s[:, None] if s.ndim == 1 else s
        if s.ndim != 2 or not np.isfinite(s).all():
            raise DataError(f"{where}: 'series' must be a finite (L, F) or (L,) array, "
                            f"got shape {arrays['series'].shape}")
        return series_splits(s, [str(i) for i in range(s.shape[1])], cfg, where)
    x = np.asarray(arrays["sequences"])
    if not np.issubdtype(x.dtype, np.number):
        raise DataError(f"{where}: 'sequences' must be numeric, got {x.dtype}")
    x = x.astype(float)
    x = x[..., None] if x.ndim == 2 else x
    if x.ndim != 3 or len(x) == 0:
        raise DataError(f"{where}: 'sequences' must be (N, T, F) or (N, T), "
                        f"got shape {arrays['sequences'].shape}")
    n, t, _ = x.shape
    if "lengths" in arrays:
        lengths = np.asarray(arrays["lengths"])
        if (lengths.shape != (n,) or not np.issubdtype(lengths.dtype, np.integer)
                or lengths.min() < 1 or lengths.max() > t):
            raise DataError(f"{where}: 'lengths' must be {n} integers in 1..{t}")
        x[np.arange(t)[None, :] >= lengths[:, None]] = np.nan  # padding after each sequence's end
    if not np.isfinite(x[~np.isnan(x).all(-1)]).all():
        raise DataError(f"{where}: 'sequences' holds nan or inf inside a sequence (mark padding with 'lengths')")
    y = arrays.get("y")
    if y is not None and (y.shape != (n,) or not np.issubdtype(y.dtype, np.integer)):
        raise DataError(f"{where}: 'y' must be {n} integer labels")
    ds = ArrayDataset(torch.from_numpy(x), None if y is None else torch.from_numpy(y.astype(np.int64)), cfg.dataset)
    splits = split_off(ds, (cfg.validation_fraction, cfg.test_fraction))
    info = {**_standardize(splits.train.x.numpy(), [str(i) for i in range(x.shape[2])]), "source": where}
    out = [ArrayDataset(_apply(s.x.numpy(), info), s.y, cfg.dataset, [], info)
           for s in (splits.train, splits.validation, splits.test)]
    return Splits(*out)


def load_npz_any(cfg: DataConfig, path: str) -> Splits:
    """``npz:FILE``: sequences when the file holds 'sequences' or 'series', else images (``load_npz``)."""
    file = Path(path).expanduser()
    try:
        with np.load(file, allow_pickle=False) as z:
            keys = set(z.files)
            arrays = {k: z[k] for k in keys} if is_sequence_npz(keys) else None
    except Exception:  # noqa: BLE001 - load_npz reports a missing or unreadable file with its reason
        arrays = None
    if arrays is None:
        return load_npz(cfg, path)
    return load_sequence_npz(cfg, arrays, str(file))
