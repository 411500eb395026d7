"""What the ``genlab anomaly`` commands read: dataset specs, image files, tables and series, with labels.

* images: any genlab image dataset ('mnist', 'digits', 'folder:DIR', 'idx:PATH', 'cifar10:DIR',
  'npz:FILE'; its train split for fitting, ``split`` for scoring), or for scoring a folder of
  image files or an .npz path;
* tables: 'csv:FILE' (or a path ending in .csv) and 'sklearn:NAME' (breast_cancer, wine, iris, diabetes);
* series: 'csv:FILE' with ``kind='series'`` (its numeric columns, rows in time order) or a named
  statsmodels series (co2, sunspots, nile, elnino, macrodata).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from genlab.anomaly.tables import Table, as_table
from genlab.errors import DataError


class Inputs(NamedTuple):
    """Data for a detector, item names for the scores file, and ground truth (1 = anomaly) when known."""

    data: Any
    names: list[str]
    labels: np.ndarray | None  # class labels (images) / label-column values (tables) / 0-1 per step (series)
    kind: str
    source: str
    columns: list[str] | None = None  # series: the column names (None when unnamed)


def guess_kind(spec: str, model: str | None) -> str:
    from genlab.anomaly.detector import SEQUENCE_MODELS
    from genlab.data.sequences import SERIES

    if model in SEQUENCE_MODELS or spec in SERIES:
        return "series"
    if spec.startswith(("csv:", "sklearn:")) or spec.endswith(".csv"):
        return "table"
    return "images"


def _series(spec: str, label_column: str | None,
            columns: tuple[str, ...] = ()) -> tuple[np.ndarray, np.ndarray | None, list[str]]:
    """A named series, or the numeric columns of a CSV file (the rules of :mod:`genlab.data.csv`)."""
    from genlab.data.csv import named_column, numeric_columns, to_number
    from genlab.data.sequences import SERIES

    if spec in SERIES:
        values, names = SERIES[spec][0]()
        if columns:
            from genlab.data.sequences import _select

            values, names = _select(values, names, tuple(columns), spec)
        return values, None, names
    if spec.startswith("sklearn:"):
        raise DataError(f"{spec} is a table, not a series; use --kind table")
    file = Path(spec[4:] if spec.startswith("csv:") else spec).expanduser()
    if file.is_dir():
        raise DataError(f"{file} is a directory, not a series (a CSV file); for a folder of images use --kind images")
    if not file.is_file():
        raise DataError(f"series not found: {file} (give a CSV file or one of {', '.join(SERIES)})")
    labels = None
    if label_column is not None:
        cells = named_column(file, label_column)
        if cells is not None:
            column = np.array([np.nan if to_number(c) is None else to_number(c) for c in cells])
            if not np.isin(column, (0, 1)).all():
                raise DataError(f"{file}: the label column '{label_column}' of a series must hold 0 (normal) "
                                f"or 1 (anomaly) per step")
            labels = column.astype(int)
    values, names = numeric_columns(file, tuple(c for c in columns if c != label_column),
                                    exclude=() if label_column is None else (label_column,))
    return values, labels, names


def read_inputs(spec: str, kind: str, split: str = "train", label_column: str | None = None,
                limit: int | None = None, shape: tuple[int, ...] | None = None,
                columns: tuple[str, ...] = ()) -> Inputs:
    """Read ``spec`` as ``kind`` data; images come from split ``split`` of a dataset, or from a path.

    ``columns``: series: the columns to use (default: every numeric column; text columns such as
    dates are skipped with a notice). Refused for images.
    """
    if columns and kind != "series":
        raise DataError(f"--columns selects the columns of a series; {spec} is read as {kind}"
                        + (" (a table uses all its columns; drop the others from the file)" if kind == "table" else ""))
    if kind == "series":
        values, labels, names = _series(spec, label_column, tuple(columns))
        return Inputs(values, [str(i) for i in range(len(values))], labels, kind, spec, names)
    if kind == "table":
        table: Table = as_table(spec)
        if limit is not None:
            table = table.rows(np.arange(min(limit, len(table))))
        labels = table.column(label_column) if label_column and label_column in table.columns else None
        return Inputs(table, [str(i + 1) for i in range(len(table))], labels, kind, table.source)
    path = Path(spec).expanduser()
    if ":" not in spec and path.exists():  # image files or an npz to score
        from genlab.apps.inputs import read_images

        images = read_images(path, shape)
        labels = None if images.labels is None else images.labels.numpy()
        return Inputs(images.x, images.names, labels, kind, str(path))
    from genlab.config import DataConfig
    from genlab.data import load_splits

    data = load_splits(DataConfig(dataset=spec, limit=limit))[split]
    if data.x.dim() != 4:
        raise DataError(f"{spec} holds sequences, not images; use --kind series with a series source")
    count = len(data)
    x = data.images(slice(None))
    labels = None if data.y is None else data.y.numpy()
    return Inputs(x, [f"{spec}/{split}/{i:05d}" for i in range(count)], labels, kind, f"{spec} ({split})")


def truth_of(det: Any, inputs: Inputs, normal_classes: list[int] | None = None,
             normal_values: list[str] | None = None) -> np.ndarray | None:
    """1 = anomaly, from the inputs' labels and what is normal (given here, else the detector's); None when unknown."""
    if inputs.labels is None:
        return None
    if inputs.kind == "series":
        return inputs.labels.astype(bool)
    if inputs.kind == "table":
        normal = normal_values if normal_values is not None else det.state.normal_values
        return None if normal is None else ~np.isin(inputs.labels.astype(str), [str(v) for v in normal])
    normal = normal_classes if normal_classes is not None else det.state.normal_classes
    return None if normal is None else ~np.isin(inputs.labels, normal)
