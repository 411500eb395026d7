"""``genlab modes RUN``: the class histogram of a model's samples, with a mode-collapse warning."""
from __future__ import annotations

import argparse
import sys
from typing import Any

import torch

from genlab.config import DataConfig, from_dict
from genlab.errors import ConfigError
from genlab.metrics.classes import COVERAGE_MIN_SHARE, mode_collapse_warning
from genlab.runs import extractors  # `extractors.build_extractor`, looked up per call
from genlab.runs.monitor import sample_class_shares
from genlab.runs.run import load, read_run_config


def register(sub: Any, argv: list[str]) -> None:
    p = sub.add_parser("modes", help="class histogram of generated samples (via the evaluation classifier); "
                                     "warns on mode collapse")
    p.add_argument("run", metavar="RUN", help="run directory of a generative model")
    p.add_argument("--n", type=int, default=2000, help="samples to classify (default: 2000)")
    p.add_argument("--seed", type=int, default=0, help="sampling seed (default: 0)")
    p.add_argument("--min-share", type=float, default=COVERAGE_MIN_SHARE,
                   help=f"a class is covered with at least this fraction of a uniform share (default: {COVERAGE_MIN_SHARE})")
    p.set_defaults(func=cmd_modes)


def class_shares(run: str, n: int = 2000, seed: int = 0) -> torch.Tensor:
    """(K,) share of ``n`` samples of the run's model that the dataset's evaluation classifier gives each class."""
    if n < 1:
        raise ConfigError(f"--n must be at least 1, got {n}")
    data = from_dict(DataConfig, read_run_config(run)["data"], f"{run} data config")
    return sample_class_shares(load(run), extractors.build_extractor(data), n, seed)


def cmd_modes(args: argparse.Namespace) -> int:
    shares = class_shares(args.run, args.n, args.seed)
    for c, share in enumerate(shares.tolist()):
        print(f"class {c:>3}  {share:6.1%}  {'#' * round(share * 100)}")
    warning = mode_collapse_warning(shares, args.min_share)
    if warning:
        print(f"genlab: warning: {warning}", file=sys.stderr)
    return 0
