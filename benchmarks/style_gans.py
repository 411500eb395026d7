"""dcgan vs progan vs stylegan at one CPU budget on `shapes` (issue 16), plus stylegan's truncation
curve, its style-mixing grid and progan's per-stage sample grids.

    OMP_NUM_THREADS=1 python benchmarks/style_gans.py --budget 150 --size 32 --n 1000 --out /tmp/style-bench

Every model trains with its library defaults except the widths named in ``MODEL`` (batch 32 or --batch, one
thread, --budget CPU seconds of training: ``budget_clock='cpu'``), then is evaluated with the
evaluation metrics (FD, KID, precision / recall, classes covered) on features of genlab's default
extractor for the dataset (for `shapes` a VGG-11, cached under $GENLAB_CACHE like every extractor), with
``--n`` generated images against as many test images. Writes OUT/results.json and PNGs into --img
(progan: the grids its run drew during training as each stage ended, ``samples/stages/``).

``--curve-every S`` also measures, every S CPU-seconds of training, FD / precision / recall / classes
on ``--curve-n`` images of the VALIDATION split (the same extractor; the EMA generator that samples
and, for progan / stylegan, the raw one), with the stage and alpha it was at: RUN/fd_curve.json and
the PNG ``style_gans_{tag}_{label}_fd_curve.png``. The measurements run between training rounds and
are not charged to the budget (the trainer counts the CPU time of its rounds only). With
``--keep-best`` the model state at the curve point of lowest validation FD is kept too (early stopping
by validation FD, the same rule for every model) and evaluated on the TEST images like the final one:
``results[key]["best_by_validation"]``.

``--extra-ema 0.995,0.999`` keeps, beside the model's own EMA generator, one more EMA copy of the trained
generator per decay (updated after every step by the callback, outside the budget's clock; the same
warm-up rule as the model's), scored at every curve point (``point["ema0.995"]``) and, at the end, on the
test images (``results[key]["extra_ema"]``): what a longer average would have given the same run.
"""
from __future__ import annotations

import argparse
import copy
import functools
import json
import os
import shutil
import sys
import time
from pathlib import Path

import torch
from bench_common import cpu_seconds

import genlab
from genlab.io import name_grid_rows, save_image_grid
from genlab.nn.ema import ema_decay_at, ema_update_
from genlab.runs import extractors
from genlab.runs.evaluate import evaluate_model
from genlab.training import Callback

MODELS = ["dcgan", "progan", "stylegan"]
MODEL = {"dcgan": {}, "progan": {"channel_max": 32}, "stylegan": {"channel_max": 32, "mapping_layers": 4}}
TRAIN = {"batch_size": 32, "device": "cpu", "log_every": 0, "sample_every": 0, "eval_batches": 2, "num_samples": 64,
         "budget_clock": "cpu", "mode_check": "off", "steps": 10 ** 7}
RECIPE = None  # the dataset's default recipe: what `genlab evaluate` uses (shapes: features.DATASET_RECIPES)
METRICS = ["fid", "kid", "prdc", "classes"]
PSI = [0.5, 0.7, 0.85, 1.0]


def load_line() -> str:
    return f"load {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"


class FDCurve(Callback):
    """FD (and precision / recall / classes) on validation images every ``every`` CPU-s of training."""

    def __init__(self, path: Path, every: float, data: dict, extractor, n: int, seed: int, keep_best: bool = False,
                 extra_ema: tuple[float, ...] = ()):
        self.path, self.every, self.data, self.extractor, self.n, self.seed = path, every, data, extractor, n, seed
        self.extra: dict[float, torch.nn.Module | None] = {d: None for d in extra_ema}
        self.next, self.points, self.stages = every, [], []
        self.last: tuple | None = None
        self.keep_best, self.best_state, self.best_point = keep_best, None, None

    def on_step_end(self, trainer, logs) -> None:
        for decay, average in self.extra.items():  # the extra EMA copies (not charged to the budget)
            if average is None:
                self.extra[decay] = copy.deepcopy(trainer.model.generator).requires_grad_(False)
            else:
                ema_update_(average, trainer.model.generator, ema_decay_at(decay, trainer.step))
        if "discriminator/resolution" in logs:  # progan: where each stage / phase began
            now = (logs["discriminator/resolution"], logs["discriminator/alpha"] >= 1.0)
            if now != self.last:
                self.last = now
                self.stages.append({"cpu_s": round(trainer.elapsed, 1), "step": trainer.step,
                                    "resolution": int(now[0]), "phase": "stable" if now[1] else "fade"})
        if trainer.elapsed >= self.next:
            while self.next <= trainer.elapsed:
                self.next += self.every
            self.measure(trainer, logs)

    def on_end(self, trainer) -> None:
        if not self.points or self.points[-1]["step"] != trainer.step:
            self.measure(trainer, {})

    def _metrics(self, model) -> dict:
        torch.manual_seed(self.seed)
        m = evaluate_model(model, self.data, ["fid", "prdc", "classes"], self.n, extractor=self.extractor,
                           split="validation", seed=self.seed)["metrics"]
        return {k: m[k] for k in ("fd", "precision", "recall", "coverage", "class_coverage", "class_kl") if k in m}

    @staticmethod
    def with_ema(model, average, fn):
        """fn(model) with ``average`` as the model's sampling (EMA) generator (None: the raw generator samples),
        then the model's own put back."""
        own = model.ema_generator
        model.ema_generator = average
        try:
            return fn(model)
        finally:
            model.ema_generator = own

    def measure(self, trainer, logs) -> None:
        model = trainer.model
        point = {"cpu_s": round(trainer.elapsed, 1), "step": trainer.step, "images": trainer.images}
        for key in ("discriminator/resolution", "discriminator/alpha", "discriminator/D(x)",
                    "discriminator/D(G(z))", "discriminator/r1"):
            if key in logs:
                point[key.split("/")[1]] = round(float(logs[key]), 4)
        point["ema"] = self._metrics(model)
        if getattr(model, "ema_generator", None) is not None:  # the raw generator: sample without the EMA copy
            point["raw"] = self.with_ema(model, None, self._metrics)
        for decay, average in self.extra.items():
            if average is not None:
                point[f"ema{decay}"] = self.with_ema(model, average, self._metrics)
        model.train()
        self.points.append(point)
        states = self.path.with_name(self.path.name.replace(".fd_curve.json", ".states"))
        states.mkdir(parents=True, exist_ok=True)  # every point's state: rescoring with another extractor
        torch.save(model.state_dict(), states / f"step{trainer.step:08d}.pt")
        if self.keep_best and (self.best_point is None or point["ema"]["fd"] < self.best_point["ema"]["fd"]):
            self.best_point, self.best_state = point, copy.deepcopy(model.state_dict())
        print("curve", json.dumps(point), file=sys.stderr, flush=True)
        self.path.write_text(json.dumps({"every_cpu_s": self.every, "n": self.n, "split": "validation",
                                         "points": self.points, "stages": self.stages}, indent=1))


def spent_budget(log: Path, budget: float) -> bool:
    """Whether the run logging to ``log`` trained its whole CPU budget (a run killed part-way has train
    records of its finished epochs, so their presence alone does not say it ended)."""
    if not log.is_file():
        return False
    train = [json.loads(x) for x in log.read_text().splitlines() if '"split": "train"' in x]
    return bool(train) and float(train[-1].get("cpu_time", 0.0)) >= budget


def plot_curve(curve_path: Path, png: Path, title: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    curve = json.loads(curve_path.read_text())
    pts = curve["points"]
    fig, ax = plt.subplots(figsize=(7, 3.5))
    x = [p["cpu_s"] for p in pts]
    ax.plot(x, [p["ema"]["fd"] for p in pts], "o-", label="FD, sampling generator (EMA where kept)")
    if all("raw" in p for p in pts):
        ax.plot(x, [p["raw"]["fd"] for p in pts], "s--", label="FD, raw generator")
    for key in sorted({k for p in pts for k in p if k.startswith("ema0")}):  # --extra-ema's averages
        ax.plot([p["cpu_s"] for p in pts if key in p], [p[key]["fd"] for p in pts if key in p], "^:",
                label=f"FD, EMA {key[3:]} (extra)")
    for st in curve["stages"]:
        ax.axvline(st["cpu_s"], color="grey", lw=0.6, ls=":" if st["phase"] == "fade" else "-")
        ax.text(st["cpu_s"], ax.get_ylim()[1], f"{st['resolution']}{'f' if st['phase'] == 'fade' else 's'}",
                fontsize=6, va="top")
    ax.set_xlabel("CPU-s of training")
    ax.set_ylabel(f"FD ({curve['n']} validation images)")
    ax.set_title(title, fontsize=8)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(png, dpi=90)
    plt.close(fig)


def plot_curves(curves: list[tuple[str, Path]], png: Path, title: str) -> None:
    """Several runs' EMA FD curves on one plot (e.g. ``python -c 'import style_gans; ...'`` after the runs)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7, 3.5))
    for label, path in curves:
        pts = json.loads(Path(path).read_text())["points"]
        ax.plot([p["cpu_s"] for p in pts], [p["ema"]["fd"] for p in pts], "o-", ms=3, label=label)
    ax.set_xlabel("CPU-s of training")
    ax.set_ylabel("FD (validation images, EMA generator)")
    ax.set_title(title, fontsize=8)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(png, dpi=90)
    plt.close(fig)


def rescore(out: Path, results: dict, data: dict, extractor, args) -> int:
    """Score every finished run of ``out`` with ``extractor``: its final state on the test images, and, where
    the curve saved states (RUN.states/), every saved state on ``--curve-n`` validation images, the lowest
    validation FD's state then on the test images (early stopping by this extractor's validation FD)."""
    results_path = out / "results.json"
    for key in [k for k in results if k != "extractor" and not k.endswith("/truncation")]:
        model = genlab.load(out / key)
        torch.manual_seed(args.seed)
        entry: dict = {"extractor": extractor.id, "load": load_line(),
                       "final": evaluate_model(model, data, METRICS, args.n, extractor=extractor)["metrics"]}
        states = sorted((out / f"{key}.states").glob("step*.pt"))
        curve = []
        for path in states:
            model.load_state_dict(torch.load(path, weights_only=True))
            torch.manual_seed(args.seed)
            m = evaluate_model(model, data, ["fid", "prdc", "classes"], args.curve_n, extractor=extractor,
                               split="validation", seed=args.seed)["metrics"]
            curve.append({"step": int(path.stem[4:]), "fd": m["fd"], "precision": m.get("precision"),
                          "recall": m.get("recall")})
            print(key, "validation", json.dumps(curve[-1]), file=sys.stderr, flush=True)
        if curve:
            best = min(curve, key=lambda p: p["fd"])
            model.load_state_dict(torch.load(out / f"{key}.states" / f"step{best['step']:08d}.pt", weights_only=True))
            torch.manual_seed(args.seed)
            entry["best_by_validation"] = {"step": best["step"], "validation_fd": best["fd"],
                                           "metrics": evaluate_model(model, data, METRICS, args.n,
                                                                     extractor=extractor)["metrics"]}
            entry["validation_curve"] = curve
            torch.manual_seed(1)
            save_image_grid(model.sample(36), Path(args.img) / f"style_gans_{key.replace('/', '_')}_rescored_best.png",
                            nrow=6)
        results[key].setdefault("rescored", {})[extractor.id] = entry
        results_path.write_text(json.dumps(results, indent=1))
        short = {k: round(v, 3) for k, v in entry["final"].items() if k in ("fd", "kid", "precision", "recall")}
        print(key, "rescored final", json.dumps(short), "best",
              json.dumps(entry.get("best_by_validation", {}).get("metrics", {}).get("fd")), file=sys.stderr, flush=True)
    return 0


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--budget", type=float, default=60.0, help="CPU seconds of training per model")
    ap.add_argument("--size", type=int, default=32)
    ap.add_argument("--dataset", default="shapes")
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--precision", default="fp32")
    ap.add_argument("--batch", type=int, default=TRAIN["batch_size"], help="the trainer's batch size for every model")
    ap.add_argument("--channels-last", action="store_true",
                    help="train every model with channels-last weights and batches (the trainer's channels_last)")
    ap.add_argument("--models", nargs="+", default=MODELS)
    ap.add_argument("--channel-max", type=int, default=None,
                    help="progan/stylegan width instead of MODEL's (the run key and image names get -cmN)")
    ap.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                    help="a progan/stylegan config field for this run (a JSON value, e.g. r1_gamma=0.05 or "
                         "fade_images=12000; overrides MODEL and progan's scaled schedule)")
    ap.add_argument("--label", default="", help="added to the run key and image names, e.g. -g005")
    ap.add_argument("--out", default="/tmp/style-bench")
    ap.add_argument("--img", default="docs/img")
    ap.add_argument("--img-tag", default="", help="added after the dataset in the PNG names, e.g. -600s")
    ap.add_argument("--curve-every", type=float, default=0.0,
                    help="measure FD on validation images every this many CPU-s of training (0 = off)")
    ap.add_argument("--curve-n", type=int, default=500, help="validation images per curve point")
    ap.add_argument("--keep-best", action="store_true",
                    help="with --curve-every: also evaluate (on the test images) the state of lowest validation FD")
    ap.add_argument("--extra-ema", default="",
                    help="with --curve-every: comma-separated EMA decays to track and score beside the model's own "
                         "(any model with a generator and an EMA slot: dcgan, progan, stylegan), e.g. 0.995,0.999")
    ap.add_argument("--schedule", default="constant",
                    help="the trainer's lr schedule for every model (e.g. 'decay': constant for the first half of the "
                         "budget, then linearly to zero; a budget-ended run anneals over its budget)")
    ap.add_argument("--rescore", action="store_true",
                    help="train nothing: score OUT's finished runs with the dataset's current extractor (the final "
                         "state, and the state of lowest validation FD among those the curve saved), into "
                         "results[key]['rescored'][extractor id]")
    args = ap.parse_args()
    torch.set_num_threads(1)
    out, img = Path(args.out), Path(args.img)
    img.mkdir(parents=True, exist_ok=True)
    data = {"dataset": args.dataset, "image_size": args.size, **({"channels": 3} if args.dataset == "shapes" else {})}
    results_path = out / "results.json"
    results = json.loads(results_path.read_text()) if results_path.is_file() else {}
    t0 = cpu_seconds()
    extractor = extractors.build_extractor(data, RECIPE)
    if "extractor" not in results:
        results["extractor"] = {"id": extractor.id, "test_accuracy": extractor.info.get("test_accuracy"),
                                "recipe": extractor.info.get("recipe"), "cpu_s": round(cpu_seconds() - t0),
                                "load": load_line()}
    print(f"extractor: {json.dumps(results['extractor'])}", file=sys.stderr, flush=True)
    if args.rescore:
        return rescore(out, results, data, extractor, args)
    overrides = {k: json.loads(v) for k, v in (item.split("=", 1) for item in args.set)}
    tag = f"{args.dataset}{args.size}"
    itag = f"{tag}{args.img_tag}"
    for name in args.models:
        widths = {} if args.channel_max is None or name == "dcgan" else {"channel_max": args.channel_max}
        label = (f"{name}-cm{args.channel_max}" if widths else name) + args.label
        if name != "dcgan":
            widths = {**widths, **overrides}
        key = f"{tag}/{label}/seed{args.seed}"
        run = out / key
        if key not in results or "fd" not in results[key]["metrics"]:
            fading = {}
            if name == "progan":  # 40 images per CPU-s each (12,000 at 300 CPU-s): at 32 px about a quarter
                n = max(400, int(40 * args.budget))  # of the budget reaches 32 px, the rest trains there
                fading = {"fade_images": n, "stable_images": n}
            start = time.time()
            log = run / "metrics.jsonl"
            curve = None
            if not spent_budget(log, args.budget):  # a finished run is only re-evaluated; a killed one is retrained
                curve = (FDCurve(out / f"{key}.fd_curve.json", args.curve_every, data, extractor, args.curve_n,
                                 args.seed, args.keep_best,
                                 tuple(float(d) for d in args.extra_ema.split(",") if d))
                         if args.curve_every > 0 else None)
                genlab.train(name, out=run, overwrite=True, data=data,
                             model_config={**MODEL[name], **fading, **widths},
                             train={**TRAIN, "batch_size": args.batch, "time_budget": args.budget, "seed": args.seed,
                                    "precision": args.precision, "schedule": args.schedule,
                                    "channels_last": args.channels_last},
                             callbacks=[curve] if curve is not None else ())
            records = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
            train = [r for r in records if r.get("split") == "train"][-1]
            load = load_line()
            model = genlab.load(run)
            torch.manual_seed(args.seed)
            metrics = evaluate_model(model, data, METRICS, args.n, extractor=extractor)
            results[key] = {"model": name, "model_config": {**MODEL[name], **fading, **widths},
                            "steps": train["step"],
                            "images_per_s": train.get("images_per_s"),
                            "wall_s": results.get(key, {}).get("wall_s", round(time.time() - start)),
                            "load": results.get(key, {}).get("load", load), "precision": args.precision,
                            "channels_last": args.channels_last, "batch_size": args.batch,
                            "metrics": metrics["metrics"],
                            "stages": [r for r in records if r.get("split") == "stage"]}
            for decay, average in (curve.extra.items() if curve is not None else ()):
                if average is not None:  # the same final run sampled from a longer (or shorter) average
                    torch.manual_seed(args.seed)
                    m = FDCurve.with_ema(model, average, lambda mod: evaluate_model(
                        mod, data, METRICS, args.n, extractor=extractor)["metrics"])
                    results[key].setdefault("extra_ema", {})[str(decay)] = m
                    print(key, f"ema {decay}", json.dumps(m), file=sys.stderr, flush=True)
                    torch.manual_seed(1)
                    grid = FDCurve.with_ema(model, average, lambda mod: mod.sample(36))
                    save_image_grid(grid, img / f"style_gans_{itag}_{label}_ema{decay}.png", nrow=6)
            if curve is not None and curve.best_state is not None:  # early stopping by validation FD
                model.load_state_dict(curve.best_state)
                torch.manual_seed(args.seed)
                best = evaluate_model(model, data, METRICS, args.n, extractor=extractor)
                results[key]["best_by_validation"] = {"cpu_s": curve.best_point["cpu_s"],
                                                      "step": curve.best_point["step"],
                                                      "validation_fd": curve.best_point["ema"]["fd"],
                                                      "metrics": best["metrics"]}
                print(key, "best by validation", json.dumps(results[key]["best_by_validation"]), file=sys.stderr,
                      flush=True)
                torch.manual_seed(1)
                save_image_grid(model.sample(36), img / f"style_gans_{itag}_{label}_best.png", nrow=6)
            out.mkdir(parents=True, exist_ok=True)
            results_path.write_text(json.dumps(results, indent=1))
        print(key, json.dumps(results[key]["metrics"]), file=sys.stderr, flush=True)
        curve_json = out / f"{key}.fd_curve.json"
        if curve_json.is_file():
            plot_curve(curve_json, img / f"style_gans_{itag}_{label}_fd_curve.png", f"{label}, {key}")
        model = genlab.load(run)
        torch.manual_seed(1)
        save_image_grid(model.sample(36), img / f"style_gans_{itag}_{label}.png", nrow=6)
        if name == "progan":  # the grids the run drew as each stage ended, and each stage of the final model
            for grid in sorted((run / "samples" / "stages").glob("*.png")):
                shutil.copyfile(grid, img / f"style_gans_{itag}_{label}_train_{grid.name}")
            k = int(model.stage)
            for s in range(k + 1):
                torch.manual_seed(1)
                save_image_grid(model.sample(16, stage=s), img / f"style_gans_{itag}_{label}_stage{s}.png", nrow=8)
        if name == "stylegan":
            torch.manual_seed(2)
            grid, titles = model.style_mix(rows=2, cols=5)
            mix = img / f"style_gans_{itag}{label[len(name):]}_style_mix.png"
            save_image_grid(grid, mix, nrow=6)
            name_grid_rows(mix, titles)
            curve_key = f"{key}/truncation"
            if curve_key not in results or "fd" not in results[curve_key]["1.0"]:
                curve = {}
                for psi in PSI:
                    torch.manual_seed(args.seed)
                    truncated = genlab.load(run)  # its sample() drawn at psi (the metrics call sample(n, labels))
                    truncated.sample = functools.partial(type(truncated).sample, truncated, truncation=psi)
                    m = evaluate_model(truncated, data, ["fid", "prdc"], args.n, extractor=extractor)
                    curve[str(psi)] = m["metrics"]
                    print(psi, json.dumps(curve[str(psi)]), file=sys.stderr, flush=True)
                results[curve_key] = curve
                results_path.write_text(json.dumps(results, indent=1))
    print(f"total CPU {cpu_seconds():.0f} s; {load_line()}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
