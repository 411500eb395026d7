"""Synthetic tables: genlab's ctgan and tvae next to the `ctgan` PyPI package (the SDV reference).

    python benchmarks/tables.py run --tables fair anes96 breast_cancer --epochs 100 --out /tmp/bench_tables
    python benchmarks/tables.py report --out /tmp/bench_tables      # markdown table of every finished run

The reference implementation is never a genlab dependency: install it in a throwaway environment
that sees the main one, and run this script with that environment's python, e.g.

    python -m venv --system-site-packages /tmp/ctgan-venv && /tmp/ctgan-venv/bin/pip install ctgan
    PYTHONPATH=src /tmp/ctgan-venv/bin/python benchmarks/tables.py run ...

(without it, only genlab's models run). Protocol, per table: genlab's split (seed 0) holds out 20% of
the rows; every synthesizer trains on the same 80% for the same number of epochs with batch 500
(the paper's defaults otherwise), is timed (wall seconds of fit, including the transformer), and
samples as many rows as it trained on. Training time is the process CPU seconds of the fit (one
thread: fair on a shared machine) and its wall seconds. All of them are scored by the same code
(:func:`genlab.tables.report.score_rows`): fidelity, detection AUC, TSTR on the held-out rows and
DCR. Categorical columns are given to the reference as ``discrete_columns`` (the same columns
genlab's transformer treats as categorical or boolean). Each run is one process; results go to
OUT/TABLE-SYNTH-sSEED.json. ``--seeds`` repeats every cell with other training seeds (the split
stays seed 0's): genlab's training seed, the reference's torch / numpy seeds before its fit; the
report gives mean ± std over the seeds found.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

SYNTHS = ("genlab-ctgan", "genlab-tvae", "ref-ctgan", "ref-tvae")


def result_name(table: str, synth: str, seed: int, precision: str = "fp32") -> str:
    """OUT/TABLE-SYNTH-sSEED.json (-bf16 before .json for genlab's bf16 runs)."""
    tail = f"-{precision}" if synth.startswith("genlab-") and precision != "fp32" else ""
    return f"{table}-{synth}-s{seed}{tail}.json"


def run_one(table: str, synth: str, epochs: int, out: Path, threads: int, seed: int = 0,
            precision: str = "fp32") -> dict:
    import numpy as np
    import sklearn.cluster  # noqa: F401  (genlab's mixtures start from KMeans; sklearn's import is ~0.7 CPU s)
    import sklearn.mixture  # noqa: F401  (the reference's mixtures)
    import torch
    import torch._dynamo  # noqa: F401  (imported by the first optimizer: keep its cost out of the timing)

    import genlab.training  # noqa: F401  (imports out of the timing, on both sides)
    if synth.startswith("ref-"):
        import ctgan  # noqa: F401

    from genlab.data.tables import load_table
    from genlab.tables import Synthesizer
    from genlab.tables.report import score_rows
    from genlab.tables.transformer import DISCRETE_KINDS, TableTransformer

    torch.set_num_threads(threads)
    source = load_table(f"table:{table}")
    frame = source.frame
    n = len(frame)
    perm = np.random.default_rng(0).permutation(n)
    hold = np.sort(perm[:int(round(n * 0.2))])
    mask = np.zeros(n, dtype=bool)
    mask[hold] = True
    train, holdout = frame[~mask].reset_index(drop=True), frame[mask].reset_index(drop=True)
    kinds_tr = TableTransformer().fit(frame, source.kinds, source.name)
    kinds = {c.name: c.kind for c in kinds_tr.columns}
    t0, c0 = time.perf_counter(), time.process_time()
    if synth.startswith("genlab-"):
        s = Synthesizer(synth.split("-")[1], epochs=epochs, holdout=0.2, seed=0,  # genlab's default batch
                        train={"device": "cpu", "seed": seed, "precision": precision})
        s.fit(source)
        resolved = s.state["precision"]  # what 'auto' chose
        assert s.state["holdout_rows"] == hold.tolist()  # the same split
        fit_s, fit_cpu = time.perf_counter() - t0, time.process_time() - c0
        syn = s.sample(len(train), seed=0)
    else:
        import ctgan  # the reference: only in the benchmark environment

        resolved = "fp32"
        cls = ctgan.CTGAN if synth == "ref-ctgan" else ctgan.TVAE
        kwargs = {"epochs": epochs, "batch_size": 500}
        if synth == "ref-ctgan":
            kwargs["verbose"] = False
        torch.manual_seed(seed)
        np.random.seed(seed)
        model = cls(**kwargs)
        discrete = [c for c, k in kinds.items() if k in DISCRETE_KINDS]
        model.fit(train, discrete_columns=discrete)
        fit_s, fit_cpu = time.perf_counter() - t0, time.process_time() - c0
        torch.manual_seed(0)
        syn = model.sample(len(train))
    scores = score_rows(kinds, train, holdout, syn, source.target, seed=0)
    row = {"table": table, "synth": synth, "seed": seed, "epochs": epochs, "table_rows": n,
           "fit_seconds": round(fit_s, 2), "fit_cpu_seconds": round(fit_cpu, 2), "load": os.getloadavg()[0],
           "threads": threads,
           "precision": resolved, **scores}
    out.mkdir(parents=True, exist_ok=True)
    (out / result_name(table, synth, seed, precision)).write_text(json.dumps(row, indent=1, default=float))
    return row


def _u(r: dict) -> dict:
    return r.get("utility", {})


def _p(r: dict) -> dict:
    return r.get("privacy", {})


def report(out: Path) -> str:
    """One line per (table, synthesizer): means over the seeds found (± std where more than one)."""
    import statistics

    rows = [json.loads(p.read_text()) for p in sorted(out.glob("*.json"))]
    cells: dict[tuple[str, str], list[dict]] = {}
    for r in rows:
        label = r["synth"] + ("" if r.get("precision", "fp32") == "fp32" else f" ({r['precision']})")
        cells.setdefault((r["table"], label), []).append(r)

    def stat(rs: list[dict], get, fmt: str = ".3f", spread: bool = True) -> str:
        vals = [v for v in (get(r) for r in rs) if v is not None]
        if not vals:
            return ""
        text = format(statistics.fmean(vals), fmt)
        if spread and len(vals) > 1:
            text += " ± " + format(statistics.stdev(vals), fmt)
        return text

    lines = ["| table (rows) | synthesizer | seeds | fit CPU s (wall) | fidelity | shapes | pairs | detection AUC | "
             "TSTR real | TSTR synth | ratio | DCR synth / held-out (median) | exact copies | MIA AUC | load |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    order = {s: i for i, s in enumerate(SYNTHS)}
    def rank(kv: tuple[tuple[str, str], list[dict]]) -> tuple:
        return kv[0][0], order.get(kv[0][1].split()[0], 9), kv[0][1]

    for (table, synth), rs in sorted(cells.items(), key=rank):
        lines.append(
            f"| {table} ({rs[0]['table_rows']}) | {synth} | {len(rs)} | "
            f"{stat(rs, lambda r: r.get('fit_cpu_seconds'), '.0f', False)} "
            f"({stat(rs, lambda r: r['fit_seconds'], '.0f', False)}) | "
            f"{stat(rs, lambda r: r['fidelity']['overall'])} | "
            f"{stat(rs, lambda r: r['fidelity']['column_shape_score'], spread=False)} | "
            f"{stat(rs, lambda r: r['fidelity']['column_pair_score'], spread=False)} | "
            f"{stat(rs, lambda r: r['detection']['auc'])} | {stat(rs, lambda r: _u(r).get('real'), spread=False)} | "
            f"{stat(rs, lambda r: _u(r).get('synthetic'))} | {stat(rs, lambda r: _u(r).get('ratio'), '.2f', False)} | "
            f"{stat(rs, lambda r: _p(r).get('dcr_synthetic_median'), spread=False)} / "
            f"{stat(rs, lambda r: _p(r).get('dcr_holdout_median'), spread=False)} | "
            f"{stat(rs, lambda r: _p(r).get('exact_copies'), '.1%', False)} | "
            f"{stat(rs, lambda r: _p(r).get('membership_inference_auc'), spread=False)} | "
            f"{stat(rs, lambda r: r.get('load'), '.1f', False)} |")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run")
    r.add_argument("--tables", nargs="+", default=["fair", "anes96", "breast_cancer"])
    r.add_argument("--synths", nargs="+", default=list(SYNTHS), choices=SYNTHS)
    r.add_argument("--epochs", type=int, default=100)
    r.add_argument("--seeds", type=int, nargs="+", default=[0], help="training seeds of every cell (0)")
    r.add_argument("--threads", type=int, default=1, help="torch threads per run (1: fair on a shared machine)")
    r.add_argument("--precision", default="fp32", choices=("fp32", "bf16", "auto"),
                   help="genlab's training precision (the reference always runs fp32); auto: genlab's default "
                        "(tvae: bf16 on a CPU with native bf16 at batches >= 160 rows; the result records which)")
    r.add_argument("--out", type=Path, default=Path("/tmp/bench_tables"))
    r.add_argument("--force", action="store_true", help="rerun finished runs")
    rep = sub.add_parser("report")
    rep.add_argument("--out", type=Path, default=Path("/tmp/bench_tables"))
    args = ap.parse_args()
    if args.command == "report":
        print(report(args.out))
        return 0
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, load {os.getloadavg()}",
          file=sys.stderr)
    import importlib.util

    have_ref = importlib.util.find_spec("ctgan") is not None  # imported by its first fit, not here
    # per table and seed, every synthesizer in turn: genlab's and the reference's fits alternate (the
    # same minutes of a shared machine's load for both sides of a speed-up)
    for table in args.tables:
        for seed in args.seeds:
            for synth in args.synths:
                if (args.out / result_name(table, synth, seed, args.precision)).exists() and not args.force:
                    continue
                if synth.startswith("ref-") and not have_ref:
                    print(f"skipping {synth}: the ctgan package is not installed here", file=sys.stderr)
                    continue
                row = run_one(table, synth, args.epochs, args.out, args.threads, seed, args.precision)
                print(f"{table} {synth} seed {seed}: fit {row['fit_cpu_seconds']} CPU s fidelity "
                      f"{row['fidelity']['overall']:.3f} detection {row['detection']['auc']:.3f} "
                      f"TSTR {row.get('utility', {}).get('synthetic')} load {os.getloadavg()[0]:.1f}",
                      file=sys.stderr, flush=True)
    print(report(args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
