"""Minibatch discrimination against the 2014 MLP GAN's mode collapse (issue 19).

    OMP_NUM_THREADS=1 python benchmarks/minibatch_discrimination.py run --steps 200 --seeds 0 1 2
    python benchmarks/minibatch_discrimination.py report

The setup is the collapse warning's example (docs/benchmarks.md, GAN section): ``genlab train gan
--dataset mnist --steps 200 --batch-size 64`` with the library defaults (MLP networks,
non-saturating loss, Adam 2e-4), bf16 autocast, one CPU thread, one run at a time. Each variant
adds only ``--minibatch-discrimination B,C``. Every run is evaluated with
:func:`genlab.metrics.evaluate_model` (2000 samples against 2000 test images, genlab's LeNet-5
features): classes covered (a class counts at >= 1% of the samples), the class-histogram KL
(generated || real) and FD. Results go to OUT/<steps>steps/<variant>/seed<N>/result.json.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from bench_common import cpu_seconds, mean_std

VARIANTS = {"baseline": {}, "mbd_100x5": {"minibatch_discrimination": [100, 5]},
            "mbd_16x4": {"minibatch_discrimination": [16, 4]}}
TRAIN = {"batch_size": 64, "precision": "bf16", "device": "cpu", "log_every": 0, "sample_every": 0,
         "eval_batches": 2, "num_samples": 100, "mode_check": "off"}


def run_one(out: Path, variant: str, seed: int, steps: int, n: int) -> dict:
    import torch

    torch.set_num_threads(1)
    import genlab
    from genlab.metrics import evaluate_model
    from genlab.runs.extractors import build_extractor

    run = out / f"{steps}steps" / variant / f"seed{seed}"
    if (run / "result.json").is_file():
        return json.loads((run / "result.json").read_text())
    cpu0, t0 = cpu_seconds(), time.perf_counter()
    model = genlab.train("gan", out=run, overwrite=True, model_config=VARIANTS[variant], data="mnist",
                         train={**TRAIN, "seed": seed, "steps": steps})
    cpu = cpu_seconds() - cpu0
    result = evaluate_model(model.eval(), "mnist", ["fid", "classes"], n=n,
                            extractor=build_extractor("mnist", verbose=False), seed=0)
    m = result["metrics"]
    row = {"variant": variant, "seed": seed, "steps": steps, "fd": m["fd"],
           "classes_covered": round(m["class_coverage"] * 10), "class_kl": m["class_kl"],
           "train_cpu_s": cpu, "wall_s": time.perf_counter() - t0}
    (run / "result.json").write_text(json.dumps(row, indent=1))
    return row


def report(out: Path) -> None:
    rows = [json.loads(p.read_text()) for p in sorted(out.glob("*steps/*/seed*/result.json"))]
    groups: dict[tuple[int, str], list[dict]] = {}
    for r in rows:
        groups.setdefault((r["steps"], r["variant"]), []).append(r)
    print("| steps | variant | seeds | classes covered (per seed) | class KL | FD | train CPU s / run |")
    print("|---|---|---|---|---|---|---|")
    for (steps, variant), rs in sorted(groups.items()):
        print(f"| {steps} | {variant} | {len(rs)} | {'/'.join(str(r['classes_covered']) for r in rs)} "
              f"| {mean_std([r['class_kl'] for r in rs], '.3f')} | {mean_std([r['fd'] for r in rs], '.1f')} "
              f"| {mean_std([r['train_cpu_s'] for r in rs], '.1f')} |")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("what", choices=["run", "report"])
    p.add_argument("--out", type=Path, default=Path("runs/bench_mbd"))
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--variants", nargs="+", default=list(VARIANTS))
    p.add_argument("--n", type=int, default=2000)
    args = p.parse_args(argv)
    if args.what == "report":
        report(args.out)
        return
    for seed in args.seeds:
        for v in args.variants:
            r = run_one(args.out, v, seed, args.steps, args.n)
            print(f"{args.steps} steps {v} seed {seed}: classes {r['classes_covered']}/10 KL {r['class_kl']:.3f} "
                  f"FD {r['fd']:.1f} ({r['train_cpu_s']:.1f} CPU s)", flush=True)


if __name__ == "__main__":
    sys.exit(main())
