"""One CSV reader and one set of cell rules for series (``data/sequences.py``) and tables (``anomaly/tables.py``).

Rules, the same everywhere:

* Rows: the non-blank rows of the file, all of the first row's length. The first row is a header
  when one of its cells is neither a number nor missing. Rows are counted from the first data row
  (row 1), as in a spreadsheet without its header.
* Missing values: a cell that is empty or one of ``NA``, ``NaN``, ``N/A``, ``null``, ``none``, ``?``
  (any case). Missing values are refused, naming the first row and column and how many there are
  (a series has no rule to invent a value; a table detector cannot encode one): fill or drop them.
* Numeric columns: a column is numeric when at least half of its present cells are numbers; a
  cell in it that is not a number is refused, naming row and column (a typo must not turn a column
  into text). Any other column is a text column: a table encodes it as categories; a series, which
  takes numbers only, skips it and says so (one notice line on stderr), e.g. a date column.
* ``columns``: the columns to use, by name (a text column named there is refused).
"""
from __future__ import annotations

import csv
import math
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from genlab.config import suggest
from genlab.errors import DataError

MISSING = frozenset({"", "na", "nan", "n/a", "null", "none", "?"})


def is_missing(cell: str) -> bool:
    return cell.strip().lower() in MISSING


def to_number(cell: str) -> float | None:
    """The cell as a finite float, or None when it is not a number (inf counts as not a number)."""
    try:
        value = float(cell)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _parses(cell: str) -> bool:
    try:
        float(cell)
        return True
    except ValueError:
        return False


def read_csv_rows(path: Path) -> list[list[str]]:
    """The non-blank rows of a CSV file (cells stripped), all of the first row's length.

    Raises:
        DataError: the file cannot be read as CSV, is empty, or has a row of another length.
    """
    try:
        with open(path, newline="") as f:
            rows = [[c.strip() for c in r] for r in csv.reader(f) if any(c.strip() for c in r)]
    except IsADirectoryError:
        raise DataError(f"{path} is a directory, not a CSV file") from None
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise DataError(f"cannot read {path} as CSV: {e}") from None
    if not rows:
        raise DataError(f"{path} is empty")
    for i, r in enumerate(rows):
        if len(r) != len(rows[0]):
            raise DataError(f"{path}: row {i + 1} has {len(r)} cells, the first row has {len(rows[0])}")
    return rows


def split_header(rows: list[list[str]]) -> tuple[list[str], list[list[str]]]:
    """(column names, data rows): the first row is a header when a cell of it is text."""
    first = rows[0]
    if any(to_number(c) is None and not is_missing(c) for c in first):
        return list(first), rows[1:]
    return [str(j) for j in range(len(first))], rows


def missing_error(source: str, row: int, column: str, count: int) -> DataError:
    """The one message for missing values (``row`` counts data rows from 1)."""
    more = f" ({count} missing cells)" if count > 1 else ""
    return DataError(f"{source}: row {row}, column '{column}' is missing or NaN{more}; empty, NA and NaN cells are "
                     f"missing values: fill or drop them first")


def check_missing(cells: np.ndarray, names: Sequence[str], source: str) -> None:
    """Refuse missing values in (N, K) string cells, naming the first one."""
    if not cells.size:
        return
    missing = np.vectorize(is_missing, otypes=[bool])(cells)
    if missing.any():
        i, j = map(int, np.argwhere(missing)[0])
        raise missing_error(source, i + 1, names[j], int(missing.sum()))


def numeric_kind(cells: Sequence[str] | np.ndarray) -> bool:
    """True when at least half of the present cells are numbers (a numeric column)."""
    present = [c for c in cells if not is_missing(c)]
    return bool(present) and 2 * sum(to_number(c) is not None for c in present) >= len(present)


def column_numbers(cells: Sequence[str] | np.ndarray, name: str, source: str) -> np.ndarray:
    """A numeric column as float64; missing values and text cells are refused naming the row."""
    out = np.empty(len(cells))
    for i, c in enumerate(cells):
        if is_missing(c):
            raise missing_error(source, i + 1, name, sum(map(is_missing, cells)))
        value = to_number(c)
        if value is None:
            what = "not a finite number" if _parses(c) else "not a number"
            raise DataError(f"{source}: row {i + 1}, column '{name}' is '{c}', {what}, in a numeric column; "
                            f"fix the cell, or leave the column out with --columns")
        out[i] = value
    return out


def numeric_columns(path: Path, columns: Sequence[str] = (), source: str | None = None,
                    exclude: Sequence[str] = ()) -> tuple[np.ndarray, list[str]]:
    """The numeric columns of a CSV file as float64 (L, K) and their names (the series reader).

    Text columns are skipped with one notice line on stderr (``genlab: note: ...``) unless
    ``columns`` names the columns to use. ``exclude``: columns that are not features (a label column).

    Raises:
        DataError: missing values, text in a numeric column, no numeric column, or a named column
            that does not exist or is text.
    """
    source = source or str(path)
    names, body = split_header(read_csv_rows(path))
    if not body:
        raise DataError(f"{source} has a header but no data rows")
    cells = np.array(body, dtype=object)
    if columns:
        for c in columns:
            if c not in names:
                raise DataError(f"{source} has no column '{c}'{suggest(c, names)}; columns: {', '.join(names)}")
        wanted = [names.index(c) for c in columns]
        text = [names[j] for j in wanted if not numeric_kind(cells[:, j])]
        if text:
            raise DataError(f"{source}: column '{text[0]}' is not numeric; a series takes numeric columns only")
        skipped = []
    else:
        candidates = [j for j in range(len(names)) if names[j] not in exclude]
        wanted = [j for j in candidates if numeric_kind(cells[:, j])]
        skipped = [names[j] for j in candidates if j not in wanted]
        if not wanted:
            raise DataError(f"{source} has no numeric column (columns: {', '.join(names)})")
    values = np.stack([column_numbers(cells[:, j], names[j], source) for j in wanted], axis=1)
    if not columns and skipped:  # said once the file is known to be usable (an error is the only line otherwise)
        print(f"genlab: note: {source}: skipped non-numeric column{'s' if len(skipped) > 1 else ''} "
              f"{', '.join(repr(s) for s in skipped)} (choose columns with --columns)", file=sys.stderr)
    return values, [names[j] for j in wanted]


def named_column(path: Path, name: str) -> list[str] | None:
    """The cells of one column of a CSV file, or None when the file has no such column."""
    names, body = split_header(read_csv_rows(path))
    return [r[names.index(name)] for r in body] if name in names else None
