"""What `genlab report`, `compare`, `export` and `explore` do on every registered model, from tiny runs.

    OMP_NUM_THREADS=1 python benchmarks/share_matrix.py [--out docs/share-matrix.md] [--keep DIR]

Trains a tiny run of every registered model (2 steps, small networks; table models through
`genlab synth fit` on iris, clip models on random 4-frame GIF clips, the recurrent autoencoders on a
two-feature CSV series, pix2pix / cyclegan on random image pairs, everything else on `digits`), then
runs on each, through the CLI in this process:

- `genlab report RUN` (the h2 sections the page has beyond config, machine, losses and timing),
- `genlab compare` of all the runs in one page (exit status),
- `genlab export RUN --part all --format onnx` (each part written and checked by onnxruntime, or the
  one-line refusal),
- `genlab explore RUN --check` (every action the page offers, decoded once, or the one-line refusal),

and writes a markdown table (the one docs/explorer.md cites). Nothing here is a quality figure: the
runs are 2 steps long; the table says what each command does on each family, as run.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import re
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from genlab import registry
from genlab.cli import main
from genlab.smoke import BASE_FLAGS, TABLE_FLAGS, train_flags

COMMON_SECTIONS = {"Config", "Machine and precision", "Loss curves", "Timing", "Missing"}


class Data:
    """The tiny data sets of the runs."""

    def __init__(self, root: Path):
        from PIL import Image

        rng = np.random.default_rng(0)
        self.series = root / "series.csv"
        self.series.write_text("a,b\n" + "".join(f"{np.sin(i / 3):.4f},{np.cos(i / 5):.4f}\n" for i in range(200)))
        self.pairs = root / "pairs.npz"
        b = (rng.random((40, 1, 8, 8)) * 255).astype(np.uint8)
        np.savez(self.pairs, a=255 - b, b=b)
        self.clips = root / "clips"
        self.clips.mkdir()
        for i in range(24):
            frames = [Image.fromarray(rng.integers(0, 255, (8, 8), dtype=np.uint8)) for _ in range(4)]
            frames[0].save(self.clips / f"c{i}.gif", save_all=True, append_images=frames[1:])

    def flags(self, name: str) -> tuple[str, list[str]]:
        """(a short name of the data, its flags)."""
        cls = registry.get(name).model_class
        if name in ("recurrent-ae", "recurrent-vae"):
            return "CSV series (windows of 8, 2 features)", ["--dataset", f"csv:{self.series}", "--window", "8",
                                                            "--stride", "2"]
        if name in ("pix2pix", "cyclegan"):  # srresnet / srgan make their pairs from the digits themselves
            return "random 8x8 image pairs", ["--dataset", f"pairs:npz:{self.pairs}"]
        if "clips" in cls.data_kinds:
            return "random 4-frame 8x8 GIF clips", ["--dataset", f"video:{self.clips}", "--validation-fraction",
                                                    "0.15", "--test-fraction", "0.15"]
        return "digits", ["--dataset", "digits"]


def cli(argv: list[str]) -> tuple[int, list[str]]:
    """Run one genlab command in this process: (exit status, its stderr lines)."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(argv)
    return code, err.getvalue().strip().splitlines()


def refusal(lines: list[str]) -> str:
    line = next((x for x in lines if x.startswith("genlab: error: ")), lines[-1] if lines else "?")
    return "refused: " + line.removeprefix("genlab: error: ")


def build(name: str, data: Data, root: Path) -> tuple[str, Path]:
    out = root / "runs" / name
    if registry.get(name).model_class.tabular:
        code, lines = cli(["synth", "fit", "--data", "table:iris", "--model", name, "--out", str(out),
                           *TABLE_FLAGS[name]])
        what = "iris (`genlab synth fit`)"
    else:
        what, flags = data.flags(name)
        code, lines = cli(["train", name, *flags, "--out", str(out), *BASE_FLAGS, *train_flags(name)])
    if code != 0:
        raise SystemExit(f"training {name} failed: {lines[-3:]}")
    return what, out


def report_cell(run: Path, root: Path) -> str:
    out = root / "reports" / f"{run.name}.html"
    code, lines = cli(["report", str(run), "--out", str(out)])
    if code != 0:
        return refusal(lines)
    text = out.read_text()
    sections = [s for s in re.findall(r"<h2>([^<]+)", text) if s.strip() not in COMMON_SECTIONS]
    broken = " (a figure could not be drawn)" if "could not be drawn" in text else ""
    return "ok: " + (", ".join(s.strip() for s in sections) or "losses and timing only") + broken


def export_cell(run: Path, root: Path) -> str:
    code, lines = cli(["export", str(run), "--part", "all", "--format", "onnx",
                       "--out", str(root / "export" / f"{run.name}.onnx")])
    if code != 0:
        return refusal(lines)
    parts = [m.group(1) for x in lines if (m := re.match(r"(\w+) -> .*checked at batch", x))]
    return "ONNX, checked by onnxruntime: " + ", ".join(parts)


def explore_cell(run: Path) -> str:
    code, lines = cli(["explore", str(run), "--check"])
    if code != 0:
        return refusal(lines)
    actions = [m.group(1) for x in lines if (m := re.match(r"(\w+): [\d.]+ ms$", x))]
    return "ok: " + ", ".join(actions)


def main_(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="write the markdown table here (default: stdout)")
    parser.add_argument("--keep", type=Path, help="build the runs here and keep them (default: a temporary folder)")
    parser.add_argument("--models", nargs="*", help="only these models (default: every registered one)")
    args = parser.parse_args(argv)
    models = args.models or [n for n in registry.names() if not n.startswith("test-")]
    start, cpu = time.perf_counter(), time.process_time()
    with tempfile.TemporaryDirectory(prefix="genlab-share-") as tmp:
        root = args.keep or Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        data = Data(root)
        rows, runs = [], []
        for name in models:
            what, run = build(name, data, root)
            runs.append(run)
            row = f"| {name} | {what} | {report_cell(run, root)} | {export_cell(run, root)} | {explore_cell(run)} |"
            rows.append(row.replace(str(run), "RUN"))  # refusals name the run: the same placeholder everywhere
            print(f"{name}: done ({time.perf_counter() - start:.0f} s)", file=sys.stderr)
        code, lines = cli(["compare", *map(str, runs), "--out", str(root / "compare.html")])
        compared = (f"`genlab compare` of all {len(runs)} runs in one page: "
                    f"{'ok' if code == 0 else refusal(lines)}")
    table = "\n".join(["| model | tiny run on | `genlab report` (sections beyond config, machine, losses, timing) | "
                       "`genlab export --part all --format onnx` | `genlab explore --check` (actions) |",
                       "|---|---|---|---|---|", *rows, "", compared, ""])
    took = (f"({len(models)} models; {time.perf_counter() - start:.0f} s wall, {time.process_time() - cpu:.0f} CPU s "
            f"in this process)")
    if args.out:
        args.out.write_text(table)
        print(f"table written to {args.out} {took}", file=sys.stderr)
    else:
        print(table)
        print(took, file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main_())
