"""Autoencoder family benchmark: MNIST reconstruction at equal code size and budget, denoising,
sparsity, contraction, stacked pretraining, and the recurrent AE on a real statsmodels series.

    python benchmarks/autoencoders.py mnist [--steps 1500] [--out runs/bench_ae] [--threads 1]
    python benchmarks/autoencoders.py series [--steps 1500] [--out runs/bench_ae] [--threads 1]

``mnist`` trains every image autoencoder (plus the stacked AE without pretraining) with a 32-d
code, batch 128, the same number of steps, Adam 1e-3, bf16, on MNIST's 50k training images
(grayscale, not binarized), then on the 10k test images measures:

* reconstruction MSE / PSNR / SSIM (``genlab.metrics.recon.summarize``);
* denoising: test images + N(0, 0.5^2) noise clipped to [0, 1] (one fixed draw), PSNR of the
  noisy input and of each model's output against the clean image;
* the sparse AE's mean code activation (target rho) and share of code values below 0.05;
* the mean Frobenius norm ||J_f(x)||_F of the encoder Jacobian (exact, ``encoder_jacobian``) on
  1000 test images for the contractive AE, the vanilla AE, and the vanilla AE with the CAE's
  sigmoid code (so the penalty's effect is separated from the bounded code's).

``series`` trains the recurrent AE (LSTM, 8-d code) on the monthly El Nino series (windows of 24
months, stride 1, split in time order 80/10/10, standardized with training statistics) and
compares the test-window reconstruction MSE (standardized units) with two baselines: repeating the
previous 24 months, and PCA with the same 8 components fitted on the training windows.

Runs already present under --out are reused (resumed if unfinished). Results are printed as
markdown and written to OUT/<command>.json; figures go to docs/img/.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

import genlab
from genlab.data import load_splits
from genlab.io import save_image_grid
from genlab.metrics.recon import psnr, summarize
from genlab.models.autoencoder import corrupt
from genlab.nn.jacobian import encoder_jacobian

IMG = Path(__file__).resolve().parents[1] / "docs" / "img"
MLP = {"latent_dim": 32, "architecture": "mlp", "mlp_hidden": [512, 256]}
MODELS = {  # run name -> (registry name, model config); all with a 32-d code
    "ae": ("ae", MLP),
    "ae (sigmoid code)": ("ae", {**MLP, "code_activation": "sigmoid"}),  # the CAE's code without its penalty
    "denoising-ae": ("denoising-ae", {**MLP, "noise": "gaussian", "noise_level": 0.5}),
    "sparse-ae": ("sparse-ae", {**MLP, "sparsity": "kl", "target_rate": 0.05, "sparsity_weight": 1.0}),
    "contractive-ae": ("contractive-ae", {**MLP, "contractive_weight": 0.1}),
    "conv-ae": ("conv-ae", {"latent_dim": 32, "conv_widths": [32, 64], "conv_hidden": 256}),
    "stacked-ae": ("stacked-ae", {**MLP, "pretrain_steps": 100}),
    "stacked-ae (no pretraining)": ("stacked-ae", {**MLP, "pretrain_steps": 0}),
}


def train_or_reuse(run: Path, name: str, model_cfg: dict, data: dict, train: dict):
    """Train into ``run``, or continue / reuse the run already there."""
    if (run / "config.json").is_file():
        genlab.resume(run, steps=train["steps"])  # a no-op when complete
        return genlab.load(run)
    return genlab.train(name, out=run, model_config=model_cfg, data=data, train=train)


@torch.no_grad()
def batched(fn, x: torch.Tensor, bs: int = 500) -> torch.Tensor:
    return torch.cat([fn(x[i:i + bs]) for i in range(0, len(x), bs)])


def bench_mnist(args: argparse.Namespace) -> dict:
    data = {"dataset": "mnist"}
    train = {"steps": args.steps, "batch_size": 128, "lr": 1e-3, "precision": "bf16", "sample_every": 0,
             "log_every": 0, "eval_batches": 10, "device": "cpu", "seed": 0}
    test = load_splits(genlab.DataConfig(dataset="mnist")).test
    x = test.images(torch.arange(len(test)))  # (10000, 1, 28, 28)
    noisy = corrupt(x, "gaussian", 0.5, torch.Generator().manual_seed(0))
    results: dict = {"steps": args.steps, "batch_size": 128, "noisy_input_psnr": float(psnr(noisy, x).mean()),
                     "models": {}}
    rows, den_rows = [x[:10]], [x[:10], noisy[:10]]
    for run_name, (name, cfg) in MODELS.items():
        t0 = time.time()
        model = train_or_reuse(args.out / run_name.replace(" ", "_").replace("(", "").replace(")", ""), name, cfg,
                               data, train).eval()
        train_s = time.time() - t0
        rec = batched(model.reconstruct, x)
        den = batched(model.reconstruct, noisy)
        r = {"model": name, "train_seconds": round(train_s, 1), **summarize(rec, x),
             "denoised_psnr": float(psnr(den, x).mean())}
        codes = batched(model.encode, x)
        if name == "sparse-ae":
            r["mean_activation"] = float(codes.mean())
            r["share_below_0.05"] = float((codes.abs() < 0.05).float().mean())
        if run_name in ("ae", "ae (sigmoid code)", "contractive-ae"):
            with torch.no_grad():
                jac = torch.cat([encoder_jacobian(model.encoder, x[i:i + 250])[1] for i in range(0, 1000, 250)])
            r["jacobian_frobenius"] = float(jac.pow(2).sum((1, 2)).sqrt().mean())
        results["models"][run_name] = r
        rows.append(rec[:10])
        if run_name in ("ae", "denoising-ae"):
            den_rows.append(den[:10])
        print(json.dumps({run_name: r}), flush=True)
        if run_name == "conv-ae":
            from genlab.apps.embed import plot_codes

            plot_codes(codes[:5000], test.y[:5000], IMG / "autoencoders_conv_ae_codes.png",
                       "conv-ae codes of 5000 MNIST test digits")
    IMG.mkdir(parents=True, exist_ok=True)
    save_image_grid(torch.cat(rows), IMG / "autoencoders_reconstructions.png", nrow=10)
    save_image_grid(torch.cat(den_rows), IMG / "autoencoders_denoising.png", nrow=10)
    return results


def bench_series(args: argparse.Namespace) -> dict:
    import numpy as np

    data = {"dataset": "elnino", "window": 24, "stride": 1}
    cfg = genlab.DataConfig(**data)
    splits = load_splits(cfg)
    model_cfg = {"latent_dim": 8, "hidden_size": 64, "cell": "lstm"}
    train = {"steps": args.steps, "batch_size": 32, "lr": 2e-3, "sample_every": 0, "log_every": 0, "device": "cpu",
             "seed": 0}
    t0 = time.time()
    model = train_or_reuse(args.out / "recurrent-ae-elnino", "recurrent-ae", model_cfg, data, train).eval()
    train_s = time.time() - t0
    xt = splits.test.x  # (N, 24, 1), standardized with training statistics
    rec = model.reconstruct(xt)
    mse_model = float((rec - xt).pow(2).mean())
    # baseline 1: repeat the previous 24 months (the series in time order, standardized the same way)
    info = splits.train.info
    from genlab.data.sequences import SERIES

    raw, _ = SERIES["elnino"][0]()
    series = (raw - np.asarray(info["mean"])) / np.asarray(info["std"])  # (L, 1)
    n_test = info["split_steps"][2]
    start = len(series) - n_test
    prev = torch.from_numpy(np.stack([series[s - 24:s] for s in range(start, len(series) - 24 + 1)])).float()
    mse_repeat = float((prev - xt).pow(2).mean())
    # baseline 2: PCA with 8 components fitted on the training windows
    tr = splits.train.x.flatten(1)
    mean = tr.mean(0)
    _, _, vh = torch.linalg.svd(tr - mean, full_matrices=False)
    basis = vh[:8]
    pca = ((xt.flatten(1) - mean) @ basis.T @ basis + mean).view_as(xt)
    mse_pca = float((pca - xt).pow(2).mean())
    results = {"series": "elnino", "test_windows": len(xt), "steps": args.steps, "train_seconds": round(train_s, 1),
               "mse_recurrent_ae": mse_model, "mse_repeat_previous_window": mse_repeat, "mse_pca_8": mse_pca,
               "mse_predict_mean": float(xt.pow(2).mean())}
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(12, 3), sharey=True)
    std, mu = info["std"][0], info["mean"][0]
    for ax, i in zip(axes, [0, len(xt) // 2, len(xt) - 1], strict=True):
        ax.plot(xt[i, :, 0] * std + mu, label="test window", color="k")
        ax.plot(rec[i, :, 0] * std + mu, label="recurrent AE", color="C0")
        ax.plot(prev[i, :, 0] * std + mu, label="previous 24 months", color="C1", ls="--")
        ax.set_xlabel("month")
    axes[0].set_ylabel("sea surface temperature (C)")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    IMG.mkdir(parents=True, exist_ok=True)
    fig.savefig(IMG / "autoencoders_elnino.png", dpi=100)
    plt.close(fig)
    print(json.dumps(results), flush=True)
    return results


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("command", choices=["mnist", "series"])
    p.add_argument("--steps", type=int, default=None)
    p.add_argument("--out", type=Path, default=Path("runs/bench_ae"))
    p.add_argument("--threads", type=int, default=1, help="torch threads (default: 1)")
    args = p.parse_args()
    # one thread: on the shared, oversubscribed 2-core machine two threads were 10-50x slower per step
    torch.set_num_threads(args.threads)
    if args.steps is None:
        args.steps = 1500
    results = bench_mnist(args) if args.command == "mnist" else bench_series(args)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{args.command}.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
