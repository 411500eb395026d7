"""``genlab report RUN`` and ``genlab compare RUN1 RUN2 ...``: self-contained HTML pages of runs."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from genlab.errors import ConfigError
from genlab.io import check_output
from genlab.runs.report import REPORT_FILE, write_compare, write_report


def register(sub: Any, argv: list[str]) -> None:
    p = sub.add_parser("report", help="a self-contained HTML report of a run (config, curves, samples, metrics)",
                       description="Write one HTML file (images inlined, no JavaScript, no network) with the run's "
                                   "config, machine and precision, loss curves per phase, sample grids over epochs, "
                                   "metrics.json, reconstructions / interpolation / traversal of latent models, the "
                                   "mode monitor's class shares and timing. Parts the run lacks are listed; the "
                                   "rest renders. Runs write it themselves when they end (genlab train --no-report "
                                   "switches that off).")
    p.add_argument("run", metavar="RUN", help="run directory")
    p.add_argument("--out", metavar="FILE", help=f"HTML file to write (default: RUN/{REPORT_FILE})")
    p.set_defaults(func=cmd_report)
    c = sub.add_parser("compare", help="several runs side by side in one HTML page",
                       description="Write one HTML page with a column per run: latest samples, loss, "
                                   "reconstructions, interpolation, metrics, speed and precision.")
    c.add_argument("runs", metavar="RUN", nargs="+", help="run directories (two or more)")
    c.add_argument("--out", metavar="FILE", required=True, help="HTML file to write")
    c.set_defaults(func=cmd_compare)


def _notes(missing: list[str]) -> None:
    for line in missing:
        print(f"genlab: note: missing: {line}", file=sys.stderr)


def cmd_report(args: argparse.Namespace) -> int:
    out = check_output(args.out, (".html", ".htm"), "report") if args.out else None
    path, missing = write_report(args.run, out)
    _notes(missing)
    print(f"report written to {path}", file=sys.stderr)
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    if len(args.runs) < 2:
        raise ConfigError("compare needs at least two runs")
    out = check_output(args.out, (".html", ".htm"), "compare")
    path, missing = write_compare([Path(r) for r in args.runs], out)
    _notes(missing)
    print(f"comparison written to {path}", file=sys.stderr)
    return 0
