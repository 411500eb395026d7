"""Image-to-image translation and super-resolution benchmarks (issue 15), through the CLI.

    OMP_NUM_THREADS=1 python benchmarks/translation.py --out /tmp/translation [--scale 1.0]

Trains, one process at a time, each with a CPU-second budget (``--budget-clock cpu``):
  1. mnist-sr4: srresnet (MSE) and srgan (started from the srresnet, perceptual loss on the MNIST
     LeNet-5 extractor + 1e-3 adversarial); PSNR / SSIM vs bicubic on MNIST test images;
  2. photos-sr4: srresnet (the light generator: --upsampling subpixel --no-block-norm; L1 on random
     12x12 patches with flips, cosine-annealed lr) and srgan (L1 content: the photographs have no
     classifier) on the held-out photographs, per image and mean, and crop strips
     (bicubic | srresnet | srgan | original) for both SR tasks;
  3. edges2mnist: pix2pix with the GAN term and with L1 only (--gan-weight 0): PSNR / SSIM / FD;
  4. digits2mnist: cyclegan: label preservation of the MNIST classifier on translated digits vs
     untranslated, FD, and a grid (input | translation | cycle reconstruction).
Writes ``results.json`` and PNG strips under --out (copied to docs/img/ with --docs).
``--scale`` multiplies every budget. ``--photo-flags`` / ``--photo-steps-per-cpu-s`` change the
photos-sr4 srresnet (e.g. a wider network: ``--photo-flags "--width 64 --n-blocks 8"``); each
photos-sr4 run's results hold its validation PSNR curve against CPU seconds ('curve': the gain per
CPU minute) and the whole-photograph PSNRs of ``genlab evaluate`` ('whole_*', per photograph and mean).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import torch

GENLAB = [sys.executable, "-m", "genlab"]
COMMON = ["--budget-clock", "cpu", "--eval-batches", "2", "--num-samples", "4", "--device", "cpu",
          "--precision", "fp32", "--checkpoint-every", "0"]
SR = ["--width", "32", "--n-blocks", "4", "--batch-size", "32"]


def sh(args: list[str]) -> str:
    t0 = time.time()
    out = subprocess.run(args, check=True, capture_output=True, text=True)
    print(f"  ({time.time() - t0:.0f}s) {' '.join(args[3:])[:150]}", file=sys.stderr, flush=True)
    return out.stdout


def train(key: str, name: str, dataset: str, out: Path, budget: float, flags: list[str]) -> Path:
    run = out / "runs" / key.replace("/", "-")
    if not (run / "model.safetensors").is_file():
        sh([*GENLAB, "train", name, "--dataset", dataset, "--time-budget", str(budget), *COMMON, *flags,
            "--out", str(run), "--overwrite"])
    return run


def evaluate(run: Path, n: int) -> dict:
    sh([*GENLAB, "evaluate", str(run), "--n", str(n), "--out", str(run / "eval.json")])
    result = json.loads((run / "eval.json").read_text())
    log = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    train_records = [r for r in log if r.get("split") == "train"]
    params = sum(p.numel() for p in __import__("genlab").load(run).parameters())
    result["train"] = {"steps": train_records[-1]["step"] if train_records else None,
                       "images_per_s": train_records[-1].get("images_per_s") if train_records else None,
                       "parameters": params}
    return result


def curve(run: Path) -> list[list[float]]:
    """[step, training CPU seconds, validation PSNR] at each epoch's end, from the run's metrics log."""
    log = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    cpu = {r["step"]: r["cpu_time"] for r in log if r.get("split") == "train" and "cpu_time" in r}
    return [[r["step"], round(cpu[r["step"]], 1), round(r["generator/psnr"], 3)] for r in log
            if r.get("split") == "validation" and "generator/psnr" in r and r["step"] in cpu]


def cycle_grid(run: Path, path: Path, n: int = 8) -> None:
    """Rows input | translation A->B | cycle reconstruction B->A of the first n sklearn test digits."""
    import numpy as np
    from PIL import Image

    import genlab
    from genlab.runs.run import run_splits

    model = genlab.load(run).eval()
    test = run_splits(str(run)).test
    a = test.images(torch.arange(n))[:, :1].float()  # domain A: the upsampled sklearn digits
    fake = model.translate(a, "AB")
    back = model.translate(fake, "BA")
    rows = [torch.cat([a[i, 0], fake[i, 0].cpu(), back[i, 0].cpu()], 1) for i in range(n)]
    grid = (torch.cat(rows, 0).clamp(0, 1).numpy() * 255).round().astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(grid).resize((grid.shape[1] * 2, grid.shape[0] * 2), Image.NEAREST).save(path)


def sr_strip(runs: list[Path], path: Path, items: tuple[int, ...]) -> None:
    """Rows of test items: bicubic | each run's output (srresnet, srgan) | original, from the runs' test split."""
    import numpy as np
    import torch.nn.functional as F
    from PIL import Image

    import genlab
    from genlab.runs.run import run_splits

    models = [genlab.load(r).eval() for r in runs]
    test = run_splits(str(runs[0])).test
    a, b = models[0].split_packed(test.images(torch.tensor(items)))
    cols = [F.interpolate(a, scale_factor=models[0].scale, mode="bicubic", align_corners=False).clamp(0, 1),
            *[m.translate(a).cpu() for m in models], b]
    grid = torch.cat([torch.cat([c[i] for c in cols], 2) for i in range(len(items))], 1)  # (C, rows H, cols W)
    img = (grid.clamp(0, 1).permute(1, 2, 0).squeeze(-1).numpy() * 255).round().astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    scale = max(1, 128 // b.shape[-1])  # 28 px digits enlarged 4x; 96 px crops kept
    Image.fromarray(img).resize((img.shape[1] * scale, img.shape[0] * scale), Image.NEAREST).save(path)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="/tmp/translation")
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies every CPU budget")
    parser.add_argument("--docs", action="store_true", help="copy the strips to docs/img/")
    parser.add_argument("--photo-flags", default="", help="extra flags of the photos-sr4 srresnet (override its own)")
    parser.add_argument("--photo-steps-per-cpu-s", type=float, default=30.0,
                        help="photos-sr4 srresnet steps per CPU second of budget (the cosine lr reaches 0 there)")
    parser.add_argument("--only", default="", help="comma-separated run keys or key prefixes to run "
                        "(e.g. mnist-sr4/srresnet,edges2mnist); default: all")
    args = parser.parse_args()
    only = [k for k in args.only.split(",") if k]

    def wanted(key: str) -> bool:
        return not only or any(key.startswith(k) for k in only)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    b = args.scale
    res: dict = {"load": os.getloadavg(), "torch_threads": torch.get_num_threads(), "budgets_cpu_s": {}}

    def run(key: str, name: str, dataset: str, budget: float, flags: list[str], n: int) -> Path:
        if not wanted(key):
            return out / "runs" / key.replace("/", "-")
        res["budgets_cpu_s"][key] = budget * b
        path = train(key, name, dataset, out, budget * b, flags)
        res[key] = evaluate(path, n)
        print(key, json.dumps(res[key]["metrics"]), file=sys.stderr, flush=True)
        return path

    sr = run("mnist-sr4/srresnet", "srresnet", "mnist-sr4", 150, SR, 2000)
    sgan = run("mnist-sr4/srgan", "srgan", "mnist-sr4", 90, [*SR, "--d-width", "16", "--d-hidden", "64",
                                                      "--generator-init", str(sr)], 2000)
    # photographs: the light generator (every conv at 24x24, no BN: ~7x the images per CPU second of the
    # paper's), L1 (small errors on flat crops go to zero), batches of 16 random 12x12 patches with flips
    # and transposes, lr 1e-3 annealed to zero (cosine) over about as many steps as the budget allows
    light = [*SR[:-2], "--upsampling", "subpixel", "--no-block-norm", "--batch-size", "16", "--patch", "12",
             "--augment"]
    psr_budget = 400

    def annealed(budget: float) -> list[str]:
        return ["--gan-lr", "1e-3", "--schedule", "cosine", "--steps",
                str(int(args.photo_steps_per_cpu_s * budget * b)), "--sample-every", "10"]
    psr = run("photos-sr4/srresnet", "srresnet", "photos-sr4", psr_budget,
              [*light, "--content-loss", "l1", *annealed(psr_budget), *args.photo_flags.split()], 100)
    for key, path in (("photos-sr4/srresnet", psr),):
        if key in res:
            res[key]["curve"] = curve(path)
    pgan = run("photos-sr4/srgan", "srgan", "photos-sr4", 90,
               [*light, "--d-width", "16", "--d-hidden", "64", "--content-loss", "l1", "--generator-init", str(psr),
                *args.photo_flags.split()],
               100)
    p2p = ["--g-width", "16", "--d-width", "16", "--n-layers", "2", "--batch-size", "32"]
    gan = run("edges2mnist/pix2pix", "pix2pix", "edges2mnist", 120, p2p, 2000)
    l1 = run("edges2mnist/pix2pix-l1", "pix2pix", "edges2mnist", 120, [*p2p, "--gan-weight", "0"], 2000)
    cg = run("digits2mnist/cyclegan", "cyclegan", "digits2mnist", 200,
             ["--g-width", "16", "--n-blocks", "3", "--d-width", "16", "--n-layers", "2", "--batch-size", "8",
              "--identity-weight", "0.5"], 2000)
    # strips
    img = out / "img"
    for key, run_dir, name in (("edges2mnist/pix2pix", gan, "translation_edges2mnist_pix2pix"),
                               ("edges2mnist/pix2pix-l1", l1, "translation_edges2mnist_l1"),
                               ("mnist-sr4/srresnet", sr, "translation_mnist_sr4_srresnet"),
                               ("photos-sr4/srresnet", psr, "translation_photos_sr4_srresnet"),
                               ("photos-sr4/srgan", pgan, "translation_photos_srgan")):
        if not (run_dir / "model.safetensors").is_file() or not wanted(key):
            continue
        cmd = "upscale" if "sr4" in name or "photos" in name else "translate"
        sh([*GENLAB, cmd, str(run_dir), "--n", "6", "--out", str(out / "strips" / name)])
        img.mkdir(exist_ok=True)
        shutil.copy(out / "strips" / name / "strip.png", img / f"{name}.png")
    for key, pair, name, items in (("mnist-sr4", (sr, sgan), "translation_mnist_sr4_crops", (0, 1, 2, 3, 4, 5)),
                                   ("photos-sr4", (psr, pgan), "translation_photos_sr4_crops", (1, 4, 9, 14, 21, 30))):
        if wanted(f"{key}/srgan") and all((r / "model.safetensors").is_file() for r in pair):
            sr_strip(list(pair), img / f"{name}.png", items)  # bicubic | srresnet | srgan | original
    if (cg / "model.safetensors").is_file() and wanted("digits2mnist/cyclegan"):
        cycle_grid(cg, img / "translation_digits2mnist_cycle.png")
    res["load_after"] = os.getloadavg()
    name = "results.json" if not only else f"results-{'+'.join(k.replace('/', '-') for k in only)}.json"
    (out / name).write_text(json.dumps(res, indent=1))
    if args.docs:
        docs = Path(__file__).resolve().parent.parent / "docs" / "img"
        for f in img.glob("*.png"):
            shutil.copy(f, docs / f.name)
    print(json.dumps({k: v["metrics"] for k, v in res.items() if isinstance(v, dict) and "metrics" in v}, indent=1))


if __name__ == "__main__":
    main()
