"""Benchmarks of the CNN / metrics issue (results go to docs/benchmarks.md).

    python benchmarks/cnn_metrics.py lenet --epochs 15 --out runs/lenet5-mnist
    python benchmarks/cnn_metrics.py fd-sanity --n 5000

``lenet`` trains LeNet-5 on MNIST with the same trainer as `genlab train classifier --arch lenet5`
(50k train images, Adam, cosine schedule) and reports its accuracy on the 10k test images.

``fd-sanity`` checks the MNIST feature extractor (lenet5-mnist, built or read from the cache):
the Fréchet distance between two disjoint halves of the test set, and between one half and the
other half corrupted by Gaussian noise or Gaussian blur of growing strength (must grow), and saves
a plot to docs/img/fd_sanity.png.
"""
from __future__ import annotations

import argparse
import json
import time

import torch
import torch.nn.functional as F

import genlab
from genlab.config import DataConfig
from genlab.data import load_splits


def lenet(args: argparse.Namespace) -> dict:
    t0 = time.perf_counter()
    model = genlab.train("classifier", out=args.out, overwrite=True, data={"dataset": "mnist"},
                         model_config={"arch": "lenet5"},
                         train={"epochs": args.epochs, "lr": args.lr, "schedule": "cosine", "batch_size": 128,
                                "seed": 0, "device": "cpu", "precision": args.precision, "sample_every": 0})
    seconds = time.perf_counter() - t0
    test = load_splits(DataConfig(dataset="mnist")).test
    pred = model.eval().predict(test.images(slice(None)))
    acc = float((pred == test.y).float().mean())
    return {"benchmark": "lenet5-mnist", "epochs": args.epochs, "test_accuracy": acc, "train_seconds": seconds,
            "test_images": len(test), "threads": torch.get_num_threads()}


def _blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    t = torch.arange(7) - 3.0
    g = torch.exp(-t**2 / (2 * sigma**2))
    g = g / g.sum()
    w = (g[:, None] * g[None, :])[None, None]  # (1, 1, 7, 7)
    return F.conv2d(F.pad(x, (3, 3, 3, 3), mode="replicate"), w)


def fd_sanity(args: argparse.Namespace) -> dict:
    from genlab.metrics import frechet_distance_of_features
    from genlab.runs.extractors import build_extractor

    ex = build_extractor("mnist")
    x = load_splits(DataConfig(dataset="mnist")).test.images(slice(None))
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
    a, b = x[perm[:args.n]], x[perm[args.n:2 * args.n]]
    fa = ex(a)[0]
    g = torch.Generator().manual_seed(1)
    noise_levels, blur_levels = [0.05, 0.1, 0.2, 0.4, 0.8], [0.5, 1.0, 1.5, 2.0, 3.0]
    noise = [frechet_distance_of_features(fa, ex((b + s * torch.randn(b.shape, generator=g)).clamp(0, 1))[0])
             for s in noise_levels]
    blur = [frechet_distance_of_features(fa, ex(_blur(b, s))[0]) for s in blur_levels]
    result = {"benchmark": "fd-sanity", "extractor": ex.id, "extractor_test_accuracy": ex.info.get("test_accuracy"),
              "n_per_half": args.n, "fd_halves": frechet_distance_of_features(fa, ex(b)[0]),
              "noise": dict(zip(map(str, noise_levels), noise, strict=True)),
              "blur": dict(zip(map(str, blur_levels), blur, strict=True)),
              "monotone": all(p < q for p, q in zip(noise, noise[1:], strict=False))
              and all(p < q for p, q in zip(blur, blur[1:], strict=False))}
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(8, 3))
    for ax, levels, values, name in ((axes[0], noise_levels, noise, "Gaussian noise std"),
                                     (axes[1], blur_levels, blur, "Gaussian blur sigma (px)")):
        ax.plot(levels, values, "o-")
        ax.axhline(result["fd_halves"], color="gray", ls="--", label="two clean halves")
        ax.set_xlabel(name)
        ax.set_ylabel("FD")
        ax.set_yscale("log")
        ax.legend()
    fig.suptitle(f"FD on {ex.id} features, {args.n} vs {args.n} MNIST test images")
    fig.tight_layout()
    fig.savefig("docs/img/fd_sanity.png", dpi=100)
    return result


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("lenet")
    a.add_argument("--epochs", type=int, default=15)
    a.add_argument("--lr", type=float, default=1e-3)
    a.add_argument("--precision", default="fp32")
    a.add_argument("--out", default="runs/lenet5-mnist")
    b = sub.add_parser("fd-sanity")
    b.add_argument("--n", type=int, default=5000)
    args = p.parse_args()
    print(json.dumps({"lenet": lenet, "fd-sanity": fd_sanity}[args.cmd](args), indent=2))


if __name__ == "__main__":
    main()
