"""Writing sequences (N, T, F) the way images are written: a line-plot PNG, a CSV or an .npz.

Sequence models (``recurrent-ae`` on series data) return standardized values; ``to_units`` maps
them back with the mean and std of the run's training split (``data_info.json``), so files and
plots are in the units of the original columns.
"""
from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from genlab.io import atomic_write_bytes


def run_info(run: str | Path) -> dict:
    """The run's ``data_info.json`` (column names, mean, std), or {} when it has none."""
    path = Path(run) / "data_info.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def to_units(seq: torch.Tensor, info: dict) -> np.ndarray:
    """Standardized (N, T, F) -> original units (x * std + mean) where the run recorded them."""
    x = seq.detach().float().cpu().numpy()
    mean, std = info.get("mean"), info.get("std")
    if mean is not None and std is not None and len(mean) == x.shape[-1] == len(std):
        x = x * np.asarray(std, dtype=np.float32) + np.asarray(mean, dtype=np.float32)
    return x


def columns(info: dict, features: int) -> list[str]:
    names = info.get("columns")
    return [str(c) for c in names] if names and len(names) == features else [f"f{i}" for i in range(features)]


def save_series_csv(series: np.ndarray, path: str | Path, names: Sequence[str]) -> Path:
    """One row per (sequence, step): ``sequence, step, <column>...`` (empty cells for padding)."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["sequence", "step", *names])
    for i, seq in enumerate(series):
        for t, row in enumerate(seq):
            w.writerow([i, t, *("" if np.isnan(v) else f"{v:.6g}" for v in row)])
    atomic_write_bytes(path, buf.getvalue().encode())
    return Path(path)


def save_series_npz(series: np.ndarray, path: str | Path, names: Sequence[str]) -> Path:
    """float32 'sequences' (N, T, F) and the column names."""
    buf = io.BytesIO()
    np.savez(buf, sequences=series.astype(np.float32), columns=np.array(list(names)))
    atomic_write_bytes(path, buf.getvalue())
    return Path(path)


def save_series_plot(panels: Sequence[np.ndarray], path: str | Path, names: Sequence[str],
                     titles: Sequence[str] | None = None, overlay: Sequence[np.ndarray] | None = None,
                     labels: tuple[str, str] = ("input", "reconstruction"), ncols: int = 4) -> Path:
    """A grid of small line plots, one panel per (T, F) sequence, a line per column.

    With ``overlay`` (as many sequences as ``panels``), each panel also shows the overlay dashed
    (e.g. input solid, reconstruction dashed).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(panels)
    ncols = max(1, min(ncols, n))
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.2 * ncols, 2.2 * nrows), dpi=90, squeeze=False)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for k, ax in enumerate(axes.flat):
        if k >= n:
            ax.axis("off")
            continue
        for j in range(panels[k].shape[-1]):
            c = colors[j % len(colors)]
            ax.plot(panels[k][:, j], color=c, lw=1.2, label=names[j] if k == 0 else None)
            if overlay is not None:
                ax.plot(overlay[k][:, j], color=c, lw=1.2, ls="--")
        if titles:
            ax.set_title(titles[k], fontsize=8)
        ax.tick_params(labelsize=7)
    handles = axes.flat[0].get_legend_handles_labels()[0]
    if handles and (len(names) > 1 or overlay is not None):
        text = list(names[:len(handles)])
        if overlay is not None:
            text = [f"{t} ({labels[0]} solid, {labels[1]} dashed)" for t in text]
        fig.legend(handles, text, loc="lower center", ncol=min(4, len(handles)), fontsize=7)
    fig.tight_layout(rect=(0, 0.06 if handles else 0, 1, 1))
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())
    return Path(path)
