"""metrics.jsonl (one JSON object per logged step or epoch) and the loss-curve PNG."""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any


class MetricsLog:
    """Append-only JSON-lines log. On resume, lines past the resumed step are dropped first."""

    def __init__(self, path: Path | None):
        self.path = path

    def truncate_after(self, step: int) -> None:
        """Drop records written after ``step`` (they belong to work the resume will redo)."""
        if self.path is None or not self.path.exists():
            return
        keep = [line for line in self.path.read_text().splitlines() if line.strip() and json.loads(line).get("step", 0) <= step]
        self.path.write_text("".join(line + "\n" for line in keep))

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
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def plot_loss_curves(metrics_path: Path, out: Path) -> Path | None:
    """One panel per loss name: train (per epoch, and per logged step when present) and validation."""
    records = read_metrics(metrics_path)
    series: dict[str, dict[str, list[tuple[int, float]]]] = {}
    skip = {"epoch", "step", "split", "time", "images_per_s", "epoch_time", "data_time", "compute_time", "lr"}
    for r in records:
        if r.get("split") == "timing":
            continue
        for k, v in r.items():
            if k in skip or not isinstance(v, (int, float)):
                continue
            series.setdefault(k, {}).setdefault(r.get("split", "train"), []).append((r["step"], float(v)))
    if not series:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = sorted(series, key=lambda n: (n != "loss", n))[:8]
    fig, axes = plt.subplots(1, len(names), figsize=(4 * len(names), 3.2), squeeze=False)
    styles = {"train_step": dict(alpha=0.35, lw=0.8), "train": dict(marker="o", ms=3), "validation": dict(marker="s", ms=3)}
    for ax, name in zip(axes[0], names):
        for split, pts in sorted(series[name].items()):
            xs, ys = zip(*pts)
            ax.plot(xs, ys, label=split, **styles.get(split, {}))
        ax.set_title(name)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out
