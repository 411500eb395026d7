"""``genlab evaluate RUN``: sample-quality, likelihood and reconstruction metrics of a run."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from genlab.cli.options import add_config_flags, collect
from genlab.io import atomic_write_json
from genlab.metrics.evaluate import METRIC_GROUPS, EvalSettings, format_result
from genlab.runs.evaluate import evaluate_run


def register(sub: Any, argv: list[str]) -> None:
    p = sub.add_parser("evaluate", help="sample-quality, likelihood and reconstruction metrics of a run",
                       description="Evaluate RUN on its own dataset; writes RUN/metrics.json and prints a table. "
                                   "Sample metrics use genlab's feature extractor for the dataset (trained once "
                                   "and cached; its id is recorded).")
    p.add_argument("run", metavar="RUN", help="run directory")
    p.add_argument("--metrics", default="fid,kid,prdc,is,classes",
                   help=f"comma-separated groups: {', '.join(METRIC_GROUPS)} (default: fid,kid,prdc,is,classes)")
    p.add_argument("--out", help="where to write the JSON result (default: RUN/metrics.json)")
    p.add_argument("--device", default="auto",
                   help="where the model samples and the NLL runs, and where a missing feature extractor is "
                        "trained: auto (cuda, then mps, then cpu; the default), cpu, cuda, cuda:N or mps")
    add_config_flags(p, EvalSettings, "eval", "evaluation")
    p.set_defaults(func=cmd_evaluate)


def cmd_evaluate(args: argparse.Namespace) -> int:
    settings = collect(args, EvalSettings, "eval")
    result = evaluate_run(args.run, args.metrics, write=args.out is None, device=args.device, **settings)
    if args.out:
        atomic_write_json(args.out, result)
    print(format_result(result))
    print(f"written to {args.out or Path(args.run) / 'metrics.json'}", file=sys.stderr)
    return 0
