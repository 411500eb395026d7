"""Latent explorer latency: milliseconds per decoded image of the default VAE on MNIST.

    OMP_NUM_THREADS=1 python benchmarks/explorer.py [--run RUN] [--n 200]

Trains the default ``vae`` on MNIST for a few steps when no ``--run`` is given (latency does not
depend on the weights, only on the architecture), starts the explorer's server on a free port of
127.0.0.1 and times ``--n`` slider requests (``/api/decode`` with random slider values, each a new
image) end to end over HTTP: query parsing, encoding the base image, moving along the principal
directions, decoding, PNG encoding and the transfer. Also the decode alone (in process) and one
interpolation request. Prints a markdown table with the median and 95th percentile.
"""
from __future__ import annotations

import argparse
import random
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import torch

import genlab
from genlab.explorer.server import ExplorerServer
from genlab.explorer.session import Explorer


def _percentiles(ms: list[float]) -> tuple[float, float]:
    ordered = sorted(ms)
    return ordered[len(ordered) // 2], ordered[int(0.95 * (len(ordered) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", help="a run of the default vae (default: train one for 5 steps)")
    parser.add_argument("--n", type=int, default=200, help="requests to time")
    args = parser.parse_args()
    run = args.run
    if run is None:
        run = str(Path(tempfile.mkdtemp(prefix="genlab-explorer-")) / "vae")
        genlab.train("vae", data="mnist", out=run, train={"steps": 5, "device": "cpu", "report": False})
    explorer = Explorer(run)
    sliders = explorer.info()["sliders"]
    server = ExplorerServer(explorer, 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    rng = random.Random(0)

    def values() -> str:
        return ",".join(f"{rng.uniform(-3, 3):.2f}" for _ in range(sliders))

    for _ in range(10):  # warm-up
        urllib.request.urlopen(f"{server.url}api/decode?base=0&v={values()}").read()
    http_ms = []
    for i in range(args.n):
        start = time.perf_counter()
        body = urllib.request.urlopen(f"{server.url}api/decode?base={i % 32}&v={values()}").read()
        http_ms.append(1000 * (time.perf_counter() - start))
        assert body.startswith(b"\x89PNG")
    decode_ms = []
    z = torch.randn(1, explorer.model.config.latent_dim)
    with torch.no_grad():
        for _ in range(args.n):
            start = time.perf_counter()
            explorer.model.decode(z)  # type: ignore[operator]
            decode_ms.append(1000 * (time.perf_counter() - start))
    interp_ms = []
    for i in range(args.n // 4):
        start = time.perf_counter()
        urllib.request.urlopen(f"{server.url}api/interpolate?a=0&b=1&t={i / (args.n // 4):.3f}").read()
        interp_ms.append(1000 * (time.perf_counter() - start))
    server.shutdown()
    print(f"threads {torch.get_num_threads()}, torch {torch.__version__}, fp32, {args.n} requests\n")
    print("| request | median ms | p95 ms |\n|---|---:|---:|")
    for name, ms in (("slider (/api/decode, HTTP round trip)", http_ms),
                     ("interpolation (/api/interpolate, HTTP round trip)", interp_ms),
                     ("model.decode of one code (in process)", decode_ms)):
        med, p95 = _percentiles(ms)
        print(f"| {name} | {med:.1f} | {p95:.1f} |")


if __name__ == "__main__":
    main()
