"""The GPU rows of docs/benchmarks.md ("Speed (issue 12)") in one prepared script: under 10 minutes on one GPU.

    python benchmarks/gpu_check.py                 # cuda, MNIST (in genlab's data cache), every row
    python benchmarks/gpu_check.py --out rows.json # also the rows as JSON
    python benchmarks/gpu_check.py --smoke         # the CPU, digits, tiny models: the script runs (seconds)

Rows (wall-clock; the GPU is synchronized before every clock reading):

- ``train``: images/s of the default conv VAE at batch 128 and 512, fp32 and bf16, and of the default
  DDPM at batch 128 (fp32 and bf16): genlab (``genlab.train``: data kept on the device, losses read only at
  log points) against a bare PyTorch loop over the same model with the data already on the device as a
  float tensor (zero_grad / forward / backward / fused Adam step / after_step; the limit). genlab's figure
  is the difference of an S1- and an S2-step run over S2 - S1 steps (start-up, data loading and the
  final validation cancel out); the bare loop is timed after a warm-up.
- ``sample``: seconds per 1000 samples of an untrained default DDPM with DDIM-50 and DDPM-1000 (the
  model samples in chunks of 128), measured on ``--sample-n`` samples and scaled.

Targets (issue 12): genlab >= 90% of the bare loop for the VAE at batch 512; DDPM >= 3x the 2.7k
images/s measured before (H200). The table prints the device name, torch version and each row's precision.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from typing import Any

import torch

import genlab
from genlab import registry
from genlab.data import load_splits
from genlab.data.base import Batch
from genlab.precision import autocast

TRAIN_ROWS = [("vae", 128, "fp32"), ("vae", 128, "bf16"), ("vae", 512, "fp32"), ("vae", 512, "bf16"),
              ("ddpm", 128, "fp32"), ("ddpm", 128, "bf16")]
# --smoke: tiny models and steps on the CPU (digits are 8x8)
SMOKE_MODELS = {"vae": {"conv_widths": [4], "conv_hidden": 8, "latent_dim": 2},
                "ddpm": {"base_width": 4, "width_mults": [1], "norm_groups": 2, "timesteps": 6, "sample_steps": 2}}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--smoke", action="store_true",
                   help="a few seconds on the CPU with tiny models: checks the script, measures nothing")
    p.add_argument("--device", help="default: cuda (cpu with --smoke)")
    p.add_argument("--dataset", help="default: mnist (digits with --smoke)")
    p.add_argument("--rows", nargs="+", choices=["train", "sample"], default=["train", "sample"])
    p.add_argument("--models", nargs="+", choices=["vae", "ddpm"], default=["vae", "ddpm"])
    p.add_argument("--steps", nargs=2, type=int, metavar=("S1", "S2"),
                   help="genlab runs of S1 and S2 steps (default: 50 450; ddpm 20 120; --smoke 1 3)")
    p.add_argument("--sample-n", type=int, help="samples timed per sampler (default: 1000; --smoke 2)")
    p.add_argument("--out", help="also write the rows as JSON here")
    args = p.parse_args(argv)
    args.device = args.device or ("cpu" if args.smoke else "cuda")
    args.dataset = args.dataset or ("digits" if args.smoke else "mnist")
    if args.sample_n is None:
        args.sample_n = 2 if args.smoke else 1000
    if args.steps is not None and not 0 < args.steps[0] < args.steps[1]:
        p.error("--steps needs 0 < S1 < S2")
    if args.sample_n < 1:
        p.error("--sample-n must be at least 1")
    return args


def steps_for(model: str, args: argparse.Namespace) -> tuple[int, int]:
    if args.steps is not None:
        return args.steps[0], args.steps[1]
    if args.smoke:
        return 1, 3
    return (20, 120) if model == "ddpm" else (50, 450)


def clock(device: torch.device, fn: Callable[[], Any]) -> float:
    """Wall seconds of ``fn``, the device synchronized before and after."""
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    sync()
    t0 = time.perf_counter()
    fn()
    sync()
    return time.perf_counter() - t0


def model_config(name: str, args: argparse.Namespace) -> dict[str, Any]:
    return dict(SMOKE_MODELS[name]) if args.smoke else {}


def genlab_images_per_s(name: str, batch: int, precision: str, args: argparse.Namespace) -> float:
    device = torch.device(args.device)
    train = {"batch_size": batch, "precision": precision, "device": args.device, "sample_every": 0, "log_every": 0,
             "eval_batches": 1, "mode_check": "off", "checkpoint_every": 0}
    s1, s2 = steps_for(name, args)

    def run(n: int) -> float:
        return clock(device, lambda: genlab.train(name, model_config=model_config(name, args),
                                                  data={"dataset": args.dataset}, train={**train, "steps": n}))

    run(s1)  # warm-up: kernels, autotuning, caches
    return (s2 - s1) * batch / max(run(s2) - run(s1), 1e-9)


def bare_images_per_s(name: str, batch: int, precision: str, args: argparse.Namespace) -> float:
    device = torch.device(args.device)
    splits = load_splits(genlab.DataConfig(dataset=args.dataset))
    x = splits.train.images(slice(None)).to(device)  # float in [0, 1], already on the device
    torch.manual_seed(0)
    model = registry.build(name, {**model_config(name, args), "data_shape": list(splits.train.shape)})
    model = model.to(device).train()
    phases = model.phases()
    fused = device.type in ("cpu", "cuda")
    opts = {p.name: torch.optim.Adam(model.phase_parameters(p), lr=1e-4, fused=fused) for p in phases}
    n = x.shape[0]
    batch = min(batch, n)

    def steps(k: int) -> None:
        for _ in range(k):
            idx = torch.randint(0, n, (batch,), device=device)
            b = Batch(x[idx])
            for p in phases:
                model.zero_grad(set_to_none=True)
                with autocast(precision, device):
                    loss = model(b, p.name)["loss"]
                loss.backward()
                opts[p.name].step()
                model.after_step(p.name)

    s1, s2 = steps_for(name, args)
    steps(s1)  # warm-up
    return (s2 - s1) * batch / max(clock(device, lambda: steps(s2 - s1)), 1e-9)


def train_rows(args: argparse.Namespace) -> list[dict[str, Any]]:
    rows = []
    for name, batch, precision in TRAIN_ROWS:
        if name not in args.models:
            continue
        if args.smoke:
            if batch != 128:
                continue
            batch = 16
        bare = bare_images_per_s(name, batch, precision, args)
        ours = genlab_images_per_s(name, batch, precision, args)
        rows.append({"row": "train", "model": name, "batch": batch, "precision": precision,
                     "genlab_img_per_s": ours, "bare_img_per_s": bare, "share_of_limit": ours / bare})
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    return rows


def sample_rows(args: argparse.Namespace) -> list[dict[str, Any]]:
    device = torch.device(args.device)
    shape = [1, 8, 8] if args.smoke else [1, 28, 28]
    torch.manual_seed(0)
    model = registry.build("ddpm", {**model_config("ddpm", args), "data_shape": shape}).to(device).eval()
    timesteps = model.config.timesteps
    rows = []
    for sampler, steps in (("ddim", 2 if args.smoke else 50), ("ddpm", None)):
        with torch.no_grad():
            model.sample(2, sampler=sampler, steps=steps)  # warm-up
            seconds = clock(device, lambda sampler=sampler, steps=steps: model.sample(args.sample_n, sampler=sampler,
                                                                                        steps=steps))
        rows.append({"row": "sample", "sampler": f"{sampler.upper()}-{steps or timesteps}", "n": args.sample_n,
                     "s_per_1000": seconds * 1000 / args.sample_n})
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    return rows


def table(rows: list[dict[str, Any]], args: argparse.Namespace) -> str:
    device = torch.device(args.device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    lines = [f"device {name}; torch {torch.__version__}; dataset {args.dataset}" + ("; SMOKE (not figures)"
                                                                                  if args.smoke else "")]
    train = [r for r in rows if r["row"] == "train"]
    if train:
        lines += ["| model | batch | precision | genlab img/s | bare loop img/s | genlab / bare |",
                  "|---|---:|---|---:|---:|---:|"]
        lines += [f"| {r['model']} | {r['batch']} | {r['precision']} | {r['genlab_img_per_s']:.0f} | "
                  f"{r['bare_img_per_s']:.0f} | {100 * r['share_of_limit']:.0f}% |" for r in train]
    sample = [r for r in rows if r["row"] == "sample"]
    if sample:
        lines += ["", "| sampler | measured on | s per 1000 samples |", "|---|---:|---:|"]
        lines += [f"| {r['sampler']} | {r['n']} samples | {r['s_per_1000']:.2f} |" for r in sample]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if torch.device(args.device).type == "cuda" and not torch.cuda.is_available():
        print("gpu_check: no CUDA GPU here (use --smoke on a CPU)", file=sys.stderr)
        return 2
    rows: list[dict[str, Any]] = []
    if "train" in args.rows:
        rows += train_rows(args)
    if "sample" in args.rows:
        rows += sample_rows(args)
    print(table(rows, args))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(rows, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
