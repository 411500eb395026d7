"""``genlab explore RUN [--port 8000]``: the latent explorer, a local web page over a run's model."""
from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from genlab.explorer.server import HOST, serve
from genlab.explorer.session import ACTIONS, Explorer


def register(sub: Any, argv: list[str]) -> None:
    p = sub.add_parser("explore", help="a local web page to explore a run's model: samples, latent sliders, "
                                       "interpolation, attribute vectors, denoising",
                       description=f"Serve a web page on {HOST} (this machine only) where samples are drawn with "
                                   "a seed and label, sliders move along the top principal directions of the "
                                   "codes (or noise dimensions), two test images are interpolated, attribute "
                                   "vectors are applied with a strength, and diffusion and score models show "
                                   "their denoising trajectory; clips show as frame strips and an animation, "
                                   "sequences as plots; image-to-image models translate a test input picked by "
                                   "index; table models show sampled rows. Every image is decoded by genlab on the "
                                   "server.")
    p.add_argument("run", metavar="RUN", help="run directory")
    p.add_argument("--port", type=int, default=8000, help="port on 127.0.0.1 (default: 8000; 0: any free port)")
    p.add_argument("--check", action="store_true",
                   help="load the run, decode once per action it offers and print the timings, then exit "
                        "(no server)")
    p.add_argument("--verbose", action="store_true", help="log every request to stderr")
    p.set_defaults(func=cmd_explore)


def cmd_explore(args: argparse.Namespace) -> int:
    if args.check:
        explorer = Explorer(args.run)
        info = explorer.info()
        actions: dict[str, dict[str, list[str]]] = {"sample": {}} if info["sample"] else {}
        if info["sliders"]:
            actions["decode"] = {}
        for direction in info["directions"]:  # image-to-image models: a test input each way they translate
            actions["translate" if direction == "AB" else f"translate_{direction}"] = {"direction": [direction]}
        if info["rows"]:
            actions["rows"] = {}
        if info["interpolate"]:
            actions["interpolate"] = {}
        if info["trajectory"]:
            actions["trajectory"] = {"frames": ["2"]}
        if info["kind"] == "clips":
            actions["clip"] = {}
        if info["style_mixing"]:
            actions["style_mix"] = {}
        for name, query in actions.items():
            start = time.perf_counter()
            ACTIONS[name.split("_")[0] if name.startswith("translate") else name](explorer, query)
            print(f"{name}: {1000 * (time.perf_counter() - start):.1f} ms", file=sys.stderr)
        print(f"{args.run}: explorable ({info['model']})", file=sys.stderr)
        return 0
    try:
        serve(args.run, args.port, args.verbose)
    except KeyboardInterrupt:
        print("genlab explore: stopped", file=sys.stderr)
    return 0
