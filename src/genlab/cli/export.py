"""``genlab export RUN --format onnx|torchscript --out FILE``: a model part for use outside genlab."""
from __future__ import annotations

import argparse
import sys
from typing import Any

from genlab.io import check_output
from genlab.runs.export import FORMATS, PARTS, SUFFIXES, check_format, export_run


def register(sub: Any, argv: list[str]) -> None:
    p = sub.add_parser("export", help="write a model part as ONNX (checked by onnxruntime) or TorchScript",
                       description="Export a part of RUN's model with a dynamic batch size: "
                                   + "; ".join(f"{k}: {v.summary}" for k, v in PARTS.items())
                                   + ". The file is run right after writing and must match PyTorch within a "
                                     "stated tolerance. What a model can export is declared by its class.")
    p.add_argument("run", metavar="RUN", help="run directory")
    p.add_argument("--format", default="onnx", help=f"{' or '.join(FORMATS)} (default: onnx)")
    p.add_argument("--part", help=f"{', '.join(PARTS)} or all (default: the model's first exportable part; "
                                  "all: every one, as OUT's stem.PART.suffix)")
    p.add_argument("--out", metavar="FILE", required=True, help="file to write (.onnx; .pt for torchscript)")
    p.set_defaults(func=cmd_export)


def cmd_export(args: argparse.Namespace) -> int:
    check_format(args.format)
    out = check_output(args.out, SUFFIXES[args.format], "export --format " + args.format)
    for result in export_run(args.run, args.format, out, args.part):
        print(result.line(), file=sys.stderr)
    return 0
