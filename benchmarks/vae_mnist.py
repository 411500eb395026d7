"""Foundation benchmark: the conv VAE on dynamically binarized MNIST (CPU).

    python benchmarks/vae_mnist.py speed [--model default|tuned] [--out DIR]
    python benchmarks/vae_mnist.py nll --epochs 10 50 [--k 100] [--passes 5] [--out DIR]
    python benchmarks/vae_mnist.py nll --epochs 100 --top-latent-dim 16 --k 100 --out DIR  # two stochastic layers

``speed`` trains for one epoch at batch 128 and 512, in fp32 and bf16, and reads the epoch's
"train" and "timing" records from metrics.jsonl: training images/s, the epoch's wall time, and the
share of that wall time spent outside model compute (1 - compute_time / wall_time), broken down
into data, loop overhead, validation and end-of-epoch I/O (checkpoint, weights, loss-curve PNG).

``nll`` trains the tuned configuration (``TUNED_MODEL`` / ``TUNED_TRAIN`` below) for each number
of epochs and evaluates, on the 10k MNIST test images with one fixed binarization (the one
``genlab.data.eval_batches`` draws, seed 1234), in fp32:

* test -ELBO: the mean of the single-sample negative ELBO (beta = 1), averaged over ``--passes``
  passes (same binarization, fresh z each pass);
* IS NLL: -log p(x) by importance sampling with ``model.log_likelihood(x, k)`` (the IWAE bound),
  on the first ``--n`` test images (all 10k by default), with its standard error over images.

``--top-latent-dim D2`` adds a second stochastic layer (issue 19's route: ``vae --top-latent-dim``,
MLPs of ``--top-hidden`` units) to the tuned configuration; its runs are named ``nll_e<E>_top<D2>``.

A run directory that already exists under --out is resumed (or reused when complete) instead of
retrained. Every number is printed as a markdown table and saved to OUT/<command>.json.
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import torch

import genlab
from genlab.data import load_splits
from genlab.data.base import eval_batches

DATA = genlab.DataConfig(dataset="mnist", binarize="dynamic")

# Tuned on the validation split with 3-epoch runs, confirmed with 10 (see docs/benchmarks.md).
TUNED_MODEL = {"conv_widths": [32, 64], "conv_hidden": 512, "activation": "elu", "latent_dim": 32}
TUNED_TRAIN = {"batch_size": 64, "lr": 2e-3, "schedule": "cosine", "warmup_steps": 300, "precision": "bf16"}

QUIET = {"sample_every": 0, "log_every": 0}  # no per-epoch sample grids or per-step lines


def model_config(args: argparse.Namespace) -> dict:
    """The tuned configuration, with a second stochastic layer when --top-latent-dim is set."""
    if not args.top_latent_dim:
        return TUNED_MODEL
    return {**TUNED_MODEL, "top_latent_dim": args.top_latent_dim, "top_hidden": args.top_hidden}


def read_records(run: Path, split: str) -> list[dict]:
    lines = (run / "metrics.jsonl").read_text().splitlines()
    return [r for r in map(json.loads, filter(str.strip, lines)) if r.get("split") == split]


def train_or_resume(run: Path, model_config: dict | None, train: dict) -> None:
    """Train into ``run``; if it already holds a run, resume it (a no-op when it is complete)."""
    if (run / "config.json").is_file():
        genlab.resume(run, epochs=train["epochs"])
    else:
        genlab.train("vae", out=run, model_config=model_config, data=DATA, train={**QUIET, **train})


# --- speed ---------------------------------------------------------------------------------------
def speed(args: argparse.Namespace) -> list[dict]:
    model_config = TUNED_MODEL if args.model == "tuned" else None  # None = the library defaults
    rows = []
    for batch_size in (128, 512):
        for precision in ("fp32", "bf16"):
            run = args.out / f"speed_{args.model}_b{batch_size}_{precision}"
            genlab.train("vae", out=run, overwrite=True, model_config=model_config, data=DATA,
                         train={**QUIET, "epochs": 1, "batch_size": batch_size, "precision": precision})
            train_rec, timing = read_records(run, "train")[-1], read_records(run, "timing")[-1]
            wall = timing["wall_time"]
            rows.append({
                "model": args.model, "batch": batch_size, "precision": precision,
                "images_per_s": train_rec["images_per_s"], "epoch_wall_s": wall,
                "load_avg": os.getloadavg()[0],  # other processes on the machine skew every number
                "outside_compute": 1 - timing["compute_time"] / wall,
                **{k: timing[k] / wall for k in ("data_time", "loop_overhead_time", "validation_time",
                                                 "end_of_epoch_io_time")},
            })
            print(f"{run}: {rows[-1]['images_per_s']:.0f} img/s, {wall:.1f} s", flush=True)
    print(f"\nconv VAE ({args.model} config), 1 epoch of MNIST (50k images), torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads\n")
    print("| batch | precision | train images/s | epoch wall time | outside model compute "
          "| data | loop overhead | validation | end-of-epoch I/O | 1-min load avg |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['batch']} | {r['precision']} | {r['images_per_s']:.0f} | {r['epoch_wall_s']:.1f} s "
              f"| {r['outside_compute']:.1%} | {r['data_time']:.1%} | {r['loop_overhead_time']:.1%} "
              f"| {r['validation_time']:.1%} | {r['end_of_epoch_io_time']:.1%} | {r['load_avg']:.1f} |")
    return rows


# --- nll -----------------------------------------------------------------------------------------
@torch.no_grad()
def test_nelbo(model, test, passes: int, batch_size: int = 500) -> float:
    """Mean single-sample -ELBO over the test split, averaged over ``passes`` draws of z."""
    total, n = 0.0, 0
    for p in range(passes):
        torch.manual_seed(p)
        for batch in eval_batches(test, batch_size, DATA.binarize):  # the same binarization every pass
            total += float(model.losses(batch)["nelbo"]) * len(batch.x)
            n += len(batch.x)
    return total / n


@torch.no_grad()
def test_is_nll(model, test, k: int, batch_size: int = 25, n: int | None = None) -> tuple[float, float]:
    """Mean importance-sampled -log p(x) over the first ``n`` test images (all when None; k samples of
    q(z|x) per image) and its standard error over the images."""
    torch.manual_seed(0)
    values = []
    for batch in eval_batches(test, batch_size, DATA.binarize):  # one fixed binarization (per batch of 25)
        values.append(-model.log_likelihood(batch.x, k=k))
        if n is not None and sum(map(len, values)) >= n:
            break
    nll = torch.cat(values)[:n]
    return float(nll.mean()), float(nll.std() / len(nll) ** 0.5)


def nll(args: argparse.Namespace) -> list[dict]:
    test = load_splits(DATA).test
    rows = []
    for epochs in args.epochs:
        run = args.out / (f"nll_e{epochs}" + (f"_top{args.top_latent_dim}" if args.top_latent_dim else "")
                          + ("" if args.precision == TUNED_TRAIN["precision"] else f"_{args.precision}"))
        train = {**TUNED_TRAIN, "epochs": epochs, "eval_batches": args.eval_batches, "precision": args.precision}
        train_or_resume(run, model_config(args), train)
        model = genlab.load(run)  # fp32, eval mode
        t0 = time.perf_counter()
        nelbo = test_nelbo(model, test, args.passes) if args.passes else float("nan")
        t1 = time.perf_counter()
        is_nll, is_se = test_is_nll(model, test, args.k, n=args.n) if args.k else (float("nan"), float("nan"))
        t2 = time.perf_counter()
        timing = read_records(run, "timing")
        rows.append({"epochs": epochs, "run": str(run), "val_nelbo": read_records(run, "validation")[-1]["nelbo"],
                     "test_nelbo": nelbo, "passes": args.passes, "is_nll": is_nll, "is_se": is_se, "k": args.k,
                     "n": args.n or len(test), "train_wall_s": sum(r["wall_time"] for r in timing),
                     "train_cpu_s": read_records(run, "train")[-1].get("cpu_time"), "nelbo_eval_s": t1 - t0,
                     "is_eval_s": t2 - t1})
        print(f"{run}: test -ELBO {nelbo:.2f}, IS NLL (k={args.k}) {is_nll:.2f}", flush=True)
    flags = " ".join(f"--{k.replace('_', '-')} {' '.join(map(str, v)) if isinstance(v, list) else v}"
                     for k, v in {**model_config(args), **TUNED_TRAIN}.items())
    print(f"\nconv VAE, {flags}; test split (10k), fixed binarization, fp32 evaluation, "
          f"{torch.get_num_threads()} threads\n")
    print("| epochs | val -ELBO | test -ELBO | test IS NLL | training wall time |")
    print("|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['epochs']} | {r['val_nelbo']:.2f} | {r['test_nelbo']:.2f} ({r['passes']} passes) "
              f"| {r['is_nll']:.2f} ± {r['is_se']:.2f} (k={r['k']}, {r['n']} images) "
              f"| {r['train_wall_s'] / 60:.1f} min |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_speed = sub.add_parser("speed", help="1-epoch throughput at batch 128/512 in fp32/bf16")
    p_speed.add_argument("--model", choices=["default", "tuned"], default="default",
                         help="the library's default conv VAE or the tuned configuration")
    p_nll = sub.add_parser("nll", help="train the tuned config and evaluate test -ELBO and IS NLL")
    p_nll.add_argument("--epochs", type=int, nargs="+", default=[10, 50])
    p_nll.add_argument("--k", type=int, default=100, help="importance samples per image (0 = skip)")
    p_nll.add_argument("--passes", type=int, default=5, help="passes of the single-sample -ELBO to average")
    p_nll.add_argument("--n", type=int, default=None, help="IS NLL on the first N test images (default: all)")
    p_nll.add_argument("--top-latent-dim", type=int, default=0,
                       help="a second stochastic layer of this size (0 = the one-layer tuned model)")
    p_nll.add_argument("--top-hidden", type=int, default=256, help="hidden units of its MLPs")
    p_nll.add_argument("--precision", choices=["bf16", "fp32", "auto"], default=TUNED_TRAIN["precision"],
                       help="training precision (the recipe's bf16 by default; evaluation is always fp32)")
    p_nll.add_argument("--eval-batches", type=int, default=None,
                       help="validate on this many batches per epoch (default: the whole split)")
    for p in (p_speed, p_nll):
        p.add_argument("--out", type=Path, default=Path("runs/bench_vae_mnist"), help="where the runs go")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    rows = speed(args) if args.command == "speed" else nll(args)
    suffix = f"_{args.model}" if args.command == "speed" else "_e" + "_".join(map(str, args.epochs))
    if args.command == "nll" and args.top_latent_dim:
        suffix += f"_top{args.top_latent_dim}_k{args.k}_n{args.n or 'all'}"
    (args.out / f"{args.command}{suffix}.json").write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
