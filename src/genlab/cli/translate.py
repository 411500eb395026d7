"""``genlab translate`` and ``genlab upscale``: apply a translation / super-resolution run to images."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import torch

from genlab.apps.translate import STRIP_ROWS, direction_of, read_any_images, translate_files
from genlab.errors import ConfigError
from genlab.io import check_parent
from genlab.models.srgan import SRGAN
from genlab.models.translation import ImageTranslator
from genlab.runs.run import load, run_splits


def register(sub: Any, argv: list[str]) -> None:
    p = sub.add_parser("translate", help="translate images with a pix2pix / cyclegan run (A -> B, or B -> A)")
    _common(p)
    p.add_argument("--direction", default="AB", choices=["AB", "BA"],
                   help="AB (default) or BA (cyclegan's second generator)")
    p.set_defaults(func=cmd_translate)
    p = sub.add_parser("upscale", help="super-resolve images of any size with a srresnet / srgan run (tiled)")
    _common(p)
    p.add_argument("--tile", type=int, default=128, help="input tile size for large images (default: 128)")
    p.add_argument("--overlap", type=int, default=16, help="pixels of context around each tile (default: 16)")
    p.set_defaults(func=cmd_upscale)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", metavar="RUN", help="run directory of a translation / super-resolution model")
    p.add_argument("--input", metavar="DIR_OR_FILE",
                   help="a folder of image files, one image file, or an .npz with 'x' (default: the first --n "
                        "test pairs of the run's own data, with their targets in the strip)")
    p.add_argument("--n", type=int, default=STRIP_ROWS, help=f"test pairs used without --input (default: {STRIP_ROWS})")
    p.add_argument("--out", required=True, metavar="DIR", help="folder for the output PNGs and strip.png")
    p.add_argument("--device", default="cpu", help="cpu or cuda (default: cpu)")


def _translator(run: str, device: str) -> ImageTranslator:
    model = load(run, device)
    if not isinstance(model, ImageTranslator):
        raise ConfigError(f"{run} is a run of '{model.registry_name}', which does not translate images (train "
                          f"pix2pix, cyclegan, srresnet or srgan)")
    return model


def _run(args: argparse.Namespace, direction: str, upscale: bool, tile: int = 128, overlap: int = 16) -> int:
    check_parent(args.out)
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} exists and is not a folder")
    model = _translator(args.run, args.device)
    if upscale != isinstance(model, SRGAN):
        raise ConfigError(f"model '{model.registry_name}' is applied with `genlab {model.command}`, not "
                          f"`genlab {'upscale' if upscale else 'translate'}`")
    direction = direction_of(model, direction)
    targets = None
    if args.input is None:
        if args.n < 1:
            raise ConfigError(f"--n must be at least 1, got {args.n}")
        test = run_splits(args.run).test
        x = test.images(torch.arange(min(args.n, len(test))))
        a, b = model.split_packed(x)
        images, targets = (list(a), list(b)) if direction == "AB" else (list(b), list(a))
        names = [f"{i:05d}.png" for i in range(len(images))]
    else:
        images, names = read_any_images(args.input)
    summary = translate_files(model, images, names, out, direction, targets, tile, overlap)
    print(json.dumps(summary))
    print(f"{summary['images']} images written to {out}; strip: {summary['strip']}", file=sys.stderr)
    return 0


def cmd_translate(args: argparse.Namespace) -> int:
    return _run(args, args.direction, upscale=False)


def cmd_upscale(args: argparse.Namespace) -> int:
    if args.tile <= 2 * args.overlap or args.overlap < 0:
        raise ConfigError(f"--tile ({args.tile}) must exceed twice --overlap ({args.overlap}), and --overlap be >= 0")
    return _run(args, "AB", upscale=True, tile=args.tile, overlap=args.overlap)
