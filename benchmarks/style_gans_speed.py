"""Training speed of dcgan, progan and stylegan at one resolution: CPU-seconds per step (every phase once),
in fp32 and bf16 autocast, with contiguous and channels-last weights and batches (issue 16).

Each configuration trains through the library's trainer (``genlab.train``, batch 32, one thread unless
``OMP_NUM_THREADS`` says otherwise) for ``--warmup`` + ``--steps`` steps; the figure is the process CPU time of
the last ``--steps`` steps over their number (setup, data loading and the first steps excluded). progan is
measured at its last resolution (its fade and stable phases shortened to 100 images, so it gets there within
the warm-up; the script stops if it is not).

    OMP_NUM_THREADS=1 python benchmarks/style_gans_speed.py --size 64 --out /tmp/style-speed.json
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

import torch

import genlab
from genlab.precision import resolve_precision
from genlab.training import Callback

CONFIGS = {
    "dcgan": ("dcgan", {}),
    "progan (wgan-gp)": ("progan", {"channel_max": 16, "fade_images": 100, "stable_images": 100}),
    "progan (non-saturating)": ("progan", {"channel_max": 16, "fade_images": 100, "stable_images": 100,
                                           "loss": "non_saturating"}),
    "stylegan": ("stylegan", {"channel_max": 16, "mapping_layers": 4}),
}


class StepClock(Callback):
    """Process CPU time from the end of step ``warmup`` to the end of the run."""

    def __init__(self, warmup: int):
        self.warmup, self.start, self.steps, self.seconds = warmup, None, 0, 0.0
        self.resolution: int | None = None  # a growing model's output resolution when timing starts

    def on_step_end(self, trainer, logs) -> None:
        if trainer.step == self.warmup:
            self.start = time.process_time()
            if hasattr(trainer.model, "current_stage"):
                self.resolution = trainer.model.stage_resolution(trainer.model.current_stage()[0])
        elif self.start is not None:
            self.steps = trainer.step - self.warmup
            self.seconds = time.process_time() - self.start


def measure(model: str, config: dict, size: int, precision: str, channels_last: bool, warmup: int, steps: int,
            batch: int) -> dict:
    data = {"dataset": "shapes", "image_size": size, "channels": 3}
    clock = StepClock(warmup)
    with tempfile.TemporaryDirectory() as tmp:
        genlab.train(model, out=f"{tmp}/run", data=data, model_config=config,
                     train={"batch_size": batch, "device": "cpu", "log_every": 0, "sample_every": 0,
                            "eval_batches": 1, "num_samples": 16, "mode_check": "off", "precision": precision,
                            "channels_last": channels_last, "steps": warmup + steps},
                     callbacks=[clock])
    if clock.resolution is not None and clock.resolution != size:
        raise SystemExit(f"{model}: timing started at {clock.resolution} px, not {size} px; raise --warmup")
    per_step = clock.seconds / max(clock.steps, 1)
    return {"cpu_s_per_step": round(per_step, 4), "images_per_cpu_s": round(batch / per_step, 1),
            "steps": clock.steps}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--warmup", type=int, default=40)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--models", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    ap.add_argument("--precisions", nargs="+", default=["fp32", "bf16"])
    ap.add_argument("--out", default=None, help="also write the results here (JSON)")
    args = ap.parse_args()
    if "OMP_NUM_THREADS" not in os.environ:
        torch.set_num_threads(1)
    native = resolve_precision("auto", torch.device("cpu"))
    rows = []
    for label in args.models:
        model, config = CONFIGS[label]
        for precision in args.precisions:
            for channels_last in (False, True):
                row = {"model": label, "config": config, "precision": precision, "channels_last": channels_last,
                       **measure(model, config, args.size, precision, channels_last, args.warmup, args.steps,
                                 args.batch)}
                rows.append(row)
                print(json.dumps(row), flush=True)
    result = {"size": args.size, "batch": args.batch, "threads": torch.get_num_threads(),
              "auto_precision": f"{native.name} ({native.reason})", "load": os.getloadavg()[0],
              "cpus": os.cpu_count(), "rows": rows}
    print(f"auto precision here: {result['auto_precision']}; load {result['load']:.1f} on {result['cpus']} cores",
          file=sys.stderr)
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
