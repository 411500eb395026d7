"""The HTML report of a run (``genlab report``) and of several runs side by side (``genlab compare``).

A report is ONE self-contained HTML file: images are inlined as base64 PNG, charts are inline SVG
drawn here (no JavaScript, no network, no matplotlib), so it opens anywhere and can be mailed. It
shows what the run directory holds: the config, the machine and precision, loss curves per phase,
the sample grids over epochs, ``metrics.json`` (with the extractor id and sample counts), the
reconstructions / interpolations / traversals of latent models, the mode monitor's class shares,
and where the time went. A part that is missing (a run never evaluated, a run from before
``machine.json``) is listed at the top and the rest still renders. The run layer writes the report
at the end of every run (``TrainConfig.report``; ``genlab train --no-report`` switches it off).
"""
from __future__ import annotations

import base64
import html
import io
import json
import math
import os
import platform
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from genlab import __version__
from genlab.apps.sampling import style_mix_grid
from genlab.apps.translate import apply as apply_translator
from genlab.io import atomic_write_bytes, make_grid, read_json
from genlab.models.base import GenerativeModel, LatentModel
from genlab.models.translation import ImageTranslator
from genlab.runs import run as runs  # a module reference: run.py calls this module at the end of a run
from genlab.runs.metrics_log import read_metrics

REPORT_FILE = "report.html"
MACHINE_FILE = "machine.json"
MAX_GRIDS = 12  # sample grids shown over epochs (evenly spaced when a run drew more)
# metrics.jsonl keys that are bookkeeping or timing, not losses
NOT_LOSSES = {"epoch", "step", "split", "time", "images_per_s", "epoch_time", "data_time", "compute_time", "lr",
              "rounds", "epochs_done", "partial_epoch", "grad_norm"}
COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf")


def machine_info() -> dict[str, Any]:
    """What this process runs on: written to ``RUN/machine.json`` when a run starts (or resumes)."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info: dict[str, Any] = {"cpu": cpu, "logical_cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(),
                            "system": f"{platform.system()} {platform.release()}", "python": platform.python_version(),
                            "torch": torch.__version__, "genlab": __version__}
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


# --------------------------------------------------------------------------------------- pieces

def png_uri(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def grid_png(images: torch.Tensor, nrow: int | None = None) -> bytes:
    """(N, C, H, W) images in [0, 1] as one PNG grid (small images enlarged, nearest), in memory."""
    from PIL import Image

    grid = make_grid(images, nrow)
    img = Image.fromarray(grid[..., 0] if grid.shape[-1] == 1 else grid)
    scale = max(1, min(4, 64 // max(images.shape[-1], 1)))
    if scale > 1:
        img = img.resize((img.width * scale, img.height * scale), Image.Resampling.NEAREST)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def _img(uri: str, alt: str, width: int | None = None) -> str:
    size = f' style="width:{width}px"' if width else ""
    return f'<img src="{uri}" alt="{html.escape(alt)}"{size}>'


def _num(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return html.escape(str(v))


def svg_chart(series: dict[str, list[tuple[float, float]]], title: str, width: int = 340, height: int = 190,
              xlabel: str = "step") -> str:
    """A line chart as inline SVG: one polyline (with dots when short) per named series."""
    pts = [p for s in series.values() for p in s if math.isfinite(p[1])]
    if not pts:
        return ""
    x0, x1 = min(p[0] for p in pts), max(p[0] for p in pts)
    y0, y1 = min(p[1] for p in pts), max(p[1] for p in pts)
    if x1 == x0:
        x0, x1 = x0 - 1, x1 + 1
    if y1 == y0:
        y0, y1 = y0 - abs(y0) * 0.1 - 1e-6, y1 + abs(y1) * 0.1 + 1e-6
    left, right, top, bottom = 48, 16, 20, 30
    pw, ph = width - left - right, height - top - bottom

    def sx(x: float) -> float:
        return left + (x - x0) / (x1 - x0) * pw

    def sy(y: float) -> float:
        return top + (y1 - y) / (y1 - y0) * ph

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" class="chart" role="img">',
           f'<title>{html.escape(title)}</title>',
           f'<text x="{width / 2}" y="13" text-anchor="middle" class="ct">{html.escape(title)}</text>',
           f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#bbb"/>']
    for frac in (0, 0.5, 1):
        yv = y0 + frac * (y1 - y0)
        out.append(f'<text x="{left - 4}" y="{sy(yv) + 4:.1f}" text-anchor="end" class="ax">{yv:.3g}</text>')
    for xv in (x0, x1):
        out.append(f'<text x="{sx(xv):.1f}" y="{height - 16}" text-anchor="middle" class="ax">{xv:.4g}</text>')
    out.append(f'<text x="{left + pw / 2}" y="{height - 3}" text-anchor="middle" class="ax">{xlabel}</text>')
    for i, (name, s) in enumerate(series.items()):
        color = COLORS[i % len(COLORS)]
        good = [(sx(x), sy(y)) for x, y in s if math.isfinite(y)]
        if not good:
            continue
        line = " ".join(f"{x:.1f},{y:.1f}" for x, y in good)
        opacity = "0.45" if name == "train_step" and len(series) > 1 else "1"
        out.append(f'<polyline points="{line}" fill="none" stroke="{color}" stroke-width="1.5" '
                   f'stroke-opacity="{opacity}"/>')
        if len(good) <= 30:
            out += [f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="{color}"/>' for x, y in good]
        out.append(f'<text x="{left + 6}" y="{top + 12 + 12 * i}" class="lg" fill="{color}">{html.escape(name)}</text>')
    out.append("</svg>")
    return "".join(out)


def loss_series(records: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, list[tuple[float, float]]]]]:
    """phase -> loss name -> split -> [(step, value)]. A key 'phase/name' belongs to that phase (GANs log
    'discriminator/loss'); other keys to the one phase 'model'."""
    out: dict[str, dict[str, dict[str, list[tuple[float, float]]]]] = {}
    for r in records:
        split = r.get("split", "train")
        if split not in ("train", "train_step", "validation") or not isinstance(r.get("step"), (int, float)):
            continue
        for k, v in r.items():
            if k in NOT_LOSSES or isinstance(v, bool) or not isinstance(v, (int, float)):
                continue
            phase, _, name = k.rpartition("/")
            if name in NOT_LOSSES:
                continue
            out.setdefault(phase or "model", {}).setdefault(name, {}).setdefault(split, []).append(
                (float(r["step"]), float(v)))
    return out


def _grid_key(path: Path) -> tuple[int, int]:
    m = re.search(r"(\d+)", path.stem)
    return (1 if path.stem.startswith("step") else 0, int(m.group(1)) if m else 0)


def sample_grids(run_dir: Path) -> list[Path]:
    """The run's sample grids over training (``samples/*.png``) in the order they were drawn."""
    folder = run_dir / "samples"
    if not folder.is_dir():
        return []
    paths = [p for p in folder.glob("*.png") if not p.name.startswith(".")]
    return sorted(paths, key=lambda p: (p.stat().st_mtime_ns, _grid_key(p)))


def _spread(items: list[Any], k: int) -> list[Any]:
    if len(items) <= k:
        return items
    return [items[round(i * (len(items) - 1) / (k - 1))] for i in range(k)]


# --------------------------------------------------------------------------------------- a run

@dataclass
class RunView:
    """Everything a report shows of one run, read once; ``missing`` lists what is not there and why."""

    run_dir: Path
    config: dict[str, Any]
    records: list[dict[str, Any]] = field(default_factory=list)
    machine: dict[str, Any] | None = None
    metrics: dict[str, Any] | None = None
    grids: list[Path] = field(default_factory=list)
    figures: dict[str, tuple[bytes, str]] = field(default_factory=dict)  # title -> (PNG, caption)
    sequence_charts: list[str] = field(default_factory=list)  # sequence models: sampled and test series (SVG)
    missing: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return str(self.config["model"]["name"])


def training_run(directory: str | Path) -> Path:
    """``directory`` itself, or, for the directory of a table model (``genlab synth fit --out DIR``, which holds
    synthesizer.json and the training run in DIR/run), its training run."""
    d = Path(directory)
    synth = (d / "synthesizer.json").is_file() and (d / "run" / "config.json").is_file()
    return d / "run" if synth and not (d / "config.json").is_file() else d


def read_view(run_dir: str | Path, model: GenerativeModel | None = None, splits: Any = None,
              figures: bool = True) -> RunView:
    """Read a run for a report. ``model`` / ``splits``: already in memory (the end of a training run);
    otherwise the model is loaded and test images are read from the run's dataset.

    Raises:
        CheckpointError: ``run_dir`` is not a run (the one failure that stops a report).
    """
    run_dir = training_run(run_dir)
    view = RunView(run_dir, runs.read_run_config(run_dir))
    synth = (run_dir.parent / "synthesizer.json").is_file()  # a table model's run: quality is `genlab synth report`
    metrics_log = run_dir / "metrics.jsonl"
    if metrics_log.is_file():
        view.records = read_metrics(metrics_log)
    if not view.records:
        view.missing.append("metrics.jsonl: no training records (the run stopped before its first log line)")
    try:
        machine = read_json(run_dir / MACHINE_FILE)
        if not isinstance(machine, dict):
            raise ValueError
        view.machine = machine
    except FileNotFoundError:
        view.missing.append(f"{MACHINE_FILE}: not written (a run from an older genlab)")
    except ValueError:
        view.missing.append(f"{MACHINE_FILE}: not a JSON object")
    try:
        metrics = read_json(run_dir / "metrics.json")
        if not isinstance(metrics, dict):
            raise ValueError
        view.metrics = metrics
    except FileNotFoundError:
        view.missing.append(f"metrics.json: none (a table model's quality report: `genlab synth report "
                            f"{run_dir.parent}`)" if synth else
                            f"metrics.json: the run was not evaluated (run `genlab evaluate {run_dir}`)")
    except ValueError:
        view.missing.append("metrics.json: not a genlab metrics file (expected a JSON object)")
    view.grids = sample_grids(run_dir)
    if not view.grids and synth:
        view.missing.append(f"samples/: none (a table model: its rows come from `genlab synth sample "
                            f"{run_dir.parent}`)")
    elif not view.grids:
        view.missing.append("samples/: no sample grids (a model without image samples, or sample_every 0)")
    if figures:
        _latent_figures(view, model, splits)
    return view


def _latent_figures(view: RunView, model: GenerativeModel | None, splits: Any) -> None:
    """Reconstructions, an interpolation and a traversal for latent image models (nothing otherwise)."""
    try:
        net = model if model is not None else runs.load(view.run_dir)
    except Exception as e:  # noqa: BLE001 - a report renders what it can
        view.missing.append(f"model: cannot be loaded ({e})")
        return
    if isinstance(net, ImageTranslator) or net.has_styles:
        _model_figures(view, net, splits)
        return
    if net.data_kind == "sequences":
        _sequence_charts(view, net, splits)
        return
    if not isinstance(net, LatentModel) or net.data_kind != "images":
        return
    was_training = net.training
    net.eval()
    try:
        with torch.random.fork_rng(devices=[]), torch.no_grad():
            torch.manual_seed(0)
            splits = splits if splits is not None else runs.run_splits(view.run_dir)
            n = min(8, len(splits["test"]))
            if n == 0:
                return
            x, y = runs.run_images(view.run_dir, "test", list(range(n)), splits=splits)
            x = x.to(net.device)
            labels = y.to(net.device) if net.requires_labels and y is not None else None
            rec = net.reconstruct(x, labels)
            view.figures["reconstructions"] = (grid_png(torch.cat([x.float(), rec.float()]).cpu(), n),
                                               f"{n} test images (top) and their reconstructions (bottom)")
            label = int(y[0]) if labels is not None and y is not None else None
            if n >= 2:
                strip = net.interpolate(x[0], x[1], steps=10, method="spherical", label=label)
                view.figures["interpolation"] = (grid_png(strip.float().cpu(), 10),
                                                 "spherical interpolation between test images 0 and 1")
            dims = list(range(min(6, int(net._codes(x[:1], None if labels is None else labels[:1]).shape[-1]))))
            trav = net.traverse(x[0], dims=dims, span=3.0, steps=9, label=label)
            view.figures["traversal"] = (grid_png(trav.float().cpu(), 9),
                                         f"latent dimensions {dims[0]}..{dims[-1]} of test image 0, one row each, "
                                         f"from -3 to 3")
    except Exception as e:  # noqa: BLE001 - a report renders what it can
        view.missing.append(f"reconstructions: could not be drawn ({type(e).__name__}: {e})")
    finally:
        net.train(was_training)


def _sequence_charts(view: RunView, net: GenerativeModel, splits: Any, n: int = 4) -> None:
    """A sequence model's samples (seed 0) and a few test sequences as line charts, one line per feature."""
    was_training = net.training
    net.eval()
    try:
        with torch.random.fork_rng(devices=[]), torch.no_grad():
            torch.manual_seed(0)
            labels = torch.arange(n, device=net.device) % net.num_classes if net.num_classes else None
            drawn = net.sample(n, labels).float().cpu()
            splits = splits if splits is not None else runs.run_splits(view.run_dir)
            k = min(2, len(splits["test"]))
            real = runs.run_images(view.run_dir, "test", list(range(k)), splits=splits)[0].float().cpu() if k else None

        def chart(seq: torch.Tensor, title: str) -> str:
            lines = {f"feature {f}": [(float(t), float(v)) for t, v in enumerate(seq[:, f].tolist())]
                     for f in range(min(seq.shape[-1], len(COLORS)))}
            return svg_chart(lines, title, width=300, height=170, xlabel="time step")

        view.sequence_charts = [chart(s, f"sample {i}") for i, s in enumerate(drawn)]
        view.sequence_charts += [chart(s, f"test sequence {i}") for i, s in enumerate(real if real is not None else [])]
        view.missing = [m for m in view.missing if not m.startswith("samples/:")]
    except Exception as e:  # noqa: BLE001 - a report renders what it can
        view.missing.append(f"sampled sequences: could not be drawn ({type(e).__name__}: {e})")
    finally:
        net.train(was_training)


def _model_figures(view: RunView, net: GenerativeModel, splits: Any) -> None:
    """Test images translated / upscaled by an image-to-image model; a style-mixing grid of a style GAN."""
    was_training = net.training
    net.eval()
    try:
        with torch.random.fork_rng(devices=[]), torch.no_grad():
            torch.manual_seed(0)
            if net.has_styles:
                rows, cols = 2, 3
                images, _ = style_mix_grid(net, rows, cols, 1.0)
                view.figures["style mixing"] = (grid_png(images.float().cpu(), 1 + cols),
                                                f"top row: {cols} column sources; then {rows} rows each of coarse, "
                                                f"middle and fine styles taken from a row source (first column)")
            if isinstance(net, ImageTranslator):
                view.missing = [m for m in view.missing if not m.startswith("samples/:")]
                view.missing.append(f"samples/: none (model '{net.registry_name}' {net.command}s images instead of "
                                    f"sampling them; its translations of test images are shown)")
                splits = splits if splits is not None else runs.run_splits(view.run_dir)
                n = min(6, len(splits["test"]))
                if n == 0:
                    return
                x, _ = runs.run_images(view.run_dir, "test", list(range(n)), splits=splits)
                a, b = net.split_packed(x.float())
                out = apply_translator(net, a).float().cpu()
                size, channels = tuple(out.shape[-2:]), max(a.shape[1], b.shape[1], out.shape[1])

                def fit(t: torch.Tensor) -> torch.Tensor:  # nearest resize, gray repeated: one grid
                    t = t.float().cpu()
                    t = t.expand(-1, channels, -1, -1) if t.shape[1] != channels else t
                    return t if tuple(t.shape[-2:]) == size else torch.nn.functional.interpolate(t, size=size)

                verb = "upscaled" if net.command == "upscale" else "translated (A -> B)"
                view.figures["translations"] = (grid_png(torch.cat([fit(a), out, fit(b)]), n),
                                                f"{n} test inputs (top), {verb} (middle), targets (bottom)")
    except Exception as e:  # noqa: BLE001 - a report renders what it can
        view.missing.append(f"model figures: could not be drawn ({type(e).__name__}: {e})")
    finally:
        net.train(was_training)


# --------------------------------------------------------------------------------------- sections

CSS = """
body{font-family:system-ui,sans-serif;margin:1.5em auto;max-width:1200px;color:#222;padding:0 1em}
h1{font-size:1.5em}h2{font-size:1.15em;border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;font-size:.85em}td,th{border:1px solid #ddd;padding:.2em .5em;text-align:right}
th{background:#f4f4f4}td.l,th.l{text-align:left}pre{background:#f7f7f7;padding:.6em;font-size:.8em;overflow:auto}
.missing{background:#fff4e5;border:1px solid #f0b35a;padding:.5em 1em}.row{display:flex;flex-wrap:wrap;gap:1em}
figure{margin:0}figcaption{font-size:.8em;color:#555}img{image-rendering:pixelated;max-width:100%}
.chart .ct{font-size:12px;font-weight:600}.chart .ax{font-size:10px;fill:#555}.chart .lg{font-size:10px}
.cmp td{vertical-align:top;text-align:left}
"""


def _page(title: str, body: list[str]) -> str:
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body>\n"
            + "\n".join(body) + f"\n<p style=\"font-size:.75em;color:#777\">written by genlab {__version__}</p>"
            "</body></html>\n")


def _table(rows: Sequence[Sequence[Any]], head: Sequence[str] | None = None) -> str:
    out = ["<table>"]
    if head:
        out.append("<tr>" + "".join(f'<th class="l">{html.escape(h)}</th>' for h in head) + "</tr>")
    for row in rows:
        cells = [f'<td class="l">{_num(row[0])}</td>'] + [
            f"<td>{_num(v)}</td>" if isinstance(v, (int, float)) else f'<td class="l">{_num(v)}</td>' for v in row[1:]]
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</table>")
    return "".join(out)


def section_config(view: RunView) -> str:
    cfg = view.config
    rows = [("model", view.name), ("dataset", cfg["data"].get("dataset")), ("genlab (run)", cfg.get("genlab", "?"))]
    return ("<h2>Config</h2>" + _table(rows) + "<details><summary>config.json</summary><pre>"
            + html.escape(json.dumps({k: cfg[k] for k in ("model", "data", "train") if k in cfg}, indent=1))
            + "</pre></details>")


def section_machine(view: RunView) -> str:
    prec = view.config.get("precision") or {}
    rows: list[tuple[str, Any]] = [("precision", prec.get("name", "not recorded")), ("why", prec.get("reason", ""))]
    rows += list((view.machine or {}).items())
    return "<h2>Machine and precision</h2>" + _table(rows)


def loss_charts(view: RunView) -> dict[str, list[str]]:
    """phase -> SVG charts (one per loss name)."""
    charts: dict[str, list[str]] = {}
    for phase, losses in loss_series(view.records).items():
        names = sorted(losses, key=lambda n: (n != "loss", n))
        charts[phase] = [svg_chart(losses[n], f"{phase}: {n}" if phase != "model" else n) for n in names]
    return charts


def section_losses(view: RunView) -> str:
    charts = loss_charts(view)
    if not charts:
        return "<h2>Loss curves</h2><p>no losses logged</p>"
    out = ["<h2>Loss curves</h2><p>per logged step (train_step), per epoch (train) and on the validation split</p>"]
    for phase, svgs in charts.items():
        if len(charts) > 1:
            out.append(f"<h3>phase {html.escape(phase)}</h3>")
        out.append('<div class="row">' + "".join(svgs) + "</div>")
    return "".join(out)


def section_samples(view: RunView) -> str:
    if not view.grids:
        return ""
    shown = _spread(view.grids, MAX_GRIDS)
    figs = [f"<figure>{_img(png_uri(p.read_bytes()), p.stem, 220)}<figcaption>{html.escape(p.stem)}</figcaption>"
            f"</figure>" for p in shown]
    note = f" ({len(shown)} of {len(view.grids)})" if len(shown) < len(view.grids) else ""
    return f"<h2>Samples over training{note}</h2><div class=\"row\">" + "".join(figs) + "</div>"


def section_sequences(view: RunView) -> str:
    if not view.sequence_charts:
        return ""
    return ("<h2>Sampled sequences</h2><p>samples of the final model (seed 0), then test sequences, one line per "
            "feature</p><div class=\"row\">" + "".join(view.sequence_charts) + "</div>")


def section_metrics(view: RunView) -> str:
    m = view.metrics
    if not m:
        return ""
    values: dict[str, Any] = m["metrics"] if isinstance(m.get("metrics"), dict) else {}
    ext = m.get("extractor") if isinstance(m.get("extractor"), dict) else None
    rows = [(k, v) for k, v in values.items() if not isinstance(v, (list, dict))]
    about = [("extractor", ext.get("id") if ext else "none (no feature metric)"),
             ("samples", m.get("n_samples")), ("real images", m.get("n_real")), ("split", m.get("split"))]
    return ("<h2>Metrics (metrics.json)</h2><div class=\"row\">" + _table(rows, ("metric", "value"))
            + _table(about) + "</div>")


def section_figures(view: RunView) -> str:
    if not view.figures:
        return ""
    title = ("Reconstructions, interpolation, traversal" if "reconstructions" in view.figures else
             ", ".join(view.figures).capitalize())
    out = [f"<h2>{html.escape(title)}</h2><div class=\"row\">"]
    for title, (png, caption) in view.figures.items():
        out.append(f"<figure>{_img(png_uri(png), title)}<figcaption>{html.escape(caption)}</figcaption></figure>")
    return "".join(out) + "</div>"


def section_stages(view: RunView) -> str:
    """Stage records (progan's growing resolution): when each stage began, faded in and became stable."""
    records = [r for r in view.records if r.get("split") == "stage"]
    if not records:
        return ""
    keys = ("epoch", "step", "stage", "resolution", "phase", "alpha", "images")
    return ("<h2>Stages (growing resolution)</h2>"
            + _table([[_num(r.get(k)) if r.get(k) is not None else "" for k in keys] for r in records], keys))


def section_selection(view: RunView) -> str:
    """--keep-best: the validation FD at each measurement, and which model RUN/best holds."""
    records = [r for r in view.records if r.get("split") == "selection" and isinstance(r.get("fd"), (int, float))]
    if not records:
        return ""
    best = records[-1].get("best_step")
    rows = [[_num(r.get("epoch")), _num(r.get("step")), _num(float(r["fd"])), "best" if r.get("step") == best else ""]
            for r in records]
    chart = svg_chart({"validation FD": [(float(r["step"]), float(r["fd"])) for r in records]},
                      "validation FD (--keep-best)")
    return ("<h2>Model selection (--keep-best)</h2><p>FD of " + _num(records[-1].get("n"))
            + " samples against as many validation images; RUN/best holds the model of the lowest</p>"
            + '<div class="row">' + _table(rows, ("epoch", "step", "FD", "")) + chart + "</div>")


def section_modes(view: RunView) -> str:
    records = [r for r in view.records if r.get("split") == "modes" and isinstance(r.get("class_shares"), list)]
    if not records:
        return ""
    k = max(len(r["class_shares"]) for r in records)
    head = "<tr><th>epoch</th><th>step</th><th>covered</th>" + "".join(f"<th>{i}</th>" for i in range(k)) + "</tr>"
    rows = []
    for r in records:
        cells = []
        for share in r["class_shares"]:
            shade = max(0, 255 - int(min(1.0, float(share) * k / 2) * 200))
            cells.append(f'<td style="background:rgb({shade},{shade},255)">{float(share):.2f}</td>')
        rows.append(f"<tr><td>{r.get('epoch')}</td><td>{r.get('step')}</td><td>{r.get('classes_covered')}</td>"
                    + "".join(cells) + "</tr>")
    return ("<h2>Mode monitor: class shares of samples</h2><p>share of 500 samples the evaluation classifier "
            "puts in each class (even: 1/K each)</p><table>" + head + "".join(rows) + "</table>")


def timing_summary(records: list[dict[str, Any]]) -> dict[str, float]:
    """Total seconds per part of the epochs (the ``timing`` records) and the mean images/s."""
    totals: dict[str, float] = {}
    for r in records:
        if r.get("split") == "timing":
            for k, v in r.items():
                if k.endswith("_time") and isinstance(v, (int, float)):
                    totals[k] = totals.get(k, 0.0) + float(v)
    speeds = [float(r["images_per_s"]) for r in records
              if r.get("split") == "train" and isinstance(r.get("images_per_s"), (int, float))]
    if speeds:
        totals["images_per_s"] = sum(speeds) / len(speeds)
    return totals


def section_timing(view: RunView) -> str:
    totals = timing_summary(view.records)
    if not totals:
        return ""
    wall = totals.get("wall_time", 0.0)
    rows = [(k.removesuffix("_time"), round(v, 3), f"{100 * v / wall:.0f}%" if wall and k != "wall_time" else "")
            for k, v in totals.items() if k != "images_per_s"]
    speed = [(float(r["step"]), float(r["images_per_s"])) for r in view.records
             if r.get("split") == "train" and isinstance(r.get("images_per_s"), (int, float))]
    chart = svg_chart({"images/s": speed}, "training speed (images/s per epoch)") if speed else ""
    mean = f"<p>mean {totals['images_per_s']:.1f} images/s while training</p>" if "images_per_s" in totals else ""
    return ("<h2>Timing</h2>" + mean + "<div class=\"row\">" + _table(rows, ("where", "seconds", "of wall"))
            + chart + "</div>")


SECTIONS: list[tuple[str, Callable[[RunView], str]]] = [
    ("config", section_config), ("machine", section_machine), ("loss curves", section_losses),
    ("samples", section_samples), ("sequences", section_sequences), ("metrics", section_metrics),
    ("figures", section_figures),
    ("stages", section_stages), ("selection", section_selection), ("mode monitor", section_modes),
    ("timing", section_timing)]


def render_report(view: RunView) -> str:
    body = [f"<h1>genlab run report: {html.escape(view.name)} &mdash; {html.escape(str(view.run_dir))}</h1>"]
    parts = []
    for title, make in SECTIONS:
        try:
            parts.append(make(view))
        except Exception as e:  # noqa: BLE001 - one broken part must not hide the others
            view.missing.append(f"{title}: could not be drawn ({type(e).__name__}: {e})")
    if view.missing:
        body.append('<div class="missing"><b>Missing from this report</b><ul>'
                    + "".join(f"<li>{html.escape(m)}</li>" for m in view.missing) + "</ul></div>")
    return _page(f"genlab report: {view.run_dir.name}", body + parts)


def write_report(run_dir: str | Path, out: str | Path | None = None, model: GenerativeModel | None = None,
                 splits: Any = None) -> tuple[Path, list[str]]:
    """Write the report of a run (default ``RUN/report.html``); returns its path and what is missing."""
    view = read_view(run_dir, model, splits)
    path = Path(out) if out is not None else view.run_dir / REPORT_FILE
    text = render_report(view)
    atomic_write_bytes(path, text.encode("utf-8"))
    return path, view.missing


def report_at_end(run_dir: Path, model: GenerativeModel, splits: Any) -> None:
    """The automatic report at the end of a run: a failure is a warning, never a failed run."""
    try:
        write_report(run_dir, model=model, splits=splits)
    except Exception as e:  # noqa: BLE001 - the run itself succeeded
        print(f"genlab: warning: the run report could not be written ({type(e).__name__}: {e})", file=sys.stderr)


# --------------------------------------------------------------------------------------- compare

def render_compare(views: list[RunView]) -> str:
    """Several runs side by side: one column per run, one row per figure."""
    labels = [f"{v.name}<br><small>{html.escape(str(v.run_dir))}</small>" for v in views]

    def row(title: str, cells: list[str]) -> str:
        return f'<tr><th class="l">{html.escape(title)}</th>' + "".join(f"<td>{c}</td>" for c in cells) + "</tr>"

    def latest_grid(v: RunView) -> str:
        if not v.grids and v.sequence_charts:
            return v.sequence_charts[0]
        return _img(png_uri(v.grids[-1].read_bytes()), "samples", 260) if v.grids else "<i>no samples</i>"

    def main_loss(v: RunView) -> str:
        charts = loss_charts(v)
        return "".join(svgs[0] for svgs in charts.values() if svgs) or "<i>no losses</i>"

    def figure(v: RunView, name: str) -> str:
        return _img(png_uri(v.figures[name][0]), name, 260) if name in v.figures else "<i>-</i>"

    metric_names = sorted({k for v in views if v.metrics and isinstance(v.metrics.get("metrics"), dict)
                           for k, x in v.metrics["metrics"].items() if isinstance(x, (int, float))})

    def metric(v: RunView, k: str) -> str:
        values = (v.metrics or {}).get("metrics") or {}
        return _num(values[k]) if k in values else "-"

    rows = [row("latest samples", [latest_grid(v) for v in views]),
            row("loss", [main_loss(v) for v in views]),
            row("reconstructions", [figure(v, "reconstructions") for v in views]),
            row("interpolation", [figure(v, "interpolation") for v in views])]
    rows += [row(k, [metric(v, k) for v in views]) for k in metric_names]
    rows.append(row("extractor", [html.escape(str(((v.metrics or {}).get("extractor") or {}).get("id", "-")))
                                  for v in views]))
    rows.append(row("images/s", [_num(timing_summary(v.records).get("images_per_s", "-")) for v in views]))
    rows.append(row("precision", [html.escape(str((v.config.get("precision") or {}).get("name", "-")))
                                  for v in views]))
    rows.append(row("missing", ["<br>".join(html.escape(m) for m in v.missing) or "-" for v in views]))
    head = "<tr><th></th>" + "".join(f"<th class=\"l\">{lab}</th>" for lab in labels) + "</tr>"
    return _page("genlab compare", [f"<h1>genlab compare: {len(views)} runs</h1>",
                                    '<table class="cmp">' + head + "".join(rows) + "</table>"])


def write_compare(run_dirs: Sequence[str | Path], out: str | Path) -> tuple[Path, list[str]]:
    """Write the side-by-side page of several runs; returns its path and what is missing (per run)."""
    views = [read_view(r) for r in run_dirs]
    path = Path(out)
    atomic_write_bytes(path, render_compare(views).encode("utf-8"))
    return path, [f"{v.run_dir}: {m}" for v in views for m in v.missing]
