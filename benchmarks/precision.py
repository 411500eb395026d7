"""fp32 vs bf16 autocast training speed per model family on this CPU: the measurements behind
``--precision auto`` (genlab/precision.py).

    OMP_NUM_THREADS=1 python benchmarks/precision.py [--models vae dcgan ...] [--steps 10 40]

For every model and precision (alternated, so a change of machine load hits both), genlab trains
the model's defaults on MNIST for ``--steps`` S1 and S2 rounds in memory; the difference of the
two runs' process CPU time divided by S2 - S1 is the steady-state CPU time of one round (data
loading, model building and validation cancel out). Reported: training images (every batch a
round draws, e.g. 5 critic + 1 generator batch for wgan-gp) per CPU-second and
the bf16 / fp32 ratio, plus what ``--precision auto`` chooses here and why.

To see what a CPU without native bf16 does on a machine that has it, run with
``ONEDNN_MAX_CPU_ISA=AVX2 ATEN_CPU_CAPABILITY=avx2`` (oneDNN and ATen then use AVX2 kernels, as
on an AMD Zen 3 or an Intel laptop).
"""
from __future__ import annotations

import argparse
import json
import os

from speed import genlab_round_seconds  # the same difference-of-two-runs timing (benchmarks/ is on sys.path)

from genlab import registry
from genlab.precision import cpu_has_native_bf16, resolve_precision

MODELS = {  # name -> (registry name, model config, batch size)
    "vae": ("vae", {}, 128),
    "vae-mlp": ("vae", {"architecture": "mlp"}, 128),
    "conv-ae": ("conv-ae", {}, 128),
    "gan": ("gan", {}, 64),
    "dcgan": ("dcgan", {}, 64),
    "wgan-gp": ("wgan-gp", {}, 64),
    "ddpm": ("ddpm", {}, 64),
}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    p.add_argument("--steps", nargs=2, type=int, default=[5, 25], metavar=("S1", "S2"))
    p.add_argument("--out", help="also write the rows as JSON here")
    args = p.parse_args()
    native, why = cpu_has_native_bf16()
    rows = []
    genlab_round_seconds("vae", 128, "fp32", (1, 2))  # warm-up: the MNIST cache, imports, first allocations
    for key in args.models:
        name, model_config, batch = MODELS[key]
        per_round = {}
        for precision in ("fp32", "bf16"):
            s1, s2 = args.steps
            if key == "ddpm":
                s1, s2 = max(1, s1 // 5), max(2, s2 // 5)
            per_round[precision] = genlab_round_seconds(name, batch, precision, (s1, s2), model_config=model_config)
        fields = {"data_shape": [1, 28, 28], **({"num_classes": 10} if name in ("cgan", "cvae", "cddpm") else {})}
        net = registry.build(name, {**model_config, **fields})
        batch = batch * sum(p.repeats for p in net.phases() if p.fresh_batch)  # real images per round
        rows.append({"model": key, "batch": batch,
                     "fp32_img_per_cpu_s": batch / per_round["fp32"], "bf16_img_per_cpu_s": batch / per_round["bf16"],
                     "bf16_over_fp32": per_round["fp32"] / per_round["bf16"],
                     "auto": resolve_precision("auto", "cpu").name})
        print(json.dumps(rows[-1]), flush=True)
    print(f"\nCPU: native bf16 {native} ({why}); OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}")
    print("| model | images per round | fp32 img/CPU-s | bf16 img/CPU-s | bf16 / fp32 | auto picks |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['model']} | {r['batch']} | {r['fp32_img_per_cpu_s']:.0f} | {r['bf16_img_per_cpu_s']:.0f} | "
              f"{r['bf16_over_fp32']:.2f}x | {r['auto']} |")
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"native_bf16": native, "why": why, "rows": rows}, f, indent=2)


if __name__ == "__main__":
    main()
