"""Score-based models beside DDPM on MNIST at one small CPU budget (issue 19).

    OMP_NUM_THREADS=1 python benchmarks/score_models.py train --budget 200 --out runs/bench_score
    OMP_NUM_THREADS=1 python benchmarks/score_models.py sample --n 100 --out runs/bench_score
    OMP_NUM_THREADS=1 python benchmarks/score_models.py likelihood --n 8 --out runs/bench_score

``train`` fits ``ddpm`` and ``score-sde --sde vp`` with the same small U-Net (base width 16, width
multipliers 1, 2, no attention), batch 64, the same CPU-time budget of training (bf16 autocast), seed 0.
``sample`` draws --n images per row (DDPM-1000 on --n-ddpm images only: 1000 network calls each;
DDIM-50 from the ddpm run; Euler-Maruyama, predictor-corrector and the probability-flow ODE (Heun,
and Euler, fixed steps) from the score-sde run), each from the same seed, and scores them: FD on
genlab's LeNet-5 MNIST features against the first --n test images, CPU seconds per 1000 samples.
``likelihood`` computes bits/dim through the probability-flow ODE (Hutchinson, RK45) on the first
--n test images (uniformly dequantized), rtol = atol = --tol (1e-3 is not accurate enough).
Results go to OUT/table.json and OUT/likelihood.json.
"""
from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

import torch

NET = {"base_width": 16, "width_mults": [1, 2], "attention_size": 0, "norm_groups": 8}
TRAIN = {"batch_size": 64, "precision": "bf16", "device": "cpu", "log_every": 0, "sample_every": 0,
         "eval_batches": 2, "num_samples": 16, "budget_clock": "cpu", "epochs": 1000, "seed": 0}
ROWS = [("ddpm", "DDPM-1000", {"sampler": "ddpm"}), ("ddpm", "DDIM-50", {"sampler": "ddim", "steps": 50}),
        ("score-sde", "EM-100", {"sampler": "em", "steps": 100}),
        ("score-sde", "PC-50 (1 corrector step)", {"sampler": "pc", "steps": 50}),
        ("score-sde", "ODE Heun-25", {"sampler": "ode", "steps": 25}),
        ("score-sde", "ODE Euler-50", {"sampler": "ode", "steps": 50, "method": "euler"})]


def _cpu() -> float:
    u = resource.getrusage(resource.RUSAGE_SELF)
    return u.ru_utime + u.ru_stime


def cmd_train(args: argparse.Namespace) -> None:
    import genlab

    torch.set_num_threads(1)
    for name, extra in (("ddpm", {}), ("score-sde", {"sde": "vp"})):
        run = args.out / name
        if (run / "model.safetensors").is_file():
            continue
        c0 = _cpu()
        genlab.train(name, out=run, overwrite=True, model_config={**NET, **extra}, data="mnist",
                     train={**TRAIN, "time_budget": args.budget})
        print(f"{name}: trained, {_cpu() - c0:.0f} CPU s", flush=True)


def cmd_sample(args: argparse.Namespace) -> None:
    import genlab
    from genlab.config import DataConfig
    from genlab.data import load_splits
    from genlab.io import save_image_grid
    from genlab.metrics import frechet_distance_of_features
    from genlab.runs.extractors import build_extractor

    torch.set_num_threads(1)
    extractor = build_extractor("mnist", verbose=False)
    real = load_splits(DataConfig("mnist")).test.images(slice(0, args.n)).float()
    real_feats = extractor(real)[0]
    rows = []
    for run, row, options in ROWS:
        model = genlab.load(args.out / run).eval()
        n = args.n_ddpm if row == "DDPM-1000" else args.n
        if options.get("method"):
            model.config.ode_method = options["method"]
        opts = {k: v for k, v in options.items() if k != "method"}
        torch.manual_seed(0)
        c0 = _cpu()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            images = model.sample(n, **opts).float()
        seconds = _cpu() - c0
        fd = frechet_distance_of_features(real_feats[:n], extractor(images)[0]) if n >= 50 else None
        save_image_grid(images[:64], args.out / f"{row.split()[0]}.png")
        rows.append({"row": row, "model": run, "n": n, "fd": fd, "cpu_s_per_1000": seconds / n * 1000})
        print(json.dumps(rows[-1]), flush=True)
    (args.out / "table.json").write_text(json.dumps({"n": args.n, "rows": rows}, indent=1))


def cmd_likelihood(args: argparse.Namespace) -> None:
    import genlab
    from genlab.config import DataConfig
    from genlab.data import load_splits

    torch.set_num_threads(1)
    model = genlab.load(args.out / "score-sde").eval()
    x = load_splits(DataConfig("mnist")).test.images(slice(0, args.n)).float()
    c0, t0 = _cpu(), time.perf_counter()
    bpd, nfe = model.bits_per_dim(x, rtol=args.tol, atol=args.tol, generator=torch.Generator().manual_seed(0))
    result = {"n": args.n, "tol": args.tol, "bits_per_dim": float(bpd.mean()), "bpd_std": float(bpd.std()),
              "nfe": nfe, "cpu_s": _cpu() - c0, "wall_s": time.perf_counter() - t0}
    print(json.dumps(result))
    (args.out / "likelihood.json").write_text(json.dumps(result, indent=1))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("what", choices=["train", "sample", "likelihood"])
    p.add_argument("--out", type=Path, default=Path("runs/bench_score"))
    p.add_argument("--budget", type=float, default=200.0)
    p.add_argument("--n", type=int, default=100)
    p.add_argument("--n-ddpm", type=int, default=10)
    p.add_argument("--tol", type=float, default=1e-5)
    args = p.parse_args()
    {"train": cmd_train, "sample": cmd_sample, "likelihood": cmd_likelihood}[args.what](args)


if __name__ == "__main__":
    main()
