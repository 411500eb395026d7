"""Tables for anomaly detection: CSV files with numeric and categorical columns, and their encoding.

A :class:`Table` keeps every cell as read (strings), so a column's kind is decided once, on the
training data, by :class:`TableEncoder`: a column whose every cell parses as a number is numeric
and is min-max scaled with the training minimum and maximum (values outside the training range
map outside [0, 1], which is itself a sign of an anomaly); any other column is categorical and is
one-hot encoded with the training categories (a category never seen in training encodes as all
zeros). The encoder is saved with the detector, so scoring applies exactly the training encoding.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from genlab.config import suggest
from genlab.data.csv import MISSING, check_missing, column_numbers, numeric_kind, read_csv_rows
from genlab.errors import DataError

__all__ = ["MISSING", "SKLEARN_TABLES", "Table", "TableEncoder", "as_table", "read_table", "sklearn_table"]
SKLEARN_TABLES = ("breast_cancer", "wine", "iris", "diabetes")


@dataclass
class Table:
    """Rows of named columns, every cell a string as read; ``source`` names it in messages."""

    columns: list[str]
    cells: np.ndarray  # (N, K) of str
    source: str = "table"

    def __len__(self) -> int:
        return self.cells.shape[0]

    def column(self, name: str) -> np.ndarray:
        if name not in self.columns:
            raise DataError(f"{self.source} has no column '{name}'{suggest(name, self.columns)}; "
                            f"columns: {', '.join(self.columns)}")
        return self.cells[:, self.columns.index(name)]

    def drop(self, names: list[str]) -> Table:
        keep = [j for j, c in enumerate(self.columns) if c not in names]
        return Table([self.columns[j] for j in keep], self.cells[:, keep], self.source)

    def rows(self, index: np.ndarray) -> Table:
        return Table(self.columns, self.cells[index], self.source)


def read_table(path: str | Path) -> Table:
    """Read a CSV file with a header row into a :class:`Table` (cells kept as strings).

    Raises:
        DataError: a missing or unreadable file, no rows, or rows of another length than the header.
    """
    file = Path(path).expanduser()
    if file.is_dir():
        raise DataError(f"{file} is a directory, not a table (a CSV file); for a folder of images use --kind images")
    if not file.is_file():
        raise DataError(f"table not found: {file}")
    rows = read_csv_rows(file)
    if len(rows) < 2:
        raise DataError(f"{file} needs a header row and at least one data row")
    header = [c.strip() for c in rows[0]]
    return Table(header, np.array([[c.strip() for c in r] for r in rows[1:]], dtype=object), str(file))


def sklearn_table(name: str) -> Table:
    """One of scikit-learn's bundled tables as a :class:`Table`, its target as the column 'target'."""
    import sklearn.datasets

    if name not in SKLEARN_TABLES:
        raise DataError(f"unknown scikit-learn table '{name}'{suggest(name, SKLEARN_TABLES)}; "
                        f"available: {', '.join(SKLEARN_TABLES)}")
    bunch = getattr(sklearn.datasets, f"load_{name}")()
    target = bunch.target.astype(int) if name != "diabetes" else bunch.target  # class tables: '0', '1', ...
    values = np.column_stack([bunch.data.astype(str), target.astype(str)])
    return Table([*map(str, bunch.feature_names), "target"], values.astype(object), f"sklearn:{name}")


def as_table(data: Any) -> Table:
    """A :class:`Table` from a Table, a CSV path, 'sklearn:NAME', a 2-D array or a pandas DataFrame."""
    if isinstance(data, Table):
        return data
    if isinstance(data, (str, Path)):
        text = str(data)
        if text.startswith("sklearn:"):
            return sklearn_table(text.split(":", 1)[1])
        return read_table(text[4:] if text.startswith("csv:") else text)
    if hasattr(data, "columns") and hasattr(data, "to_numpy"):  # a pandas DataFrame
        return Table([str(c) for c in data.columns], data.astype(str).to_numpy(dtype=object), "DataFrame")
    array = np.asarray(data)
    if array.ndim != 2:
        raise DataError(f"a table must be 2-D (rows, columns), got shape {array.shape}")
    return Table([str(j) for j in range(array.shape[1])], array.astype(str).astype(object), "array")


def _numbers(cells: np.ndarray) -> np.ndarray | None:
    """The cells as float64, or None when some cell is not a number.

    Missing cells never reach it: ``TableEncoder`` refuses them first (``data.csv.check_missing``).
    """
    out = np.empty(len(cells))
    for i, c in enumerate(cells):
        try:
            out[i] = float(c)
        except ValueError:
            return None
    return out


def _few(names: list[str], k: int = 4) -> str:
    return ", ".join(names[:k]) + (f" and {len(names) - k} more" if len(names) > k else "")


class TableEncoder:
    """Scaling of numeric columns and one-hot encoding of categorical ones, fitted on training rows."""

    def __init__(self, columns: list[dict[str, Any]] | None = None):
        self.columns = columns or []  # [{"name", "kind": "numeric", "min", "max"} | {"name", "kind", "categories"}]

    @property
    def names(self) -> list[str]:
        return [c["name"] for c in self.columns]

    @property
    def feature_names(self) -> list[str]:
        out: list[str] = []
        for c in self.columns:
            out += [c["name"]] if c["kind"] == "numeric" else [f"{c['name']}={v}" for v in c["categories"]]
        return out

    def fit(self, table: Table) -> TableEncoder:
        """Decide each column's kind and learn its scaling or categories from ``table``."""
        if len(table) == 0:
            raise DataError(f"{table.source} has no rows to fit on")
        if not table.columns:
            raise DataError(f"{table.source} has no feature columns (only the label column)")
        self._check_missing(table)
        self.columns = []
        for j, name in enumerate(table.columns):
            if numeric_kind(table.cells[:, j]):  # mostly numbers: a text cell in it is an error, not a category
                values = column_numbers(table.cells[:, j], name, table.source)
                lo, hi = float(values.min()), float(values.max())
                self.columns.append({"name": name, "kind": "numeric", "min": lo, "max": hi})
            else:
                self.columns.append({"name": name, "kind": "categorical",
                                     "categories": sorted(set(table.cells[:, j].tolist()))})
        return self

    def transform(self, table: Table) -> np.ndarray:
        """Encode ``table`` as float32 (N, features).

        Raises:
            DataError: columns that differ from the fitted ones, missing values, or text in a numeric column.
        """
        if table.columns != self.names:
            missing = [c for c in self.names if c not in table.columns]
            extra = [c for c in table.columns if c not in self.names]
            detail = "; ".join(filter(None, [f"missing {_few(missing)}" if missing else "",
                                             f"unexpected {_few(extra)}" if extra else "",
                                             "same names in another order" if not (missing or extra) else ""]))
            raise DataError(f"{table.source} has other columns than the detector was fitted on ({detail})")
        self._check_missing(table)
        parts = []
        for j, col in enumerate(self.columns):
            cells = table.cells[:, j]
            if col["kind"] == "numeric":
                values = _numbers(cells)
                if values is None:
                    bad = next(i for i, c in enumerate(cells) if _numbers(np.array([c])) is None)
                    raise DataError(f"{table.source}: row {bad + 1}, column '{col['name']}' is '{cells[bad]}', "
                                    f"but the column was numeric when the detector was fitted")
                span = col["max"] - col["min"]
                parts.append(((values - col["min"]) / (span if span > 0 else 1.0))[:, None])
            else:
                index = {v: k for k, v in enumerate(col["categories"])}
                onehot = np.zeros((len(cells), len(index)))
                for i, c in enumerate(cells):
                    if c in index:
                        onehot[i, index[c]] = 1.0
                parts.append(onehot)
        return np.concatenate(parts, axis=1).astype(np.float32)

    @staticmethod
    def _check_missing(table: Table) -> None:
        check_missing(table.cells, table.columns, table.source)

    def to_dict(self) -> dict[str, Any]:
        return {"columns": self.columns}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TableEncoder:
        return cls(list(d["columns"]))
