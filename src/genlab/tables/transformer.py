"""The reversible table transformer: rows of mixed columns <-> one float vector per row.

Column kinds (inferred, or given by metadata):

=============  ======================================================================================
continuous     mode-specific normalization (Xu et al. 2019, sec. 4.2): a variational Gaussian mixture
               per column (scikit-learn's BayesianGaussianMixture, Dirichlet-process prior, run for all
               columns at once by genlab.tables.mixture) finds the modes; a value x becomes the
               one-hot of its most likely mode k and the scaled offset (x - mu_k) / (4 sigma_k).
               A column with at most ``max_modes`` distinct values (codes,
               small counts, ratings) skips the mixture: each value is a mode of its own (weight its
               share, sigma 1/100 of the smallest gap between values) and a sample is its mode's value
               (a value a hair off a code would cost the KS score half that code's mass)
integer        as continuous, rounded back to whole numbers
datetime       as continuous, on seconds since 1970-01-01 (rounded back to the column's resolution)
categorical    one-hot over the categories seen in training
boolean        one-hot over False / True
=============  ======================================================================================

Missing values are never dropped: a numeric column with missing cells gets a two-way one-hot
"missing" indicator after its value (the value itself is encoded as the column mean there); a
categorical column gets a category of its own for them. Inverting gives the missing cell back.

The vector is a list of blocks, each ``tanh`` (one scaled offset) or ``softmax`` (a one-hot); the
models get this layout (:meth:`TableTransformer.spans`), never the transformer itself. The
fitted transformer is plain JSON (:meth:`to_dict`), and ``inverse(transform(t))`` gives ``t``
back: categories and integers exactly, continuous values to float precision. Inverting model
output also keeps every value inside its column's training range (``clip=True``).
"""
from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from genlab.config import suggest
from genlab.data.tables import COLUMN_KINDS
from genlab.errors import ConfigError, DataError
from genlab.tables.mixture import fit_mixtures

MISSING_CATEGORY = "__missing__"
NUMERIC_KINDS = ("continuous", "integer", "datetime")
DISCRETE_KINDS = ("categorical", "boolean")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$")


@dataclass
class Column:
    """What the transformer learned about one column (all JSON-ready)."""

    name: str
    kind: str
    missing: bool = False  # the column has missing cells in training
    # numeric kinds
    means: list[float] = field(default_factory=list)
    stds: list[float] = field(default_factory=list)
    weights: list[float] = field(default_factory=list)
    fill: float = 0.0  # the value encoded for a missing cell (the column mean)
    low: float = 0.0
    high: float = 0.0
    decimals: int | None = None  # datetime: resolution as decimals of a second (0 = whole seconds)
    exact: bool = False  # few distinct values, one mode each: a sampled value is its mode's value
    # discrete kinds
    categories: list[Any] = field(default_factory=list)
    frequencies: list[float] = field(default_factory=list)

    @property
    def width(self) -> int:
        if self.kind in NUMERIC_KINDS:
            return 1 + len(self.means) + (2 if self.missing else 0)
        return len(self.categories)


def read_metadata(meta: Any) -> dict[str, str]:
    """Column kinds from a metadata dict: {"columns": {name: kind or {"kind": kind}}} or {name: kind}."""
    if meta is None:
        return {}
    if not isinstance(meta, dict):
        raise ConfigError("metadata must be a JSON object: {\"columns\": {\"NAME\": \"KIND\", ...}}")
    cols = meta.get("columns", meta)
    if not isinstance(cols, dict):
        raise ConfigError("metadata 'columns' must map column names to kinds")
    kinds = {}
    for name, spec in cols.items():
        kind = spec.get("kind") if isinstance(spec, dict) else spec
        if kind not in COLUMN_KINDS:
            raise ConfigError(f"metadata: column '{name}' has kind {kind!r}; choose one of {', '.join(COLUMN_KINDS)}"
                              f"{suggest(str(kind), COLUMN_KINDS)}")
        kinds[str(name)] = kind
    return kinds


def _is_missing(values: np.ndarray) -> np.ndarray:
    import pandas as pd

    return np.asarray(pd.isna(values), dtype=bool)


def _plain(v: Any) -> Any:
    """A numpy / pandas scalar as a JSON-ready Python value."""
    if isinstance(v, (np.bool_, bool)):
        return bool(v)
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating, float)):
        f = float(v)
        return int(f) if f.is_integer() and abs(f) < 2**53 else f
    return str(v) if not isinstance(v, (int, str)) else v


def infer_kind(series: Any) -> str:
    """continuous, integer, categorical, boolean or datetime, from a pandas column's values."""
    import pandas as pd

    values = series.dropna()
    if pd.api.types.is_bool_dtype(series.dtype) or (len(values) and values.map(type).isin([bool, np.bool_]).all()):
        return "boolean"
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        return "datetime"
    if pd.api.types.is_numeric_dtype(series.dtype):
        v = values.to_numpy(dtype=np.float64)
        return "integer" if len(v) and np.all(np.mod(v, 1) == 0) else "continuous"
    strings = values.astype(str)
    lowered = set(strings.str.lower())
    if lowered and lowered <= {"true", "false"}:
        return "boolean"
    if len(strings) and strings.map(lambda s: bool(_DATE.match(s))).all():
        return "datetime"
    return "categorical"


def _seconds(series: Any) -> np.ndarray:
    """A date/time column as float seconds since 1970-01-01 (NaN where missing)."""
    import pandas as pd

    try:
        times = pd.to_datetime(series, format="ISO8601", utc=False)
    except (ValueError, TypeError):
        try:
            times = pd.to_datetime(series)
        except (ValueError, TypeError) as e:
            raise DataError(f"column '{series.name}' is marked datetime but holds values that are not dates: "
                            f"{e}") from None
    if getattr(times.dt, "tz", None) is not None:
        times = times.dt.tz_convert("UTC").dt.tz_localize(None)
    ns = times.astype("datetime64[ns]").to_numpy().astype("int64").astype(np.float64)
    ns[_is_missing(times.to_numpy())] = np.nan
    return ns / 1e9


def _boolean(values: np.ndarray, name: str) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    for i, v in enumerate(values):
        if isinstance(v, (bool, np.bool_)):
            out[i] = bool(v)
        elif _is_missing(np.array([v], dtype=object))[0]:
            out[i] = MISSING_CATEGORY
        elif str(v).strip().lower() in ("true", "1", "yes"):
            out[i] = True
        elif str(v).strip().lower() in ("false", "0", "no"):
            out[i] = False
        else:
            raise DataError(f"column '{name}' is boolean but holds {v!r}")
    return out


class TableTransformer:
    """Fit on a DataFrame, then transform rows to vectors and invert vectors to rows."""

    def __init__(self, max_modes: int = 10, seed: int = 0):
        self.max_modes, self.seed = max_modes, seed
        self.columns: list[Column] = []
        self._pending: list[tuple[Column, np.ndarray, int, float]] = []  # mixtures to fit, see fit

    # ------------------------------------------------------------------ fit
    def fit(self, frame: Any, kinds: dict[str, str] | None = None, source: str = "table") -> TableTransformer:
        kinds = dict(kinds or {})
        unknown = [c for c in kinds if c not in frame.columns]
        if unknown:
            raise DataError(f"metadata names column '{unknown[0]}', which {source} does not have"
                            f"{suggest(unknown[0], list(frame.columns))}; "
                            f"columns: {', '.join(map(str, frame.columns))}")
        if len(frame) < 2:
            raise DataError(f"{source} has {len(frame)} row(s); a synthesizer needs more")
        self.columns, self._pending = [], []
        for name in frame.columns:
            series = frame[name]
            missing = _is_missing(series.to_numpy(dtype=object))
            if missing.all():
                raise DataError(f"column '{name}' of {source} has only missing values; drop it")
            kind = kinds.get(name) or infer_kind(series)
            col = Column(str(name), kind, bool(missing.any()))
            if kind in NUMERIC_KINDS:
                self._fit_numeric(col, self._numbers(series, kind), source)
            else:
                self._fit_discrete(col, self._discrete_values(series, kind), source)
            self.columns.append(col)
        self._fit_pending()
        return self

    def _numbers(self, series: Any, kind: str) -> np.ndarray:
        import pandas as pd

        if kind == "datetime":
            return _seconds(series)
        values = pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64)
        bad = ~_is_missing(series.to_numpy(dtype=object)) & np.isnan(values)
        if bad.any():
            example = series.to_numpy(dtype=object)[np.flatnonzero(bad)[0]]
            raise DataError(f"column '{series.name}' is {kind} but holds {example!r}; "
                            "mark it categorical in the metadata")
        if not np.isfinite(values[~np.isnan(values)]).all():
            raise DataError(f"column '{series.name}' holds infinite values")
        return values

    @staticmethod
    def _discrete_values(series: Any, kind: str) -> np.ndarray:
        values = series.to_numpy(dtype=object)
        if kind == "boolean":
            return _boolean(values, str(series.name))
        out = np.array([MISSING_CATEGORY if m else _plain(v)
                        for v, m in zip(values, _is_missing(values), strict=True)], dtype=object)
        return out

    def _fit_numeric(self, col: Column, x: np.ndarray, source: str) -> None:
        present = x[~np.isnan(x)]
        if np.unique(present).size < 2:
            raise DataError(f"column '{col.name}' of {source} has a single value ({present[0]:g}); it carries no "
                            f"information, drop it")
        col.low, col.high, col.fill = float(present.min()), float(present.max()), float(present.mean())
        if col.kind == "datetime":
            frac = np.round(present % 1, 9)
            col.decimals = next((d for d in range(10) if np.all(np.round(frac * 10**d) == frac * 10**d)), 9)
        values, counts = np.unique(present, return_counts=True)
        if values.size <= self.max_modes:  # a few distinct values: each one a mode (no mixture to fit)
            col.means = [float(v) for v in values]
            col.stds = [float(np.diff(values).min()) / 100] * values.size
            col.weights = [float(c) for c in counts / counts.sum()]
            col.exact = True
            return
        fit_on = present
        if len(fit_on) > 10_000:
            fit_on = np.random.default_rng(self.seed).choice(present, 10_000, replace=False)
        scale = float(present.std()) or 1.0
        z = ((fit_on - col.fill) / scale)[:, None]
        k = int(min(self.max_modes, np.unique(fit_on).size))
        self._pending.append((col, z[:, 0], k, scale))

    def _fit_pending(self) -> None:
        """Fit the variational mixtures of every continuous column at once (see
        :mod:`genlab.tables.mixture`: scikit-learn's BayesianGaussianMixture, batched)."""
        pending, self._pending = self._pending, []
        if not pending:
            return
        fits = fit_mixtures([z for _, z, _, _ in pending], [k for _, _, k, _ in pending], seed=self.seed,
                            max_iter=100, weight_concentration_prior=0.001, mean_precision_prior=1e-3,
                            # a weak prior on the means (they stay where the data is); the default prior
                            # on the variances keeps few, broad modes (as the reference does)
                            reg_covar=1e-6)
        for (col, _, _, scale), gm in zip(pending, fits, strict=True):
            keep = gm.weights > 0.005
            if not keep.any():
                keep = gm.weights >= gm.weights.max()
            weights = gm.weights[keep] / gm.weights[keep].sum()
            col.means = [float(m) * scale + col.fill for m in gm.means[keep]]
            col.stds = [max(float(math.sqrt(c)) * scale, 1e-6 * scale) for c in gm.covariances[keep]]
            col.weights = [float(w) for w in weights]

    @staticmethod
    def _fit_discrete(col: Column, values: np.ndarray, source: str) -> None:
        cats, counts = [], {}
        for v in values:
            key = (type(v).__name__, v)
            if key not in counts:
                counts[key] = 0
                cats.append(v)
            counts[key] += 1
        if len(cats) < 2:
            raise DataError(f"column '{col.name}' of {source} has a single value ({cats[0]!r}); it carries no "
                            f"information, drop it")
        order = sorted(range(len(cats)), key=lambda i: (cats[i] == MISSING_CATEGORY, str(type(cats[i]).__name__),
                                                          cats[i] if not isinstance(cats[i], str) else 0, str(cats[i])))
        col.categories = [cats[i] for i in order]
        total = len(values)
        col.frequencies = [counts[(type(cats[i]).__name__, cats[i])] / total for i in order]

    # ------------------------------------------------------------------ layout
    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def width(self) -> int:
        return sum(c.width for c in self.columns)

    def spans(self) -> list[list[int]]:
        """The vector's blocks in order: [size, 0] for a tanh offset, [size, 1] for a softmax one-hot."""
        out = []
        for c in self.columns:
            if c.kind in NUMERIC_KINDS:
                out += [[1, 0], [len(c.means), 1]] + ([[2, 1]] if c.missing else [])
            else:
                out.append([len(c.categories), 1])
        return out

    def discrete_blocks(self) -> list[tuple[Column, int]]:
        """(column, index of its block in :meth:`spans`) for each categorical / boolean column."""
        out, block = [], 0
        for c in self.columns:
            if c.kind in DISCRETE_KINDS:
                out.append((c, block))
                block += 1
            else:
                block += 2 + (1 if c.missing else 0)
        return out

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise DataError(f"no column '{name}'{suggest(name, self.names)}; columns: {', '.join(self.names)}")

    # ------------------------------------------------------------------ transform
    def check_columns(self, frame: Any, source: str) -> None:
        have = [str(c) for c in frame.columns]
        if sorted(have) != sorted(self.names):
            missing = [c for c in self.names if c not in have]
            extra = [c for c in have if c not in self.names]
            parts = (([f"lacks {', '.join(missing)}"] if missing else [])
                     + ([f"has extra {', '.join(extra)}"] if extra else []))
            raise DataError(f"{source} does not have the fitted columns: it {' and '.join(parts)}")

    def transform(self, frame: Any, source: str = "table") -> np.ndarray:
        """Rows (N, columns) -> vectors (N, width) float64. Unseen categories are refused."""
        self.check_columns(frame, source)
        parts = []
        for c in self.columns:
            series = frame[c.name]
            if c.kind in NUMERIC_KINDS:
                parts.append(self._encode_numeric(c, self._numbers(series, c.kind)))
            else:
                parts.append(self._encode_discrete(c, self._discrete_values(series, c.kind), source))
        return np.concatenate(parts, axis=1) if parts else np.zeros((len(frame), 0))

    @staticmethod
    def modes_of(c: Column, x: np.ndarray) -> np.ndarray:
        """The most likely mode of each value: argmax_k log w_k + log N(x; mu_k, sigma_k^2)."""
        mu, sd, w = np.array(c.means), np.array(c.stds), np.array(c.weights)
        logp = np.log(w) - np.log(sd) - 0.5 * ((x[:, None] - mu) / sd) ** 2
        return logp.argmax(1)

    def _encode_numeric(self, c: Column, x: np.ndarray) -> np.ndarray:
        missing = np.isnan(x)
        if missing.any() and not c.missing:
            raise DataError(f"column '{c.name}' has missing values, and had none in training")
        x = np.where(missing, c.fill, x)
        k = self.modes_of(c, x)
        offset = (x - np.array(c.means)[k]) / (4 * np.array(c.stds)[k])
        modes = np.eye(len(c.means))[k]
        out = [offset[:, None], modes]
        if c.missing:
            out.append(np.stack([~missing, missing], 1).astype(np.float64))
        return np.concatenate(out, axis=1)

    @staticmethod
    def _encode_discrete(c: Column, values: np.ndarray, source: str) -> np.ndarray:
        index = {(type(v).__name__, v): i for i, v in enumerate(c.categories)}
        idx = np.empty(len(values), dtype=np.int64)
        for j, v in enumerate(values):
            i = index.get((type(v).__name__, v))
            if i is None:  # '3' in a CSV vs 3 fitted: match by text
                i = next((n for n, cat in enumerate(c.categories) if str(cat) == str(v)), None)
            if i is None:
                raise DataError(f"{source}: column '{c.name}' holds {v!r}, a value never seen in training")
            idx[j] = i
        return np.eye(len(c.categories))[idx]

    # ------------------------------------------------------------------ inverse
    def inverse(self, data: np.ndarray, clip: bool = True) -> Any:
        """Vectors (N, width) -> a DataFrame with the fitted columns, kinds and categories.

        Softmax blocks are read by argmax, so raw model outputs can be inverted too.
        """
        import pandas as pd

        data = np.asarray(data, dtype=np.float64)
        if data.ndim != 2 or data.shape[1] != self.width:
            raise DataError(f"expected vectors (N, {self.width}), got shape {data.shape}")
        out, pos = {}, 0
        for c in self.columns:
            block = data[:, pos:pos + c.width]
            pos += c.width
            if c.kind in NUMERIC_KINDS:
                out[c.name] = self._decode_numeric(c, block, clip)
            else:
                values = [c.categories[i] for i in block.argmax(1)]
                values = [None if v == MISSING_CATEGORY else v for v in values]
                if c.kind == "boolean":
                    out[c.name] = pd.array(values, dtype="boolean") if c.missing else np.array(values, dtype=bool)
                elif all(isinstance(v, int) and not isinstance(v, bool) for v in values if v is not None):
                    out[c.name] = (pd.array(values, dtype="Int64") if None in values
                                   else np.array(values, dtype=np.int64))
                else:
                    out[c.name] = pd.array(values, dtype=object)
        return pd.DataFrame(out)

    def _decode_numeric(self, c: Column, block: np.ndarray, clip: bool) -> Any:
        import pandas as pd

        k = block[:, 1:1 + len(c.means)].argmax(1)
        offset = block[:, 0]  # model outputs are in [-1, 1] already (tanh); real rows are inverted exactly
        x = np.array(c.means)[k] if c.exact else offset * 4 * np.array(c.stds)[k] + np.array(c.means)[k]
        if clip:
            x = np.clip(x, c.low, c.high)
        missing = block[:, -2:].argmax(1) == 1 if c.missing else np.zeros(len(x), dtype=bool)
        if c.kind == "integer":
            x = np.round(x)
            if missing.any():
                return pd.array([None if m else int(v) for v, m in zip(x, missing, strict=True)], dtype="Int64")
            return x.astype(np.int64)
        if c.kind == "datetime":
            x = np.round(x, c.decimals or 0)
            ns = np.round(x * 1e9).astype("int64")
            times = pd.to_datetime(ns, unit="ns")
            return pd.array(times.where(~missing, pd.NaT))
        return np.where(missing, np.nan, x)

    # ------------------------------------------------------------------ persistence
    def to_dict(self) -> dict[str, Any]:
        return {"max_modes": self.max_modes, "seed": self.seed, "columns": [asdict(c) for c in self.columns]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TableTransformer:
        t = cls(int(d["max_modes"]), int(d["seed"]))
        t.columns = [Column(**c) for c in d["columns"]]
        return t


__all__ = ["Column", "MISSING_CATEGORY", "TableTransformer", "infer_kind", "read_metadata"]
