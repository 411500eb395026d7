"""``genlab bench``: train every registered generative model under one budget, evaluate them the
same way, and write one table (plus a sample grid per model) into docs/benchmarks.md.

The models come from the registry (names starting with 'test-' and non-generative models such as
the classifier are skipped), so a newly registered model is benchmarked with no change here. Only
the block between the two markers below is replaced; the rest of the file is left alone.
"""
from __future__ import annotations

import json
import os
import platform
import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from genlab import registry
from genlab.config import Binarize, BudgetClock, PrecisionChoice, check_range, from_dict
from genlab.data import parse_dataset
from genlab.errors import ConfigError, Interrupted
from genlab.io import atomic_write_bytes, save_image_grid
from genlab.metrics.evaluate import generate
from genlab.models.base import LikelihoodModel
from genlab.runs.evaluate import evaluate_run
from genlab.runs.run import load, train

BLOCK_START = "<!-- genlab-bench:start -->"
BLOCK_END = "<!-- genlab-bench:end -->"


@dataclass
class BenchSettings:
    """The budget and evaluation of one bench (all written above the table).

    Attributes:
        dataset: the dataset every model trains on.
        binarize: binarization during training ('dynamic' = the standard setting for likelihoods).
        epochs: at most this many epochs per model.
        time_budget: at most this many seconds of training per model (None = no limit).
        budget_clock: 'cpu' (CPU seconds of the training process, all threads) or 'wall'.
        batch_size: training batch size.
        precision: 'auto' (bf16 only where the CPU computes it natively), 'fp32' or 'bf16'.
        seed: training and evaluation seed.
        n: generated images per model (compared with as many test images).
        kid_subset_size: items per KID subset.
        nll_k: importance samples per image for the NLL.
        nll_n: test images for the NLL.
    """

    dataset: str = "mnist"
    binarize: Binarize = "dynamic"
    epochs: int = 5
    time_budget: float | None = 600.0
    budget_clock: BudgetClock = "cpu"
    batch_size: int = 128
    precision: PrecisionChoice = "auto"
    seed: int = 0
    n: int = 10000
    kid_subset_size: int = 1000
    nll_k: int = 1000
    nll_n: int = 1000

    def __post_init__(self) -> None:
        check_range("epochs", self.epochs, 1)
        check_range("time_budget", self.time_budget, 0)
        check_range("batch_size", self.batch_size, 1)
        check_range("seed", self.seed, 0, 2**32, high_open=True)
        for name in ("n", "nll_k", "nll_n"):
            check_range(name, getattr(self, name), 1)
        check_range("kid_subset_size", self.kid_subset_size, 2)
        if self.kid_subset_size > self.n:  # every evaluation would refuse it after training
            raise ValueError(f"kid_subset_size ({self.kid_subset_size}) must be at most n ({self.n}); "
                             f"lower --kid-subset-size or raise --n")


QUICK = {"epochs": 1, "time_budget": 60.0, "n": 2000, "kid_subset_size": 500, "nll_k": 100, "nll_n": 200}


def bench_models() -> list[str]:
    """Registered generative models, without test-only names."""
    return [n for n in registry.names()
            if not n.startswith("test-") and registry.get(n).model_class.generative
            and "images" in registry.get(n).model_class.data_kinds
            and not registry.get(n).model_class.tabular]


def _metrics_for(model_class: type) -> list[str]:
    groups = ["fid", "kid", "prdc", "classes"]
    return groups + ["nll"] if issubclass(model_class, LikelihoodModel) else groups


def bench_one(name: str, s: BenchSettings, out_dir: Path, img_dir: Path) -> dict[str, Any]:
    """Train, evaluate and draw samples of one model; errors become the row's 'error'."""
    run = out_dir / name
    row: dict[str, Any] = {"model": name, "run": str(run)}
    t0 = time.perf_counter()
    try:
        train(name, out=run, data={"dataset": s.dataset, "binarize": s.binarize},
              train={"epochs": s.epochs, "time_budget": s.time_budget, "budget_clock": s.budget_clock,
                     "batch_size": s.batch_size,
                     "precision": s.precision, "seed": s.seed, "device": "cpu", "sample_every": 0},
              overwrite=True)
        row["train_seconds"] = time.perf_counter() - t0
        row["epochs_done"] = _epochs_done(run)
        result = evaluate_run(run, _metrics_for(registry.get(name).model_class), s.n, seed=s.seed,
                              kid_subset_size=s.kid_subset_size, nll_k=s.nll_k, nll_n=s.nll_n)
        row["result"] = result
        images, _ = generate(load(run), 64, s.seed)
        row["image"] = str(save_image_grid(images, img_dir / f"bench_{name}.png", nrow=8))
    except Interrupted:  # Ctrl-C / SIGTERM stop the whole bench
        raise
    except Exception as e:  # noqa: BLE001 - one failing model must not stop the bench; its row says why
        row["error"] = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
    row["wall_seconds"] = time.perf_counter() - t0
    return row


def _epochs_done(run: Path) -> float | None:
    """Epochs actually trained (a time budget may stop a run early), from metrics.jsonl."""
    path = run / "metrics.jsonl"
    if not path.is_file():
        return None
    last = None
    for line in path.read_text().splitlines():
        rec = json.loads(line)
        if rec.get("split") == "train":
            last = rec
    return None if last is None else float(last.get("epochs_done", last["epoch"]))  # a run may end inside an epoch


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.{digits}g}" if abs(value) < 1000 else f"{value:.0f}"
    return str(value)


def render_block(rows: list[dict[str, Any]], s: BenchSettings, command: str) -> str:
    """The markdown between the bench markers: setup, one table, the sample grids."""
    extractor = next((r["result"]["extractor"] for r in rows if "result" in r and r["result"].get("extractor")), None)
    clock = "CPU-s" if s.budget_clock == "cpu" else "s (wall)"
    budget = f"{s.epochs} epochs" + (f" or {s.time_budget:g} {clock} of training" if s.time_budget else "")
    lines = [
        BLOCK_START,
        f"Written by `genlab bench` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} (replace by rerunning it):",
        "",
        "```bash",
        command,
        "```",
        "",
        f"- Machine: {platform.machine()} CPU, {os.cpu_count()} cores (shared with other jobs), torch "
        f"{torch.__version__}, {torch.get_num_threads()} threads.",
        f"- Training: every registered generative model with its default config on {s.dataset} "
        f"(binarize {s.binarize}), batch {s.batch_size}, {s.precision}, seed {s.seed}; budget per model: "
        f"{budget}, whichever ends first.",
        f"- Evaluation: {s.n} samples against {s.n} {s.dataset} test images (as stored) through the extractor "
        f"`{extractor['id'] if extractor else 'n/a'}` (test accuracy "
        f"{_fmt(extractor.get('test_accuracy') if extractor else None, 4)}); FD = Fréchet distance of its "
        f"features; KID = unbiased MMD^2 with the cubic kernel "
        f"{'on the whole sample' if s.kid_subset_size == s.n else f'over 100 subsets of {s.kid_subset_size}'} (on "
        f"these unnormalized features its scale differs from Inception KIDs); precision/recall k = 3, density/coverage "
        f"k = 5; NLL = importance-sampled -log p(x) with k = {s.nll_k} on the first {s.nll_n} test images "
        f"binarized once (nats per image).",
        "",
        "| model | budget | epochs done | wall time | FD | KID | precision | recall | density | coverage "
        "| classes covered | class KL | NLL (nats) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if "error" in r:
            error = r["error"].replace("|", "/")
            lines.append(f"| {r['model']} | {budget} | | {r['wall_seconds']:.0f} s | failed: {error} "
                         "| | | | | | | | |")
            continue
        m = r["result"]["metrics"]
        lines.append("| " + " | ".join([
            r["model"], budget, _fmt(r.get("epochs_done")), f"{r['wall_seconds']:.0f} s", _fmt(m.get("fd")),
            _fmt(m.get("kid")), _fmt(m.get("precision")), _fmt(m.get("recall")),
            _fmt(m.get("density")), _fmt(m.get("coverage")), _fmt(m.get("class_coverage")), _fmt(m.get("class_kl")),
            _fmt(m.get("nll_nats"), 5)]) + " |")
    images = [r for r in rows if "image" in r]
    if images:
        lines.append("")
        lines.append(f"Samples (64 per model, seed {s.seed}):")
        lines.append("")
        for r in images:
            lines.append(f"- {r['model']}: ![{r['model']} samples]({r['image_link']})")
    lines.append(BLOCK_END)
    return "\n".join(lines)


def write_block(doc: Path, block: str) -> None:
    """Replace the marked block of ``doc`` (or append it under a heading); nothing else changes."""
    text = doc.read_text() if doc.is_file() else "# Benchmarks\n"
    if BLOCK_START in text and BLOCK_END in text:
        head, rest = text.split(BLOCK_START, 1)
        tail = rest.split(BLOCK_END, 1)[1]
        text = head + block + tail
    else:
        text = text.rstrip("\n") + "\n\n## genlab bench: every generative model, one budget\n\n" + block + "\n"
    doc.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(doc, text.encode())


def run_bench(models: list[str] | None = None, out_dir: str | Path = "runs/bench",
              doc: str | Path = "docs/benchmarks.md", img_dir: str | Path | None = None, command: str | None = None,
              **settings: Any) -> list[dict[str, Any]]:
    """Train and evaluate models under one budget and write the table into ``doc``.

    Args:
        models: registry names (default: :func:`bench_models`).
        out_dir: where the runs go (one directory per model).
        doc: the markdown file whose bench block is replaced.
        img_dir: where the sample grids go (default: an ``img`` folder beside ``doc``).
        command: the command line recorded above the table.
        **settings: fields of :class:`BenchSettings`.

    Returns:
        one row per model: its run, timings, evaluation result or error.
    """
    s = from_dict(BenchSettings, settings, "bench settings")
    parse_dataset(s.dataset)  # an unknown dataset fails here, not once per model
    names = models or bench_models()
    unknown = [m for m in names if m not in bench_models()]
    if unknown:
        registry.get(unknown[0])  # unknown names fail with a suggestion
        raise ConfigError(f"model '{unknown[0]}' cannot be benchmarked (it does not generate images; table models "
                          f"have their own benchmark, benchmarks/tables.py)")
    doc, out_dir = Path(doc), Path(out_dir)
    img_dir = Path(img_dir) if img_dir is not None else doc.parent / "img"
    rows = []
    for name in names:
        print(f"genlab bench: {name}", file=sys.stderr, flush=True)
        row = bench_one(name, s, out_dir, img_dir)
        if "image" in row:
            row["image_link"] = os.path.relpath(row["image"], doc.parent)
        rows.append(row)
    cmd = command or "genlab bench " + " ".join(shlex.quote(a) for a in sys.argv[2:])
    write_block(doc, render_block(rows, s, cmd))
    return rows
