"""Why vaegan lost to vae, and what fixes it: variants at one small, equal CPU budget (issue 19).

    OMP_NUM_THREADS=1 python benchmarks/vaegan_study.py run --budget 25 --n 500 --out runs/bench_vaegan
    python benchmarks/vaegan_study.py report --out runs/bench_vaegan
    OMP_NUM_THREADS=1 python benchmarks/vaegan_study.py run --budget 100 --n 500 --out runs/bench_vaegan100 \
        --variants vae vaegan-default dcgan
    python benchmarks/vaegan_study.py figure --out runs/bench_vaegan100 --variants vae vaegan-default dcgan
    python benchmarks/vaegan_study.py temperature --out runs/bench_vaegan100 --variants vae vaegan-default \
        --temps 1.0 0.8 --n 500

Every variant trains on MNIST (grayscale in [0, 1], not binarized, unless the variant says so) for
the same CPU-seconds of training (``--time-budget B --budget-clock cpu``), batch 64, bf16 autocast,
one thread, seed 0, and is evaluated on genlab's LeNet-5 MNIST features against the first --n test
images: FD, precision / recall (k = 3) of samples; recon FD (FD of the reconstructions of the same
test images against the images); sharpness as the variance of the Laplacian
(:func:`genlab.metrics.recon.laplacian_variance`) of samples and of reconstructions (the test
images' own value is printed as the reference). Results: OUT/<variant>/result.json.
"""
from __future__ import annotations

import argparse
import json
import resource
import sys
from pathlib import Path

import torch

# the defaults each round started from, spelled out so that every row stays reproducible
FIRST = {"gamma": 0.01, "autoencoder_lr": 3e-4, "gan_fakes": "both"}  # first study (gamma 0.01)
SECOND = {"gamma": 1.0, "autoencoder_lr": 3e-4, "gan_fakes": "both"}  # second round: gamma 1 default
# variant -> (model, model config changes, data config changes, train config changes)
VARIANTS: dict[str, tuple[str, dict, dict, dict]] = {
    "vae": ("vae", {}, {}, {}),
    "vaegan-default": ("vaegan", {}, {}, {}),  # today's defaults (gamma 1, autoencoder lr 1e-3, prior fakes)
    "vaegan-old-default": ("vaegan", FIRST, {}, {}),
    "vaegan-binarized": ("vaegan", FIRST, {"binarize": "dynamic"}, {}),
    "vaegan-gamma0.1": ("vaegan", {**FIRST, "gamma": 0.1}, {}, {}),
    "vaegan-gamma1": ("vaegan", SECOND, {}, {}),
    "vaegan-layer1": ("vaegan", {**FIRST, "feature_layer": 1}, {}, {}),
    "vaegan-equilibrium": ("vaegan", {**FIRST, "equilibrium": 0.68, "equilibrium_margin": 0.35}, {}, {}),
    # second round (helper h19b), each from SECOND: a pixel term kept beside the feature term
    # (hybrid), the encoder's and decoder's learning rate, what the GAN term shows the discriminator,
    # a spectrally normalized discriminator
    "vaegan-hybrid": ("vaegan", {**SECOND, "pixel_weight": 1.0}, {}, {}),
    "vaegan-hybrid-prior": ("vaegan", {**SECOND, "pixel_weight": 1.0, "gan_fakes": "prior"}, {}, {}),
    "vaegan-hybrid-lr1e-3": ("vaegan", {**SECOND, "pixel_weight": 1.0, "autoencoder_lr": 1e-3}, {}, {}),
    "vaegan-lr1e-3": ("vaegan", {**SECOND, "autoencoder_lr": 1e-3}, {}, {}),
    "vaegan-lr1e-3-sn": ("vaegan", {**SECOND, "autoencoder_lr": 1e-3, "disc_spectral_norm": True}, {}, {}),
    "vaegan-lr1e-3-prior": ("vaegan", {**SECOND, "autoencoder_lr": 1e-3, "gan_fakes": "prior"}, {}, {}),
    "vaegan-lr1e-3-prior-sn": ("vaegan", {**SECOND, "autoencoder_lr": 1e-3, "gan_fakes": "prior",
                                          "disc_spectral_norm": True}, {}, {}),
    "vaegan-ema": ("vaegan", {"ema_decay": 0.99}, {}, {}),  # today's defaults + an EMA decoder for sampling
    "dcgan": ("dcgan", {}, {}, {}),
    # third round (helper h19c, at 100 CPU-s): precision and recon FD; cvae's samples (classes in turn)
    "cvae": ("cvae", {}, {}, {}),
    "vaegan-gamma3": ("vaegan", {"gamma": 3.0}, {}, {}),
    "vaegan-now-layer1": ("vaegan", {"feature_layer": 1}, {}, {}),
    "vaegan-ema0.999": ("vaegan", {"ema_decay": 0.999}, {}, {}),
}
TRAIN = {"batch_size": 64, "precision": "bf16", "device": "cpu", "log_every": 0, "sample_every": 0,
         "eval_batches": 2, "num_samples": 16, "budget_clock": "cpu", "epochs": 1000, "seed": 0,
         "mode_check": "off"}


def _cpu() -> float:
    u = resource.getrusage(resource.RUSAGE_SELF)
    return u.ru_utime + u.ru_stime


def run_one(out: Path, variant: str, budget: float, n: int) -> dict:
    import genlab
    from genlab.config import DataConfig
    from genlab.data import load_splits
    from genlab.metrics import frechet_distance_of_features, precision_recall
    from genlab.metrics.recon import laplacian_variance
    from genlab.models.base import LatentModel
    from genlab.models.vaegan import VAEGAN
    from genlab.runs.extractors import build_extractor

    run = out / variant
    if (run / "result.json").is_file():
        return json.loads((run / "result.json").read_text())
    name, model_cfg, data_cfg, train_cfg = VARIANTS[variant]
    c0 = _cpu()
    model = genlab.train(name, out=run, overwrite=True, model_config=model_cfg,
                         data={"dataset": "mnist", **data_cfg}, train={**TRAIN, "time_budget": budget, **train_cfg})
    cpu = _cpu() - c0
    model.eval()
    extractor = build_extractor("mnist", verbose=False)
    x = load_splits(DataConfig("mnist")).test.images(slice(0, n)).float()
    real = extractor(x)[0]
    torch.manual_seed(0)
    with torch.no_grad():
        samples = model.sample(n).float()
        fake = extractor(samples)[0]
        precision, recall = precision_recall(real, fake, 3)
        row = {"variant": variant, "model": name, "train_cpu_s": cpu, "n": n,
               "fd": frechet_distance_of_features(real, fake), "precision": precision, "recall": recall,
               "sharp_samples": float(laplacian_variance(samples).mean()),
               "sharp_real": float(laplacian_variance(x).mean())}
        if isinstance(model, VAEGAN) and model.ema_decoder is not None:
            # the EMA only changes sampling: the same draws through the trained decoder are the run without it
            torch.manual_seed(0)
            raw = model.decode(torch.randn(n, model.config.latent_dim)).float()
            p_raw, r_raw = precision_recall(real, extractor(raw)[0], 3)
            row.update(fd_raw=frechet_distance_of_features(real, extractor(raw)[0]), precision_raw=p_raw,
                       recall_raw=r_raw, sharp_samples_raw=float(laplacian_variance(raw).mean()))
            torch.save(raw[:8], run / "samples_raw.pt")
        if isinstance(model, LatentModel) and not model.requires_labels:  # cvae: samples only
            rec = torch.cat([model.reconstruct(x[i:i + 250]).float() for i in range(0, n, 250)])
            row.update(recon_fd=frechet_distance_of_features(real, extractor(rec)[0]),
                       sharp_recons=float(laplacian_variance(rec).mean()),
                       recon_mse=float((rec - x).pow(2).mean()))
            torch.save(rec[:8], run / "recons.pt")
    torch.save(samples[:8], run / "samples.pt")
    (run / "result.json").write_text(json.dumps(row, indent=1))
    return row


def temperature(out: Path, variants: list[str], temps: list[float], n: int) -> None:
    """FD and precision / recall of already trained variants sampling z ~ N(0, T^2 I) (no training)."""
    import genlab
    from genlab.config import DataConfig
    from genlab.data import load_splits
    from genlab.metrics import frechet_distance_of_features, precision_recall
    from genlab.models.base import default_labels
    from genlab.models.vaegan import VAEGAN
    from genlab.runs.extractors import build_extractor

    extractor = build_extractor("mnist", verbose=False)
    real = extractor(load_splits(DataConfig("mnist")).test.images(slice(0, n)).float())[0]
    print("| variant | T | FD | precision | recall |\n|---|---|---|---|---|")
    # the reference: the next n test images (real digits) against the first n
    held_out = extractor(load_splits(DataConfig("mnist")).test.images(slice(n, 2 * n)).float())[0]
    precision, recall = precision_recall(real, held_out, 3)
    print(f"| test images {n}..{2 * n - 1} (real) | - | {frechet_distance_of_features(real, held_out):.1f} "
          f"| {precision:.3f} | {recall:.3f} |", flush=True)
    for v in variants:
        model = genlab.load(out / v).eval()
        # an EMA decoder's run: also the trained decoder (the same run without the EMA); a conditional model
        # unconditionally: labels drawn from the uniform class prior (and the classes in turn, its sample())
        decoders = {v: model.sample_from_noise}
        if isinstance(model, VAEGAN) and model.ema_decoder is not None:
            decoders[f"{v} (trained decoder)"] = model.decode
        labels = {v: None}
        if model.requires_labels:
            labels = {f"{v} (labels ~ uniform)": torch.randint(0, model.num_classes, (n,),
                                                               generator=torch.Generator().manual_seed(1)),
                      f"{v} (classes in turn)": default_labels(n, model.num_classes, torch.device("cpu"))}
            decoders = {name: model.sample_from_noise for name in labels}
        for label, decode in decoders.items():
            for t in temps:
                torch.manual_seed(0)
                with torch.no_grad():
                    fake = extractor(decode(t * torch.randn(n, *model.noise_shape()), labels.get(label)).float())[0]
                precision, recall = precision_recall(real, fake, 3)
                fd = frechet_distance_of_features(real, fake)
                print(f"| {label} | {t} | {fd:.1f} | {precision:.3f} | {recall:.3f} |", flush=True)


def report(out: Path) -> None:
    rows = [json.loads((out / v / "result.json").read_text()) for v in VARIANTS if (out / v / "result.json").is_file()]
    print("| variant | FD | precision | recall | recon FD | recon MSE | sharpness samples | sharpness recons "
          "| train CPU s |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        def get(k: str, f: str, r: dict = r) -> str:
            return "-" if r.get(k) is None else format(r[k], f)

        print(f"| {r['variant']} | {r['fd']:.1f} | {r['precision']:.3f} | {r['recall']:.3f} | {get('recon_fd', '.1f')} "
              f"| {get('recon_mse', '.4f')} | {r['sharp_samples']:.4f} | {get('sharp_recons', '.4f')} "
              f"| {r['train_cpu_s']:.0f} |")
        if r.get("fd_raw") is not None:  # the same run sampled through its trained decoder (no EMA)
            print(f"| {r['variant']} (trained decoder) | {r['fd_raw']:.1f} | {r['precision_raw']:.3f} "
                  f"| {r['recall_raw']:.3f} | {get('recon_fd', '.1f')} | {get('recon_mse', '.4f')} "
                  f"| {r['sharp_samples_raw']:.4f} | {get('sharp_recons', '.4f')} | {r['train_cpu_s']:.0f} |")
    if rows:
        print(f"\nsharpness of the test images themselves: {rows[0]['sharp_real']:.4f}")


def figure(out: Path, variants: list[str], path: Path) -> None:
    """Rows of 8: the first 8 test images, then per variant its samples and (with an encoder) its
    reconstructions of those test images."""
    from genlab.config import DataConfig
    from genlab.data import load_splits
    from genlab.io import save_image_grid

    rows = [load_splits(DataConfig("mnist")).test.images(slice(0, 8)).float()]
    for v in variants:
        rows.append(torch.load(out / v / "samples.pt"))
        if (out / v / "samples_raw.pt").is_file():  # an EMA run: its trained decoder's samples too
            rows.append(torch.load(out / v / "samples_raw.pt"))
        if (out / v / "recons.pt").is_file():
            rows.append(torch.load(out / v / "recons.pt"))
    save_image_grid(torch.cat(rows), path, nrow=8)
    print(f"{path}: rows = test images, then per variant samples (and reconstructions): {', '.join(variants)}")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("what", choices=["run", "report", "figure", "temperature"])
    p.add_argument("--out", type=Path, default=Path("runs/bench_vaegan"))
    p.add_argument("--budget", type=float, default=30.0)
    p.add_argument("--n", type=int, default=1000)
    p.add_argument("--variants", nargs="+", default=list(VARIANTS))
    p.add_argument("--temps", type=float, nargs="+", default=[1.0, 0.8])
    p.add_argument("--png", type=Path, default=Path("docs/img/vae_vaegan_gan.png"))
    args = p.parse_args(argv)
    if args.what == "report":
        report(args.out)
    elif args.what == "temperature":
        torch.set_num_threads(1)
        temperature(args.out, args.variants, args.temps, args.n)
    elif args.what == "figure":
        figure(args.out, args.variants, args.png)
    else:
        torch.set_num_threads(1)
        for v in args.variants:
            r = run_one(args.out, v, args.budget, args.n)
            print(json.dumps(r), flush=True)


if __name__ == "__main__":
    sys.exit(main())
