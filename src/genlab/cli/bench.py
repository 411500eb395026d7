"""``genlab bench``: train and evaluate every generative model under one budget (``runs/bench.py``)."""
from __future__ import annotations

import argparse
import shlex
import signal
import sys
from typing import Any

from genlab.cli.options import add_config_flags, collect
from genlab.errors import Interrupted
from genlab.runs.bench import QUICK, BenchSettings, run_bench


def register(sub: Any, argv: list[str]) -> None:
    p = sub.add_parser("bench", help="train and evaluate every generative model under one budget; "
                                     "writes a table into docs/benchmarks.md",
                       description="Train every registered generative model on the same data under the same "
                                   "budget, evaluate them the same way, and replace the genlab-bench block of "
                                   "--doc with one table plus a sample grid per model.")
    p.add_argument("--models", nargs="+", help="models to run (default: every registered generative model)")
    p.add_argument("--quick", action="store_true",
                   help="a small budget for a quick look (1 epoch or 60 CPU-s, 2000 samples); writes to "
                        "OUT-DIR/benchmarks.md unless --doc is given")
    p.add_argument("--out-dir", help="where the runs go (default: runs/bench, or runs/bench-quick)")
    p.add_argument("--doc", help="markdown file to update (default: docs/benchmarks.md)")
    p.add_argument("--img-dir", help="where sample grids go (default: an img/ folder beside --doc)")
    add_config_flags(p, BenchSettings, "bench", "budget and evaluation")
    p.set_defaults(func=cmd_bench, argv=list(argv))


def cmd_bench(args: argparse.Namespace) -> int:
    settings = collect(args, BenchSettings, "bench")
    if args.quick:
        settings = {**QUICK, **settings}
    out_dir = args.out_dir or ("runs/bench-quick" if args.quick else "runs/bench")
    doc = args.doc or (f"{out_dir}/benchmarks.md" if args.quick else "docs/benchmarks.md")
    command = "genlab " + " ".join(shlex.quote(a) for a in args.argv)
    try:
        rows = run_bench(args.models, out_dir, doc, args.img_dir, command, **settings)
    except Interrupted as e:
        print(f"genlab: bench {e}; the table was not written", file=sys.stderr)
        return 128 + getattr(signal, e.signal_name)
    failed = [r for r in rows if "error" in r]
    for r in failed:
        print(f"genlab bench: {r['model']} failed: {r['error']}", file=sys.stderr)
    print(f"table written to {doc}", file=sys.stderr)
    return 1 if failed and len(failed) == len(rows) else 0
