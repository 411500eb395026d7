"""Training speed per model family: genlab's trainer against a bare PyTorch loop over the same model
(the limit), and diffusion sampling time.

    OMP_NUM_THREADS=1 python benchmarks/speed.py train [--models vae conv-ae dcgan wgan-gp ddpm] [--precision fp32]
    OMP_NUM_THREADS=1 python benchmarks/speed.py sample [--n 20]

``train``: for every model, genlab trains its defaults on MNIST in memory (``genlab.train``) for S1
and S2 rounds; the difference of the two runs' process CPU time over S2 - S1 rounds is the
steady-state cost of a round (start-up, data loading and validation cancel out). The bare loop
builds the same model with the same seed, holds the training images as a float tensor, and runs
the same phases with plain ``zero_grad / model(batch, phase) / backward / step / after_step``
(no logging, no checkpoints, no finiteness check), timed after a warm-up. Both are reported in
images per CPU-second (every batch a round draws counts), and genlab's share of the limit. With
``--compile`` genlab trains with torch.compile (the S1-round run pays the compile, so the
difference is the compiled steady state) against the same eager bare loop.

``sample``: seconds of CPU per 1000 samples of an untrained default ``ddpm`` with DDIM-50 and
DDPM-1000, measured on ``--n`` samples and scaled linearly (sampling cost is linear in the
number of samples at a fixed batch).

Budgets are CPU seconds of one thread, so the figures hold on a loaded machine; the report says
which precision ran and whether the CPU has native bf16.
"""
from __future__ import annotations

import argparse
import json
import os
import time

import torch

import genlab
from genlab import registry
from genlab.data import load_splits
from genlab.data.base import Batch
from genlab.precision import autocast, cpu_has_native_bf16, resolve_precision

MODELS = {"vae": 128, "conv-ae": 128, "dcgan": 64, "wgan-gp": 64, "ddpm": 64}
QUIET = {"sample_every": 0, "log_every": 0, "eval_batches": 1, "mode_check": "off", "device": "cpu"}
DATA = {"dataset": "mnist", "limit": 4096}


def genlab_round_seconds(name: str, batch: int, precision: str, steps: tuple[int, int], compile: bool = False,
                         model_config: dict | None = None) -> float:
    """Steady-state CPU seconds of one training round: (CPU of an S2-round run - of an S1-round run) / (S2 - S1)."""
    def run(n: int) -> float:
        t0 = time.process_time()
        genlab.train(name, model_config=model_config, data=DATA,
                     train={**QUIET, "steps": n, "batch_size": batch, "precision": precision, "compile": compile})
        return time.process_time() - t0

    s1, s2 = steps
    return max(run(s2) - run(s1), 1e-9) / (s2 - s1)


def bare_round_seconds(name: str, batch: int, precision: str, rounds: int) -> tuple[float, int]:
    """CPU seconds of one round of a plain PyTorch loop over genlab's model, and images per round."""
    splits = load_splits(genlab.DataConfig(**DATA))
    x = splits.train.images(slice(None))  # (N, 1, 28, 28) float in [0, 1], in memory
    torch.manual_seed(0)
    model = registry.build(name, {"data_shape": list(splits.train.shape)}).train()
    phases = model.phases()
    opts = {p.name: torch.optim.Adam(model.phase_parameters(p), lr=1e-4) for p in phases}
    used = resolve_precision(precision, "cpu", model).name
    per_round = sum(p.repeats for p in phases if p.fresh_batch) * batch
    n = x.shape[0]

    def one_round(i: int) -> None:
        k = 0
        b = None
        for p in phases:
            for _ in range(p.repeats):
                if p.fresh_batch or b is None:
                    start = ((i * 7 + k) * batch) % (n - batch)
                    b = Batch(x[start:start + batch])
                    k += 1
                model.zero_grad(set_to_none=True)
                with autocast(used, "cpu"):
                    loss = model(b, p.name)["loss"]
                loss.backward()
                opts[p.name].step()
                model.after_step(p.name)

    for i in range(2):  # warm-up
        one_round(i)
    t0 = time.process_time()
    for i in range(rounds):
        one_round(i)
    return (time.process_time() - t0) / rounds, per_round


def train_table(args: argparse.Namespace) -> list[dict]:
    rows = []
    genlab.train("vae", data=DATA, train={**QUIET, "steps": 1})  # warm-up: caches and imports
    for name in args.models:
        batch = MODELS[name]
        steps = (2, 6) if name == "ddpm" else tuple(args.steps)
        bare, per_round = bare_round_seconds(name, batch, args.precision, steps[1] - steps[0])
        ours = genlab_round_seconds(name, batch, args.precision, steps, args.compile)
        rows.append({"model": name, "batch": batch, "images_per_round": per_round,
                     "genlab_img_per_cpu_s": per_round / ours, "bare_img_per_cpu_s": per_round / bare,
                     "share_of_limit": bare / ours})
        print(json.dumps(rows[-1]), flush=True)
    print(f"\ncompile {args.compile}; precision {args.precision}; CPU native bf16: {cpu_has_native_bf16()}; "
          f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}")
    print("| model | batch | genlab img/CPU-s | bare loop img/CPU-s | genlab / bare |")
    print("|---|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['model']} | {r['batch']} | {r['genlab_img_per_cpu_s']:.0f} | {r['bare_img_per_cpu_s']:.0f} | "
              f"{100 * r['share_of_limit']:.0f}% |")
    return rows


def sample_table(args: argparse.Namespace) -> list[dict]:
    torch.manual_seed(0)
    model = registry.build("ddpm", {"data_shape": [1, 28, 28]}).eval()
    rows = []
    for sampler, steps in (("ddim", 50), ("ddpm", None)):
        with torch.no_grad():
            model.sample(2, sampler=sampler, steps=steps if steps else None)  # warm-up
            t0 = time.process_time()
            model.sample(args.n, sampler=sampler, steps=steps)
            seconds = time.process_time() - t0
        label = f"{sampler.upper()}-{steps or model.config.timesteps}"
        rows.append({"sampler": label, "n": args.n, "cpu_s_per_1000": seconds * 1000 / args.n})
        print(json.dumps(rows[-1]), flush=True)
    print("| sampler | measured on | CPU-s per 1000 samples |")
    print("|---|---:|---:|")
    for r in rows:
        print(f"| {r['sampler']} | {r['n']} samples | {r['cpu_s_per_1000']:.0f} |")
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train")
    t.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    t.add_argument("--precision", default="fp32", choices=["auto", "fp32", "bf16"])
    t.add_argument("--steps", nargs=2, type=int, default=[5, 25])
    t.add_argument("--compile", action="store_true", help="genlab with --compile (the bare loop stays eager)")
    s = sub.add_parser("sample")
    s.add_argument("--n", type=int, default=20)
    for q in (t, s):
        q.add_argument("--out", help="also write the rows as JSON here")
    args = p.parse_args()
    rows = train_table(args) if args.command == "train" else sample_table(args)
    if args.out:
        with open(args.out, "w") as f:
            json.dump(rows, f, indent=2)


if __name__ == "__main__":
    main()
