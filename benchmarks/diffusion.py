"""Diffusion benchmark: the DDIM paper's Table 1 layout on MNIST, plus training speed.

    # training images/s of the benchmark U-Net, fp32 and bf16 (the model only: no data, no validation)
    OMP_NUM_THREADS=1 python benchmarks/diffusion.py speed --steps 12

    # draw the samples of every row (DDPM 1000 steps; DDIM S = 10, 20, 50, 100 x eta = 0, 1) in
    # work units of --chunk images; start the command several times to share the units (each process
    # claims a unit with a RUN/bench/*.claim file; delete stale claims after an interrupted run)
    OMP_NUM_THREADS=1 python benchmarks/diffusion.py sample runs/ddpm-mnist --n 100 --chunk 20

    # FD / precision / recall (genlab's LeNet-5 MNIST extractor), seconds per 100 samples, grids
    OMP_NUM_THREADS=1 python benchmarks/diffusion.py score runs/ddpm-mnist --n 100

Every row uses the same n, the same seeds (chunk i starts from the same x_T in every row) and the
first n test images as the reference. Sampling runs the network under bf16 autocast.
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
import torch

import genlab
from genlab.models.base import Batch

ROWS = [("ddpm", 1000, None)] + [("ddim", s, eta) for eta in (0.0, 1.0) for s in (10, 20, 50, 100)]
BENCH_MODEL = {"base_width": 24, "width_mults": [1, 2, 2], "attention_size": 8, "data_shape": [1, 28, 28]}


def row_name(sampler: str, steps: int, eta: float | None) -> str:
    return f"{sampler}-S{steps}" + ("" if eta is None else f"-eta{eta:g}")


def units(n: int, chunk: int) -> list[tuple[str, int, float | None, int, int]]:
    """(sampler, steps, eta, chunk index, chunk size) for every row; expensive rows first."""
    out = []
    for sampler, steps, eta in sorted(ROWS, key=lambda r: -r[1]):
        for i, start in enumerate(range(0, n, chunk)):
            out.append((sampler, steps, eta, i, min(chunk, n - start)))
    return out


def cmd_speed(args: argparse.Namespace) -> None:
    """Images/s of one training step (forward, backward, Adam, EMA) at batch 64, fp32 and bf16."""
    torch.manual_seed(0)
    x = torch.rand(64, 1, 28, 28)
    result = {}
    for precision in ("fp32", "bf16"):
        model = genlab.registry.build("ddpm", BENCH_MODEL)
        opt = torch.optim.Adam(model.net.parameters(), lr=5e-4)
        times = []
        for _ in range(args.steps):
            t0 = time.perf_counter()
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
                loss = model.losses(Batch(x, None))["loss"]
            loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
            model.after_step("model")
            times.append(time.perf_counter() - t0)
        steady = sorted(times[2:])[len(times[2:]) // 2]  # median after warm-up
        result[precision] = {"images_per_s": 64 / steady, "seconds_per_step": steady}
    result["parameters"] = sum(p.numel() for p in model.net.parameters())
    result["threads"] = torch.get_num_threads()
    print(json.dumps(result, indent=1))


def cmd_sample(args: argparse.Namespace) -> None:
    model = genlab.load(args.run)
    out = Path(args.dir or Path(args.run) / "bench")
    out.mkdir(parents=True, exist_ok=True)
    for sampler, steps, eta, i, size in units(args.n, args.chunk):
        path = out / f"{row_name(sampler, steps, eta)}-{i:03d}.npz"
        try:  # claim the unit, so several of these processes can share the work
            os.close(os.open(path.with_suffix(".claim"), os.O_CREAT | os.O_EXCL))
        except FileExistsError:
            continue
        torch.manual_seed(args.seed * 100_003 + i)  # the same x_T for chunk i in every row
        t0 = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.precision == "bf16"):
            images = model.sample(size, sampler=sampler, steps=steps if sampler == "ddim" else None, eta=eta)
        seconds = time.perf_counter() - t0
        u8 = (images.float().clamp(0, 1) * 255).round().to(torch.uint8).numpy()
        np.savez(path.with_suffix(".tmp.npz"), images=u8, seconds=seconds, threads=torch.get_num_threads())
        path.with_suffix(".tmp.npz").rename(path)
        print(f"{path.name}: {size} samples in {seconds:.1f}s", flush=True)


def cmd_score(args: argparse.Namespace) -> None:
    from genlab.config import DataConfig
    from genlab.data import load_splits
    from genlab.io import save_image_grid
    from genlab.metrics import frechet_distance_of_features, precision_recall
    from genlab.runs.extractors import build_extractor

    out = Path(args.dir or Path(args.run) / "bench")
    extractor = build_extractor("mnist")
    splits = load_splits(DataConfig("mnist"))
    real = splits.test.images(slice(0, args.n)).float()
    real_feats = extractor(real)[0]
    other = extractor(splits.validation.images(slice(0, args.n)).float())[0]  # the floor: real vs real
    rows = [{"row": "real (validation vs test)", "fd": frechet_distance_of_features(real_feats, other),
             **dict(zip(("precision", "recall"), precision_recall(real_feats, other, 3), strict=True))}]
    img_dir = Path(args.img_dir)
    img_dir.mkdir(parents=True, exist_ok=True)
    for sampler, steps, eta in ROWS:
        name = row_name(sampler, steps, eta)
        parts = [np.load(p) for p in sorted(out.glob(f"{name}-[0-9][0-9][0-9].npz"))]
        images = torch.from_numpy(np.concatenate([p["images"] for p in parts])).float() / 255
        if len(images) != args.n:
            raise SystemExit(f"{name}: {len(images)} samples found, expected {args.n}; run `sample` first")
        seconds = float(sum(p["seconds"] for p in parts))
        feats = extractor(images)[0]
        precision, recall = precision_recall(real_feats, feats, 3)
        rows.append({"row": name, "sampler": sampler, "steps": steps, "eta": eta,
                     "fd": frechet_distance_of_features(real_feats, feats), "precision": precision, "recall": recall,
                     "seconds_per_100": seconds / args.n * 100})
        save_image_grid(images[:64], img_dir / f"diffusion_{name}.png")
    result = {"run": str(args.run), "n": args.n, "extractor": extractor.record()["id"], "rows": rows}
    (out / "table.json").write_text(json.dumps(result, indent=1))
    print(json.dumps(result, indent=1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("speed")
    p.add_argument("--steps", type=int, default=12)
    p.set_defaults(func=cmd_speed)
    for name, func in (("sample", cmd_sample), ("score", cmd_score)):
        p = sub.add_parser(name)
        p.add_argument("run")
        p.add_argument("--n", type=int, default=100)
        p.add_argument("--dir", help="where the sample units go (default: RUN/bench)")
        p.add_argument("--seed", type=int, default=0)
        p.add_argument("--chunk", type=int, default=20)
        p.add_argument("--precision", choices=["fp32", "bf16"], default="bf16")
        p.add_argument("--img-dir", default="docs/img")
        p.set_defaults(func=func)
    args = parser.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
