"""``genlab modes RUN``: the class histogram of a model's samples, with a mode-collapse warning."""
from __future__ import annotations

import argparse
import sys
from typing import Any

from genlab.metrics.classes import COVERAGE_MIN_SHARE, mode_collapse_warning
from genlab.runs.evaluate import run_class_shares


def register(sub: Any, argv: list[str]) -> None:
    p = sub.add_parser("modes", help="class histogram of generated samples (via the evaluation classifier); "
                                     "warns on mode collapse")
    p.add_argument("run", metavar="RUN", help="run directory of a generative model")
    p.add_argument("--n", type=int, default=2000, help="samples to classify (default: 2000)")
    p.add_argument("--seed", type=int, default=0, help="sampling seed (default: 0)")
    p.add_argument("--min-share", type=float, default=COVERAGE_MIN_SHARE,
                   help="a class is covered with at least this fraction of a uniform share "
                        f"(default: {COVERAGE_MIN_SHARE})")
    p.set_defaults(func=cmd_modes)


def cmd_modes(args: argparse.Namespace) -> int:
    shares = run_class_shares(args.run, args.n, args.seed)
    for c, share in enumerate(shares.tolist()):
        print(f"class {c:>3}  {share:6.1%}  {'#' * round(share * 100)}")
    warning = mode_collapse_warning(shares, args.min_share)
    if warning:
        print(f"genlab: warning: {warning}", file=sys.stderr)
    return 0
