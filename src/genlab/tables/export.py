"""A table model's sampling path as one graph: noise (and ctgan's conditional vector) -> decoded rows.

:class:`RowDecoder` is the tensor form of :meth:`TableTransformer.inverse` for model output (``clip=True``,
as sampling inverts): a numeric column's value is its mode's mean plus the scaled offset
(``mean_k + offset * 4 * std_k``, the mode k chosen by argmax; a column of few exact values takes
``mean_k``), clipped to the column's training range; integer columns are rounded (half to even, as
``numpy.round``), datetimes (seconds since 1970) to the column's resolution; a missing indicator that
says missing gives NaN. A categorical or boolean column is the argmax index of its one-hot block.
:func:`sidecar` is the JSON that names what the indices and columns mean (written next to the exported
file by ``genlab export``).
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from genlab.tables.transformer import DISCRETE_KINDS, MISSING_CATEGORY, NUMERIC_KINDS, TableTransformer

SIDECAR_FORMAT = 1


class RowDecoder(nn.Module):
    """Rows (B, D) in the transformed layout -> (numeric (B, numeric columns) float64, categories
    (B, discrete columns) int64), columns in the table's order within each output."""

    def __init__(self, transformer: TableTransformer):
        super().__init__()
        # offset position, mode block start, modes, exact, decimals to round to (-1: none), missing block (-1: none)
        self.numeric: list[tuple[int, int, int, bool, int, int]] = []
        self.discrete: list[tuple[int, int]] = []  # start, size
        means, stds, bounds = [], [], []
        pos = 0
        for c in transformer.columns:
            if c.kind in NUMERIC_KINDS:
                k = len(c.means)
                decimals = 0 if c.kind == "integer" else (c.decimals or 0) if c.kind == "datetime" else -1
                self.numeric.append((pos, pos + 1, k, c.exact, decimals, pos + 1 + k if c.missing else -1))
                means.append(torch.tensor(c.means, dtype=torch.float64))
                stds.append(torch.tensor(c.stds, dtype=torch.float64))
                bounds.append((c.low, c.high))
            else:
                self.discrete.append((pos, len(c.categories)))
            pos += c.width
        self.width = pos
        self.means, self.stds, self.bounds = means, stds, bounds

    def forward(self, rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        values = []
        for (offset, start, k, exact, decimals, miss), mu, sd, (low, high) in zip(
                self.numeric, self.means, self.stds, self.bounds, strict=True):
            mode = rows[:, start:start + k].argmax(1)
            x = mu.to(rows.device)[mode]
            if not exact:
                x = x + rows[:, offset].double() * 4 * sd.to(rows.device)[mode]
            x = x.clamp(low, high)
            if decimals >= 0:  # numpy.round(x, d): rint(x * 10^d) / 10^d
                x = torch.round(x * 10.0**decimals) / 10.0**decimals if decimals else torch.round(x)
            if miss >= 0:  # the indicator's argmax is 'missing' (ties: present, as argmax takes the first)
                x = torch.where(rows[:, miss + 1] > rows[:, miss], torch.full_like(x, float("nan")), x)
            values.append(x)
        cats = [rows[:, s:s + n].argmax(1) for s, n in self.discrete]
        b = rows.shape[0]
        numeric = torch.stack(values, 1) if values else rows.new_zeros(b, 0, dtype=torch.float64)
        categories = torch.stack(cats, 1) if cats else rows.new_zeros(b, 0, dtype=torch.long)
        return numeric, categories


class TableSampler(nn.Module):
    """A table model's :meth:`rows_from_noise` followed by :class:`RowDecoder` (what is exported)."""

    def __init__(self, model: nn.Module, transformer: TableTransformer):
        super().__init__()
        self.model, self.decoder = model, RowDecoder(transformer)

    def forward(self, *inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        rows = self.model.rows_from_noise(*inputs)  # type: ignore[operator]  # declared by export_parts ('rows')
        return self.decoder(rows)


def frame_outputs(transformer: TableTransformer, frame: Any) -> tuple[Any, Any]:
    """A DataFrame of :meth:`TableTransformer.inverse` as the two exported matrices (numeric float64 with
    NaN for missing and datetimes in seconds since 1970, category indices int64): the check's reference."""
    import numpy as np
    import pandas as pd

    numeric, cats = [], []
    for c in transformer.columns:
        col = frame[c.name]
        if c.kind == "datetime":
            ns = pd.to_datetime(col).astype("datetime64[ns]")
            seconds = ns.to_numpy().astype("int64").astype(np.float64) / 1e9
            numeric.append(np.where(pd.isna(col).to_numpy(), np.nan, seconds))
        elif c.kind in NUMERIC_KINDS:
            numeric.append(pd.array(col, dtype="Float64").to_numpy(dtype=np.float64, na_value=np.nan))
        else:
            index = {str(v): i for i, v in enumerate(c.categories)}  # inverse gives the fitted values back
            missing = index.get(MISSING_CATEGORY, -1)
            cats.append(np.array([missing if pd.isna(v) else index[str(v)] for v in col.tolist()], dtype=np.int64))
    n = len(frame)
    return (np.stack(numeric, 1) if numeric else np.zeros((n, 0))), (np.stack(cats, 1) if cats
                                                                       else np.zeros((n, 0), dtype=np.int64))


def sidecar(transformer: TableTransformer, model_name: str, inputs: dict[str, int]) -> dict[str, Any]:
    """What the exported file's inputs and outputs mean: plain JSON."""
    numeric, categories, order = [], [], []
    for c in transformer.columns:
        if c.kind in NUMERIC_KINDS:
            rule = {"integer": "rounded in the graph to whole numbers (half to even, as numpy.round)",
                    "continuous": "as is",
                    "datetime": f"seconds since 1970-01-01 (UTC-naive), rounded in the graph to {c.decimals or 0} "
                                f"decimals of a second"}[c.kind]
            numeric.append({"name": c.name, "kind": c.kind, "low": c.low, "high": c.high, "rule": rule,
                            "missing": "NaN" if c.missing else "never"})
            order.append({"name": c.name, "output": "numeric", "index": len(numeric) - 1})
        else:
            cats = [None if v == MISSING_CATEGORY else v for v in c.categories]
            categories.append({"name": c.name, "kind": c.kind, "categories": cats, "frequencies": c.frequencies})
            order.append({"name": c.name, "output": "categories", "index": len(categories) - 1})
    described = {"noise": "N(0, 1), one row per output row",
                 "offset_noise": "N(0, 1): tvae's output noise on the scaled offsets (times its learned sigma)",
                 "condition": "ctgan's conditional vector: zeros, or one 1 at the category of one discrete column "
                              "(its blocks below, in the order of the categorical / boolean columns); genlab's "
                              "sampling picks a column uniformly and a category by its frequency"}
    out: dict[str, Any] = {
        "format": SIDECAR_FORMAT, "model": model_name,
        "inputs": {k: {"shape": ["batch", n], "dtype": "float32", "what": described[k]} for k, n in inputs.items()},
        "outputs": {"numeric": {"shape": ["batch", len(numeric)], "dtype": "float64", "columns": numeric},
                    "categories": {"shape": ["batch", len(categories)], "dtype": "int64",
                                   "columns": categories}},
        "columns": order,
        "discrete": "argmax of each one-hot block (genlab's own sampling draws ctgan's categories from the softmax; "
                    "tvae's follow its discrete_sampling setting)",
    }
    if "condition" in inputs:
        blocks, start = [], 0
        for c in transformer.columns:
            if c.kind in DISCRETE_KINDS:
                blocks.append({"column": c.name, "start": start, "size": len(c.categories)})
                start += len(c.categories)
        out["inputs"]["condition"]["blocks"] = blocks
    return out


__all__ = ["RowDecoder", "SIDECAR_FORMAT", "TableSampler", "frame_outputs", "sidecar"]
