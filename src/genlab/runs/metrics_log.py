"""metrics.jsonl (one JSON object per logged step or epoch) and the loss-curve PNG."""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from genlab.io import atomic_write_bytes


class MetricsLog:
    """Append-only JSON-lines log. On resume, lines past the resumed step are dropped first."""

    def __init__(self, path: Path | None):
        self.path = path

    def truncate_after(self, step: int) -> None:
        """Drop records written after ``step`` (they belong to work the resume will redo)."""
        if self.path is None or not self.path.exists():
            return
        keep = []
        for line in self.path.read_text().splitlines():
            try:
                record = json.loads(line)
            except ValueError:  # a line cut short by a kill during an append: drop it
                continue
            if isinstance(record, dict) and record.get("step", 0) <= step:
                keep.append(line)
        # a temporary file and a rename: a kill during the rewrite leaves the old log, never an empty one
        atomic_write_bytes(self.path, "".join(line + "\n" for line in keep).encode())

    def write(self, record: dict[str, Any]) -> None:
        if self.path is None:
            return
        with self.path.open("a") as f:
            f.write(json.dumps({k: _clean(v) for k, v in record.items()}) + "\n")


def _clean(v: Any) -> Any:
    if isinstance(v, float):
        return round(v, 6) if math.isfinite(v) else str(v)
    return v


def read_metrics(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    records = []
    for line in path.read_text().splitlines():
        try:
            records.append(json.loads(line))
        except ValueError:  # a line cut short by a kill
            continue
    return [r for r in records if isinstance(r, dict)]


def plot_loss_curves(metrics_path: Path, out: Path) -> Path | None:
    """One panel per loss name: train (per epoch, and per logged step when present) and validation."""
    records = read_metrics(metrics_path)
    series: dict[str, dict[str, list[tuple[int, float]]]] = {}
    skip = {"epoch", "step", "split", "time", "images_per_s", "epoch_time", "data_time", "compute_time", "lr",
            "images_seen", "cpu_time",
            "rounds", "epochs_done", "partial_epoch"}
    for r in records:
        if r.get("split") in ("timing", "config_change", "selection") or "step" not in r:  # selection: the report's
            continue
        for k, v in r.items():
            if k in skip or not isinstance(v, (int, float)):
                continue
            series.setdefault(k, {}).setdefault(r.get("split", "train"), []).append((r["step"], float(v)))
    if not series:
        return None
    import matplotlib  # deferred: a heavy optional dependency, imported once a plot is drawn

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = sorted(series, key=lambda n: (n != "loss", n))[:8]
    fig, axes = plt.subplots(1, len(names), figsize=(4 * len(names), 3.2), squeeze=False)
    styles: dict[str, dict[str, Any]] = {"train_step": dict(alpha=0.35, lw=0.8), "train": dict(marker="o", ms=4),
              "validation": dict(marker="s", ms=4)}
    for ax, name in zip(axes[0], names, strict=True):
        for split, pts in sorted(series[name].items()):
            xs, ys = zip(*pts, strict=True)
            style = dict(styles.get(split, {}))
            if split == "train_step" and len(series[name].get("train", [])) <= 2:
                style["alpha"] = 0.9  # few epochs: the per-step series is the curve to read
            if len(pts) <= 30:  # short series (a short run, few epochs): markers so one or two points show
                style.setdefault("marker", ".")
                style["alpha"] = max(style.get("alpha", 1.0), 0.8)
                style.setdefault("ms", 5)
            ax.plot(xs, ys, "-", label=split, **style)
        ax.set_title(name)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out
