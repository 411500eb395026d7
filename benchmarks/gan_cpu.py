"""GANs per CPU-second (issue 21): genlab's GANs against a reference DCGAN written the way public
PyTorch examples write it, at equal CPU-seconds of training, one thread each, fp32.

    OMP_NUM_THREADS=1 python benchmarks/gan_cpu.py run --runs reference dcgan --budget 300 --seeds 0 --jobs 2
    OMP_NUM_THREADS=1 python benchmarks/gan_cpu.py run --runs dcgan dcgan:batch_size=128 --budget 100
    python benchmarks/gan_cpu.py report --out runs/bench_gan_cpu

A run is ``reference`` (the plain-PyTorch DCGAN below) or a genlab model name with optional changes
``name:key=value,key=value`` (keys of the model config, or of the train config: batch_size, lr,
phase_lr_discriminator, phase_lr_generator). Every run trains on MNIST's 50k training
images for ``--budget`` CPU-seconds of training (process CPU time, one thread; evaluation and sample
grids outside it), then is evaluated by genlab's evaluator: Fréchet distance on genlab's LeNet-5
MNIST features with ``--n`` generated images against as many test images, classes covered (>= 1%
of the samples each) and, for a conditional model, the classifier's accuracy on the requested labels.
The runs of one call alternate between the entries of ``--runs`` (seed-major) and run ``--jobs`` at a
time. Results: OUT/<budget>/<run>/seed<N>/result.json (a finished run is not redone) and grid100.png.

The reference (``reference``): 28x28 MNIST DCGAN as in the common public examples: a
``torch.utils.data.DataLoader`` over the training images scaled to [-1, 1] (shuffle, batch 64, drop
last), G: z(100) -> ConvTranspose 7x7 256 -> BN ReLU -> ConvTranspose 4/2 128 -> BN ReLU ->
ConvTranspose 4/2 1 -> tanh; D: Conv 4/2 64 -> LeakyReLU(0.2) -> Conv 4/2 128 -> BN LeakyReLU ->
Linear -> sigmoid; weights N(0, 0.02), BN weights N(1, 0.02); BCELoss; Adam 2e-4 betas (0.5, 0.999)
for both; per iteration one D step on real + G(z).detach(), then one G step on the same fake batch.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

from bench_common import mean_std

TRAIN_KEYS = {"batch_size", "lr", "phase_lr_discriminator", "phase_lr_generator"}
GENLAB_TRAIN = {"precision": "fp32", "device": "cpu", "log_every": 0, "sample_every": 0, "eval_batches": 1,
                "num_samples": 100, "budget_clock": "cpu", "mode_check": "off", "epochs": 10_000}


def parse_run(text: str) -> tuple[str, dict, dict]:
    """'dcgan:batch_size=128,ema_decay=0.999' -> ('dcgan', model config changes, train config changes)."""
    name, _, rest = text.partition(":")
    model_cfg: dict = {}
    train: dict = {}
    for item in filter(None, rest.split(",")):
        key, _, value = item.partition("=")
        try:
            parsed = json.loads(value)
        except ValueError:
            parsed = value
        if isinstance(parsed, str) and "x" in parsed and all(p.isdigit() for p in parsed.split("x")):
            parsed = [int(p) for p in parsed.split("x")]  # widths: 32x64
        elif isinstance(parsed, str) and "/" in parsed:
            parsed = [float(p) for p in parsed.split("/")]  # betas: 0/0.9
        (train if key in TRAIN_KEYS else model_cfg)[key] = parsed
    return name, model_cfg, train


# --- the reference: plain PyTorch, as the public examples write it ---------------------------------
def _reference_networks(nz: int = 100):
    from torch import nn

    class G(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = nn.Sequential(
                nn.ConvTranspose2d(nz, 256, 7, 1, 0, bias=False), nn.BatchNorm2d(256), nn.ReLU(True),
                nn.ConvTranspose2d(256, 128, 4, 2, 1, bias=False), nn.BatchNorm2d(128), nn.ReLU(True),
                nn.ConvTranspose2d(128, 1, 4, 2, 1, bias=False), nn.Tanh())

        def forward(self, z):
            return self.net(z.view(z.shape[0], -1, 1, 1))

    class D(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = nn.Sequential(
                nn.Conv2d(1, 64, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, True),
                nn.Conv2d(64, 128, 4, 2, 1, bias=False), nn.BatchNorm2d(128), nn.LeakyReLU(0.2, True),
                nn.Flatten(), nn.Linear(128 * 7 * 7, 1), nn.Sigmoid())

        def forward(self, x):
            return self.net(x).view(-1)

    def weights_init(m):
        name = type(m).__name__
        if "Conv" in name or "Linear" in name:
            nn.init.normal_(m.weight, 0.0, 0.02)
        elif "BatchNorm" in name:
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)

    g, d = G(), D()
    g.apply(weights_init)
    d.apply(weights_init)
    return g, d


def train_reference(seed: int, budget: float) -> tuple[object, dict]:
    import torch
    from torch import nn
    from torch.utils.data import DataLoader, TensorDataset

    from genlab.config import DataConfig
    from genlab.data import load_splits

    torch.manual_seed(seed)
    x = load_splits(DataConfig("mnist")).train.x.float() / 127.5 - 1  # (50000, 1, 28, 28) in [-1, 1]
    loader = DataLoader(TensorDataset(x), batch_size=64, shuffle=True, drop_last=True)
    g, d = _reference_networks()
    opt_g = torch.optim.Adam(g.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(d.parameters(), lr=2e-4, betas=(0.5, 0.999))
    bce = nn.BCELoss()
    cpu, steps, images = 0.0, 0, 0
    while cpu < budget:
        for (real,) in loader:
            t0 = time.process_time()
            b = real.shape[0]
            ones, zeros = torch.ones(b), torch.zeros(b)
            d.zero_grad()
            err_real = bce(d(real), ones)
            fake = g(torch.randn(b, 100))
            err_fake = bce(d(fake.detach()), zeros)
            (err_real + err_fake).backward()
            opt_d.step()
            g.zero_grad()
            err_g = bce(d(fake), ones)
            err_g.backward()
            opt_g.step()
            cpu += time.process_time() - t0
            steps += 1
            images += b
            if cpu >= budget:
                break
    return g, {"generator_steps": steps, "images": images, "train_cpu": cpu}


def _reference_model(g):
    """genlab's evaluator takes a GenerativeModel: a thin adapter that samples from the reference G."""
    import torch

    from genlab.models.base import GenerativeModel

    class Reference(GenerativeModel):
        registry_name = "reference-dcgan"

        def __init__(self, generator):
            super().__init__(None)
            self.generator = generator

        @torch.no_grad()
        def sample(self, n, labels=None):
            return ((self.generator(torch.randn(n, 100)) + 1) / 2).clamp(0, 1)

    return Reference(g)


def run_one(spec: dict) -> dict:
    import torch

    torch.set_num_threads(1)
    import genlab
    from genlab.io import save_image_grid
    from genlab.metrics import evaluate_model
    from genlab.runs.extractors import build_extractor

    run = Path(spec["run"])
    done = run / "result.json"
    if done.is_file():
        return json.loads(done.read_text())
    run.mkdir(parents=True, exist_ok=True)
    name, model_cfg, train_changes = parse_run(spec["name"])
    t0 = time.perf_counter()
    if name == "reference":
        g, info = train_reference(spec["seed"], spec["budget"])
        model = _reference_model(g)
    else:
        train = {**GENLAB_TRAIN, "seed": spec["seed"], "time_budget": spec["budget"]}
        phase_lr = {k.removeprefix("phase_lr_"): float(v) for k, v in train_changes.items()
                    if k.startswith("phase_lr_")}
        train.update({k: v for k, v in train_changes.items() if not k.startswith("phase_lr_")})
        if phase_lr:
            train["phase_lr"] = phase_lr
        model = genlab.train(name, out=run / "run", overwrite=True, model_config=model_cfg, data="mnist", train=train)
        last = [r for r in map(json.loads, (run / "run" / "metrics.jsonl").read_text().splitlines())
                if r.get("split") == "train"][-1]
        info = {"generator_steps": int(model.g_updates), "images": last["images_seen"], "train_cpu": last["cpu_time"]}
    wall = time.perf_counter() - t0
    model.eval()
    result = evaluate_model(model, "mnist", ["fid", "classes"], n=spec["n"], seed=0,
                            extractor=build_extractor("mnist", verbose=False))
    m = result["metrics"]
    row = {"run": spec["name"], "seed": spec["seed"], "budget": spec["budget"], "fd": m["fd"],
           "classes_covered": round(m["class_coverage"] * 10), "label_accuracy": m.get("label_accuracy"),
           **info, "epochs": info["images"] / 50000, "train_wall": wall, "eval_seconds": result["seconds"],
           "n_eval": spec["n"], "extractor": result["extractor"]["id"], "load_at_end": os.getloadavg()[0]}
    with torch.random.fork_rng():
        torch.manual_seed(0)
        labels = torch.arange(100) // 10 if model.num_classes else None
        save_image_grid(model.sample(100, labels=labels), run / "grid100.png", nrow=10)
    done.write_text(json.dumps(row, indent=1))
    return row


def run_all(args: argparse.Namespace) -> None:
    from genlab.runs.extractors import build_extractor

    build_extractor("mnist")  # train / cache the evaluation LeNet-5 once, before the workers start
    def folder(run: str) -> str:  # 'wgan-gp:n_critic=2,gan_betas=0/0.9' -> 'wgan-gp_n_critic=2_gan_betas=0-0.9'
        return run.replace(":", "_").replace(",", "_").replace("/", "-")

    todo = [{"name": r, "seed": s, "budget": args.budget, "n": args.n,
             "run": str(args.out / f"{args.budget:g}cpus" / folder(r) / f"seed{s}")}
            for s in args.seeds for r in args.runs]
    with ProcessPoolExecutor(max_workers=args.jobs, mp_context=get_context("spawn")) as pool:
        for row in pool.map(run_one, todo):
            acc = "" if row["label_accuracy"] is None else f" label acc {100 * row['label_accuracy']:.1f}%"
            print(f"{row['budget']:g} CPU-s {row['run']} seed {row['seed']}: FD {row['fd']:.2f} classes "
                  f"{row['classes_covered']}/10{acc} G steps {row['generator_steps']} epochs {row['epochs']:.2f} "
                  f"img/CPU-s {row['images'] / row['train_cpu']:.0f} (load {row['load_at_end']:.1f})", flush=True)


def report(args: argparse.Namespace) -> None:
    rows = [json.loads(p.read_text()) for p in sorted(args.out.glob("*/*/seed*/result.json"))]
    groups: dict[tuple[float, str], list[dict]] = {}
    for r in rows:
        groups.setdefault((r["budget"], r["run"]), []).append(r)
    print("| CPU-s | run | seeds | FD | classes | label acc. % | G steps | epochs | img / CPU-s | load |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for (budget, name), rs in sorted(groups.items()):
        print(f"| {budget:g} | {name} | {len(rs)} | {mean_std([r['fd'] for r in rs], '.2f')} "
              f"| {'/'.join(str(r['classes_covered']) for r in rs)} "
              f"| {mean_std([r['label_accuracy'] and 100 * r['label_accuracy'] for r in rs], '.1f')} "
              f"| {mean_std([r['generator_steps'] for r in rs], '.0f')} | {mean_std([r['epochs'] for r in rs], '.2f')} "
              f"| {mean_std([r['images'] / r['train_cpu'] for r in rs], '.0f')} "
              f"| {'/'.join(format(r['load_at_end'], '.1f') for r in rs)} |")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("command", choices=["run", "report"])
    p.add_argument("--out", type=Path, default=Path("runs/bench_gan_cpu"))
    p.add_argument("--runs", nargs="+", default=["reference", "dcgan"])
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--budget", type=float, default=300.0, help="training CPU-seconds per run")
    p.add_argument("--n", type=int, default=10000, help="generated (and real test) images per evaluation")
    p.add_argument("--jobs", type=int, default=2, help="runs side by side, one CPU thread each")
    args = p.parse_args(argv)
    if args.command == "report":
        report(args)
    else:
        run_all(args)


if __name__ == "__main__":
    sys.exit(main())
