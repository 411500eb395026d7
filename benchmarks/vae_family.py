"""VAE family on dynamically binarized MNIST: test NLL (k = 1000) of the VAE and IWAE beside the IWAE paper.

    python benchmarks/vae_family.py nll --epochs 10 --k 1000 --out runs/bench_vae_family
    python benchmarks/vae_family.py nll-run /tmp/bench_vae/nll_e50 --k 1000 --n 2000 --name "conv vae, 50 epochs"

``nll`` trains three models with identical networks, the one-stochastic-layer architecture of Burda
et al. 2016 (encoder and decoder MLPs 784-200-200, tanh, 50 latent units, Bernoulli decoder):

* ``vae``: the ELBO;
* ``iwae`` with k = 5 and k = 50 importance samples in the training bound;

each for ``--epochs`` epochs (Adam 1e-3, batch 100, cosine decay, fp32, 1 thread), then estimates
-log p(x) on the MNIST test images (one fixed binarization, ``genlab.data.eval_batches`` seed 1234)
with ``model.log_likelihood(x, k)`` (the k-sample IWAE bound, which tightens to log p(x) as k grows).
``nll-run`` evaluates an existing run the same way (e.g. the conv VAE of ``vae_mnist.py nll``) on the
first ``--n`` test images (after ``--start`` of them), optionally with the weights of one of the run's
training checkpoints (``--checkpoint``, a ``checkpoints/step-*`` folder or a copy of one), and can
write the per-image values (``--per-image FILE``, one -log p(x) a line) for paired comparisons.
Published (IWAE paper, Table 1, one stochastic layer, k = 5000 evaluation, 3280 passes over the
data): VAE 86.76, IWAE k = 5 85.54, IWAE k = 50 84.78 nats.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

import genlab
from genlab.data import load_splits
from genlab.data.base import eval_batches
from genlab.io import load_state_dict

DATA = genlab.DataConfig(dataset="mnist", binarize="dynamic")
NETWORK = {"architecture": "mlp", "mlp_hidden": [200, 200], "activation": "tanh", "latent_dim": 50}
MODELS = {"vae": ("vae", {}), "iwae-k5": ("iwae", {"importance_samples": 5}),
          "iwae-k50": ("iwae", {"importance_samples": 50})}
PUBLISHED = {"vae": 86.76, "iwae-k5": 85.54, "iwae-k50": 84.78}


@torch.no_grad()
def test_nll(model, k: int, n: int | None = None, batch_size: int = 20, start: int = 0,
             per_image: list | None = None) -> tuple[float, float, int]:
    """Mean and standard error of -log p(x) (k importance samples) over the first n test images after
    ``start`` (a multiple of the batch size, so each image keeps the binarization of its batch);
    ``per_image``: a list that receives the values."""
    if start % batch_size:
        raise SystemExit(f"--start must be a multiple of {batch_size}")
    test = load_splits(DATA).test
    torch.manual_seed(0)
    values = []
    for b, batch in enumerate(eval_batches(test, batch_size, DATA.binarize)):
        if b * batch_size < start:
            continue
        values.append(-model.log_likelihood(batch.x, k=k).double())
        if n is not None and sum(len(v) for v in values) >= n:
            break
    v = torch.cat(values)[:n]
    if per_image is not None:
        per_image.extend(v.tolist())
    return float(v.mean()), float(v.std() / len(v) ** 0.5), len(v)


def nll(args: argparse.Namespace) -> None:
    torch.set_num_threads(args.threads)
    rows = []
    for name in args.models:
        registry_name, extra = MODELS[name]
        run = args.out / f"{name}_e{args.epochs}"
        t0 = time.perf_counter()
        if not (run / "config.json").is_file():
            genlab.train(registry_name, out=run, model_config={**NETWORK, **extra}, data=DATA,
                         train={"epochs": args.epochs, "batch_size": 100, "lr": 1e-3, "schedule": "cosine",
                                "precision": "fp32", "device": "cpu", "sample_every": 0, "log_every": 0})
        train_s = time.perf_counter() - t0
        model = genlab.load(run)
        t1 = time.perf_counter()
        mean, se, count = test_nll(model, args.k, args.n)
        rows.append({"model": name, "epochs": args.epochs, "nll": mean, "se": se, "n": count, "k": args.k,
                     "train_seconds": train_s, "eval_seconds": time.perf_counter() - t1,
                     "published": PUBLISHED[name]})
        print(json.dumps(rows[-1]), flush=True)
    (args.out / f"nll_e{args.epochs}_k{args.k}.json").write_text(json.dumps(rows, indent=1))
    print(f"\n| model | epochs | test NLL (nats, k = {args.k}) | published (3280 epochs, k = 5000) |")
    print("|---|---:|---:|---:|")
    for r in rows:
        print(f"| {r['model']} | {r['epochs']} | {r['nll']:.2f} ± {r['se']:.2f} (n = {r['n']}) | {r['published']} |")


def nll_run(args: argparse.Namespace) -> None:
    torch.set_num_threads(args.threads)
    model = genlab.load(args.run)
    if args.checkpoint is not None:  # a training checkpoint's weights (the trainer saves the model's state dict)
        model.load_state_dict(load_state_dict(args.checkpoint / "model.safetensors"))
        model.eval()
    t0, c0 = time.perf_counter(), time.process_time()
    values: list[float] = []
    mean, se, count = test_nll(model, args.k, args.n, start=args.start, per_image=values)
    row = {"model": args.name or str(args.run), "run": str(args.run),
           "checkpoint": None if args.checkpoint is None else str(args.checkpoint), "nll": mean, "se": se,
           "n": count, "start": args.start, "k": args.k, "eval_seconds": time.perf_counter() - t0,
           "eval_cpu_s": time.process_time() - c0}
    if args.per_image is not None:
        args.per_image.write_text("".join(f"{v:.6f}\n" for v in values))
    print(json.dumps(row), flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    with open(args.out / "nll_runs.jsonl", "a") as f:
        f.write(json.dumps(row) + "\n")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    a = sub.add_parser("nll")
    a.add_argument("--epochs", type=int, default=10)
    a.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    b = sub.add_parser("nll-run")
    b.add_argument("run", type=Path)
    b.add_argument("--name")
    b.add_argument("--checkpoint", type=Path, help="evaluate the weights of this training checkpoint folder")
    b.add_argument("--start", type=int, default=0, help="skip the first START test images (a multiple of 20)")
    b.add_argument("--per-image", type=Path, help="write each image's -log p(x) to this file")
    for q in (a, b):
        q.add_argument("--k", type=int, default=1000)
        q.add_argument("--n", type=int, help="first N test images (default: all 10,000)")
        q.add_argument("--threads", type=int, default=1)
        q.add_argument("--out", type=Path, default=Path("runs/bench_vae_family"))
    args = p.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    nll(args) if args.command == "nll" else nll_run(args)


if __name__ == "__main__":
    main()
