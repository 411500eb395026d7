"""GAN family benchmark on MNIST: sample quality after a fixed CPU-time budget and a fixed number of epochs.

    python benchmarks/gans.py headline --budget 300 --seeds 0 1 2 --jobs 2
    python benchmarks/gans.py epochs --epochs 1 --seeds 0 --jobs 2
    python benchmarks/gans.py stabilizers --steps 600 --seeds 0 1 --jobs 2
    python benchmarks/gans.py report            # markdown tables from every finished run

Every run trains one registered model with its library defaults (bf16, batch 64, one CPU thread
per run, ``--jobs`` runs side by side), then evaluates it with the evaluation metrics
(:func:`genlab.metrics.evaluate_model`: Fréchet distance, KID, precision / recall on genlab's
LeNet-5 MNIST features, class coverage and, for cgan, the classifier's accuracy on the requested
labels) with ``--n`` generated images against as many test images. The time budget counts the CPU
time of training only (``TrainConfig.time_budget`` with ``budget_clock='cpu'``: data + compute, not
validation or sample grids), so it means the same on a quiet and on a shared machine.

Results go to OUT/<table>/<variant>/seed<N>/result.json (a finished run is not retrained) and the
report prints mean +- standard deviation over seeds. A run whose generated class histogram covers
fewer than ``--collapse-classes`` classes is flagged as collapsed.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

from bench_common import cpu_seconds, mean_std

MODELS = ["gan", "dcgan", "cgan", "wgan", "wgan-gp"]
# budgets count the CPU time of the training loop (one thread per run), so they hold on a shared machine;
# the trainer's own mode check is off because every run is evaluated with the class metrics anyway
TRAIN = {"batch_size": 64, "precision": "bf16", "device": "cpu", "log_every": 0, "sample_every": 0, "eval_batches": 4,
         "num_samples": 100, "budget_clock": "cpu", "mode_check": "off"}
# one model (dcgan), one stabilizer (or loss + stabilizer) at a time, same budget and seeds
STABILIZERS = {
    "baseline": {},
    "spectral_norm": {"spectral_norm": True, "d_norm": "none"},
    "hinge+spectral_norm": {"loss": "hinge", "spectral_norm": True, "d_norm": "none"},
    "minibatch_std": {"minibatch_std": True},
    "instance_noise_0.1": {"instance_noise": 0.1, "instance_noise_steps": 1500},
    "label_smoothing_0.1": {"label_smoothing": 0.1},
    "ema_0.999": {"ema_decay": 0.999},
}
METRICS = ["fid", "kid", "prdc", "classes"]


def _train_records(run: Path) -> list[dict]:
    lines = (run / "metrics.jsonl").read_text().splitlines()
    return [r for r in map(json.loads, filter(str.strip, lines)) if r.get("split") == "train"]


def run_one(spec: dict) -> dict:
    """Train one (model, variant, seed), evaluate it, write and return its result row."""
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
    train = {**TRAIN, "seed": spec["seed"], **spec["train"]}
    t0, cpu0 = time.perf_counter(), cpu_seconds()
    model = genlab.train(spec["model"], out=run, overwrite=True, model_config=spec["model_config"], data="mnist",
                         train=train)
    wall, cpu = time.perf_counter() - t0, cpu_seconds() - cpu0
    records = _train_records(run)
    images = sum(r["images_per_s"] * r["epoch_time"] for r in records)
    train_time = sum(r["epoch_time"] for r in records)
    model.eval()
    result = evaluate_model(model, "mnist", METRICS, n=spec["n"], extractor=build_extractor("mnist", verbose=False),
                            kid_subsets=50, seed=0)
    m = result["metrics"]
    row = {
        "table": spec["table"], "model": spec["model"], "variant": spec["variant"], "seed": spec["seed"],
        "model_config": spec["model_config"], "train": train,
        "fd": m["fd"], "kid": m["kid"], "precision": m["precision"], "recall": m["recall"],
        "classes_covered": round(m["class_coverage"] * 10), "class_kl": m["class_kl"],
        "label_accuracy": m.get("label_accuracy"),
        "generator_steps": int(model.g_updates), "discriminator_steps": int(model.d_updates),
        "epochs": images / 50000, "train_seconds": train_time, "cpu_seconds": cpu,
        "images_per_s": images / max(train_time, 1e-9), "wall_seconds": wall, "eval_seconds": result["seconds"],
        "n_eval": spec["n"], "extractor": result["extractor"]["id"],
    }
    with torch.random.fork_rng():
        torch.manual_seed(0)
        save_image_grid(model.sample(100), run / "grid100.png", nrow=10)  # cgan: one class per row
    done.write_text(json.dumps(row, indent=1))
    return row


def specs(args: argparse.Namespace) -> list[dict]:
    out: list[dict] = []
    if args.table == "headline":
        grid = [(m, args.variant, args.model_config) for m in args.models]
        train = {"time_budget": args.budget, "epochs": 1000}
    elif args.table == "epochs":
        grid = [(m, args.variant, args.model_config) for m in args.models]
        train = {"epochs": args.epochs}
    else:
        grid = [(args.stabilizer_model, v, cfg) for v, cfg in STABILIZERS.items()
                if not args.variants or v in args.variants]
        train = {"steps": args.steps} if args.steps else {"time_budget": args.budget, "epochs": 1000}
    for seed in args.seeds:  # seed-major: a stopped table still has whole seeds
        for model, variant, cfg in grid:
            if args.table == "epochs":
                tag = f"epochs-{args.epochs}"
            elif args.table == "stabilizers" and args.steps:
                tag = f"stabilizers-{args.steps}steps"
            else:
                tag = f"{args.table}-{args.budget:g}cpus"
            out.append({"table": tag, "model": model, "variant": variant, "seed": seed, "model_config": cfg,
                        "train": train, "n": args.n, "run": str(args.out / tag / f"{model}-{variant}" / f"seed{seed}")})
    return out


def run_table(args: argparse.Namespace) -> None:
    from genlab.runs.extractors import build_extractor

    build_extractor("mnist")  # train / cache the LeNet-5 once, before the workers start
    todo = specs(args)
    with ProcessPoolExecutor(max_workers=args.jobs, mp_context=get_context("spawn")) as pool:
        for row in pool.map(run_one, todo):
            flag = "  COLLAPSE WARNING" if row["classes_covered"] < args.collapse_classes else ""
            print(f"{row['table']} {row['model']} {row['variant']} seed {row['seed']}: FD {row['fd']:.2f} "
                  f"KID {row['kid']:.4f} P {row['precision']:.3f} R {row['recall']:.3f} "
                  f"classes {row['classes_covered']}/10 {row['images_per_s']:.0f} img/s{flag}", flush=True)


def report(args: argparse.Namespace) -> None:
    rows = [json.loads(p.read_text()) for p in sorted(args.out.glob("*/*/seed*/result.json"))]
    groups: dict[tuple[str, str, str], list[dict]] = {}
    for r in rows:
        groups.setdefault((r["table"], r["model"], r["variant"]), []).append(r)
    print("| table | model | variant | seeds | FD | KID | precision | recall | classes covered | cgan label acc. % "
          "| G steps | epochs | img / CPU-s | CPU s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for (table, model, variant), rs in groups.items():
        cov = [r["classes_covered"] for r in rs]
        print(f"| {table} | {model} | {variant} | {len(rs)} | {mean_std([r['fd'] for r in rs], '.2f')} "
              f"| {mean_std([r['kid'] for r in rs], '.1f')} | {mean_std([r['precision'] for r in rs], '.3f')} "
              f"| {mean_std([r['recall'] for r in rs], '.3f')} | {'/'.join(map(str, cov))} "
              f"| {mean_std([r['label_accuracy'] and 100 * r['label_accuracy'] for r in rs], '.1f')} "
              f"| {mean_std([r['generator_steps'] for r in rs], '.0f')} | {mean_std([r['epochs'] for r in rs], '.2f')} "
              f"| {mean_std([r['epochs'] * 50000 / r['cpu_seconds'] for r in rs], '.0f')} "
              f"| {mean_std([r.get('cpu_seconds') for r in rs], '.0f')} |")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("table", choices=["headline", "epochs", "stabilizers", "report"])
    p.add_argument("--out", type=Path, default=Path("runs/bench_gans"))
    p.add_argument("--models", nargs="+", default=MODELS)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--budget", type=float, default=300.0, help="training CPU seconds per run (headline, stabilizers)")
    p.add_argument("--steps", type=int, help="stabilizers: a fixed number of generator steps instead of the budget")
    p.add_argument("--epochs", type=int, default=1, help="epochs per run (epochs table)")
    p.add_argument("--n", type=int, default=5000, help="generated (and real test) images per evaluation")
    p.add_argument("--jobs", type=int, default=2, help="runs side by side, one CPU thread each")
    p.add_argument("--model-config", type=json.loads, default={},
                   help="JSON of model config changes for the headline / epochs tables (name them with --variant)")
    p.add_argument("--variant", default="default", help="name of the --model-config variant")
    p.add_argument("--stabilizer-model", default="dcgan")
    p.add_argument("--variants", nargs="*", help="stabilizer variants to run (default: all)")
    p.add_argument("--collapse-classes", type=int, default=8,
                   help="flag runs whose samples cover fewer classes than this")
    args = p.parse_args(argv)
    if args.table == "report":
        report(args)
    else:
        run_table(args)


if __name__ == "__main__":
    sys.exit(main())
