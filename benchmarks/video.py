"""Clips and series: video-vae, video-gan and video-ddpm on Moving MNIST at one CPU budget, frame
prediction against copy-last-frame, and the sequence VAE against a block bootstrap on real series.

    OMP_NUM_THREADS=1 python benchmarks/video.py clips [--budget 200] [--size 32] [--frames 16]
    OMP_NUM_THREADS=1 python benchmarks/video.py series [--budget 60]

``clips`` trains each clip model on ``--dataset`` (``moving-mnist-1`` by default: one digit; 2000
training clips, --size px, --frames frames) for the same process-CPU budget (``--budget-clock
cpu``), batch --batch-size, --precision (fp32 by default), then on --n test clips and as many
samples measures:

* frame FD: the Frechet distance of frame features, per frame index, averaged over frames; the
  extractor is genlab's LeNet-5 recipe trained on the training clips' frames (an ``npz:`` dataset of
  frames labelled with the digit's class), cached and recorded with its id like every extractor;
* clip FD: the Frechet distance of the features of the library's clip extractor (``classifier
  --arch clip3d``, ``metrics.features.CLIP_RECIPE``; what ``genlab evaluate`` uses on a clip run),
  with its accuracy on the test clips (class and direction separately on moving-mnist-1);
* a reference row: validation clips against test clips (real against real, the floor of each FD);
* temporal consistency: mean |x_{t+1} - x_t| of generated and of real clips, and their ratio;
* speed: the mean distance (px per frame) the intensity centroid of a frame moves (blur does not
  lower it, where it lowers the frame-to-frame change);
* identity consistency: the share of a clip's frames that the frame extractor (LeNet-5) reads as the
  clip's most common class (a digit that changes identity over time scores below real clips);
* frame prediction (video-vae, video-ddpm): the first T/2 test frames given, MSE and SSIM of the
  other T/2 against the truth, beside copy-last-frame.

``series`` trains recurrent-vae on two statsmodels series (sunspots, El Nino; windows of 24
steps, stride 1, split in time order 80/10/10 and standardized on the training part) for the same
CPU budget each, and compares its samples with a moving-block bootstrap of the training series
(blocks of 6): discriminative score (held-out accuracy of an MLP telling the training windows from
generated ones; 0.5 = indistinguishable) and predictive score (one-step MAE on the test windows of
a ridge predictor trained on generated windows; the same trained on the real training windows for
reference); autocorrelation / spectrum plots go to docs/img/.

``probe`` trains one clip model (``--model``, video-gan by default) with the script's ``MODELS`` settings
plus ``--set '{"option": value}'`` (and ``--train '{...}'`` for the train config) for --budget CPU
seconds (100 by default, at --frames 8: the probes of docs/benchmarks.md, issue 18), then measures on
--n test clips and as many samples: frame FD, pooled frame FD (all frames at once), clip FD, change
ratio, speed, identity, std over clips, and for video-gan the codes per frame (content and motion
norms, the frames' mean intensity, the std over clips when only the content or only the motion noise
varies). One JSON line per probe is appended to OUT/probes.jsonl and its samples (8 clips, one per
row) go to OUT/img/NAME.png (look at them: a low FD can be gray squares):

    OMP_NUM_THREADS=1 python benchmarks/video.py probe --name p1 --set '{"motion_norm": "layer"}' --out runs/probe

Results print as markdown and go to OUT/<command>.json; GIFs and plots to docs/img/.
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
import torch
from bench_common import cpu_seconds

import genlab
from genlab.apps.clips import save_clips
from genlab.config import DataConfig
from genlab.data import load_splits
from genlab.data.mnist import cache_dir
from genlab.metrics.features import ExtractorRecipe
from genlab.metrics.fid import frechet_distance_of_features
from genlab.metrics.series import (
    block_bootstrap,
    discriminative_score,
    predictive_score,
    save_comparison_plot,
)
from genlab.metrics.video import (
    centroid_speed,
    frame_fd,
    identity_consistency,
    prediction_scores,
    temporal_consistency,
)
from genlab.runs.extractors import build_extractor

IMG = Path(__file__).resolve().parents[1] / "docs" / "img"
MODELS = {
    "video-vae": {"latent": "per-frame", "latent_dim": 16, "static_dim": 16, "conv_widths": [32, 64],
                  "frame_features": 128, "hidden_size": 128},
    "video-gan": {"content_dim": 32, "motion_dim": 16, "g_widths": [32, 64], "d_widths": [32, 64],
                  "v_widths": [32, 64], "output": "tanh", "image_norm": "batch", "image_batch": 64,
                  "motion_init": "noise", "gan_lr": 4e-4},
    "video-ddpm": {"width": 8, "width_mults": [1, 2], "prediction": "x0", "diffusion_steps": 200,
                   "sample_steps": 25},
}


def load() -> str:
    return " ".join(os.getloadavg().__repr__().strip("()").split(", ")[:1])


def train_or_reuse(run: Path, name: str, model_cfg: dict, data: dict, train: dict):
    if (run / "config.json").is_file() and (run / "model.safetensors").exists():
        return genlab.load(run)
    return genlab.train(name, out=run, model_config=model_cfg, data=data, train=train, overwrite=True)


def trained_steps(run: Path) -> int | None:
    """The step of the run's last checkpoint (checkpoints/LATEST names 'step-N')."""
    try:
        return int((run / "checkpoints" / "LATEST").read_text().strip().rsplit("-", 1)[-1])
    except (OSError, ValueError):
        return None


def frame_extractor(dataset: str, splits, size: int, frames: int):
    """LeNet-5 on every frame of the training clips, labelled with the (first) digit's class."""
    path = cache_dir() / f"{dataset}-frames-{size}px-{frames}f.npz"
    if not path.is_file():
        x = splits.train.x[:, :, 0].reshape(-1, size, size).numpy()  # every frame of every training clip
        y = splits.train.y.numpy() // (4 if dataset == "moving-mnist-1" else 1)  # moving-mnist-1: 4 * class + quadrant
        np.savez(path, x=x, y=np.repeat(y, frames))
    return build_extractor(f"npz:{path}", ExtractorRecipe(arch="lenet5", steps=800))


def bench_clips(args: argparse.Namespace) -> dict:
    data = {"dataset": args.dataset, "image_size": args.size, "clip_length": args.frames}
    splits = load_splits(DataConfig(**data))
    start = cpu_seconds()
    extractor = frame_extractor(args.dataset, splits, args.size, args.frames)
    clip_extractor = build_extractor(data)  # the library's clip extractor (features.CLIP_RECIPE), as `evaluate` uses
    print(f"extractors: {extractor.id} (accuracy {extractor.info.get('test_accuracy')}), {clip_extractor.id} "
          f"(accuracy {clip_extractor.info.get('test_accuracy')}) ({cpu_seconds() - start:.0f} CPU s)")
    real = splits.test.images(torch.arange(min(args.n, len(splits.test))))

    def feats(images: torch.Tensor) -> torch.Tensor:
        return extractor(images)[0]

    def logits(images: torch.Tensor) -> torch.Tensor:
        return extractor(images)[1]

    real_clip_feats = clip_extractor(real)[0]
    held_out = splits.validation.images(torch.arange(min(args.n, len(splits.validation))))  # real vs real: the floor
    reference = {"frame_fd": frame_fd(feats, real, held_out),
                 "clip_fd": frechet_distance_of_features(real_clip_feats, clip_extractor(held_out)[0]),
                 **temporal_consistency(real, held_out), "identity": identity_consistency(logits, held_out),
                 "identity_real": identity_consistency(logits, real)}
    print(f"validation clips against test clips: {reference}")
    clip_accuracy = None
    if args.dataset == "moving-mnist-1":  # labels 4 * class + direction quadrant: the two parts' accuracies
        test_x, test_y = splits.test.images(torch.arange(len(splits.test))), splits.test.y
        pred = clip_extractor(test_x)[1].argmax(1)
        clip_accuracy = {"joint": float((pred == test_y).float().mean()),
                         "class": float((pred // 4 == test_y // 4).float().mean()),
                         "direction": float((pred % 4 == test_y % 4).float().mean())}
        print(f"clip extractor test accuracy: {clip_accuracy}")
    train = {"epochs": 1000, "batch_size": args.batch_size, "time_budget": args.budget, "budget_clock": "cpu",
             "precision": args.precision, "sample_every": 0, "log_every": 0, "eval_batches": 2, "device": "cpu",
             "seed": args.seed}
    out_json = Path(args.out) / "clips.json"
    results: dict = json.loads(out_json.read_text()) if out_json.is_file() else {}
    results.update({"data": data, "budget_cpu_s": args.budget, "precision": args.precision, "seed": args.seed,
                    "frame_extractor": extractor.record(), "clip_extractor": clip_extractor.record(),
                    "clip_extractor_accuracy": clip_accuracy, "validation_clips": reference})
    results.setdefault("models", {})
    for name in args.models:
        cfg = MODELS[name]
        t0 = cpu_seconds()
        model = train_or_reuse(Path(args.out) / name, name, cfg, data, train).eval()
        train_cpu = cpu_seconds() - t0
        steps = trained_steps(Path(args.out) / name)
        torch.manual_seed(1)
        t0 = time.perf_counter()
        fake = torch.cat([model.sample(min(50, len(real) - i)) for i in range(0, len(real), 50)])
        sample_s = time.perf_counter() - t0
        fake_clip_feats = clip_extractor(fake)[0]
        row = {"train_cpu_s": round(train_cpu, 1), "steps": steps, "sample_wall_s": round(sample_s, 1),
               "frame_fd": frame_fd(feats, real, fake),
               "clip_fd": frechet_distance_of_features(real_clip_feats, fake_clip_feats),
               **temporal_consistency(real, fake), "identity": identity_consistency(logits, fake),
               "speed": centroid_speed(fake), "speed_real": centroid_speed(real), "load": load()}
        if model.predicts_frames:
            k = args.frames // 2
            torch.manual_seed(2)
            given = real[:args.n_predict]
            pred = torch.cat([model.predict_frames(given[i:i + 50], k) for i in range(0, len(given), 50)])
            scores = prediction_scores(pred, given, k)
            row["prediction"] = {key: v for key, v in scores.items() if key.startswith("mean")}
            pairs = torch.stack([given[:4], pred[:4]], 1).flatten(0, 1)  # each true clip, then its prediction
            save_clips(pairs, IMG / f"{args.img_prefix}_{name}_prediction.gif")
            for extra in IMG.glob(f"{args.img_prefix}_{name}_prediction_0*.gif"):
                extra.unlink()
        save_clips(fake[:8], IMG / f"{args.img_prefix}_{name}.gif")
        for extra in IMG.glob(f"{args.img_prefix}_{name}_0*.gif"):  # keep the docs small: the grid GIF and PNG only
            extra.unlink()
        results["models"][name] = row
        out_json.write_text(json.dumps(results, indent=1))
        print(name, json.dumps(row))
    save_clips(real[:8], IMG / f"{args.img_prefix}_moving_mnist_real.gif")
    for extra in IMG.glob(f"{args.img_prefix}_moving_mnist_real_0*.gif"):
        extra.unlink()
    return results


def clips_table(r: dict) -> str:
    lines = ["| model | steps | train CPU s | frame FD | clip FD | change gen / real | identity | "
             "pred. MSE (copy-last) | pred. SSIM (copy-last) | load |",
             "|---|---:|---:|---:|---:|---|---:|---|---|---:|"]
    for name, row in r["models"].items():
        p = row.get("prediction")
        pm = f"{p['mean_mse']:.4f} ({p['mean_copy_last_mse']:.4f})" if p else "-"
        ps = f"{p['mean_ssim']:.3f} ({p['mean_copy_last_ssim']:.3f})" if p else "-"
        ident = row.get("identity", float("nan"))
        lines.append(f"| {name} | {row['steps']} | {row['train_cpu_s']} | {row['frame_fd']:.2f} | "
                     f"{row['clip_fd']:.1f} | {row['change_generated']:.4f} / {row['change_real']:.4f} | "
                     f"{ident:.3f} | {pm} | {ps} | {row['load']} |")
    v = r["validation_clips"]
    lines.append(f"| validation clips (real) | | | {v['frame_fd']:.2f} | {v['clip_fd']:.1f} | "
                 f"{v['change_generated']:.4f} / {v['change_real']:.4f} | {v.get('identity', float('nan')):.3f} "
                 f"(test {v.get('identity_real', float('nan')):.3f}) | | | - |")
    return "\n".join(lines)


# ------------------------------------------------------------------------------ probe

@torch.no_grad()
def code_diagnostics(model, n: int = 64) -> dict:
    """video-gan's codes per frame index: content and motion norms, the motion code's step, the frames'
    mean intensity, and the std over clips when only the content or only the motion noise varies."""
    torch.manual_seed(1)
    noise = torch.randn(n, *model.noise_shape())
    c = model.config.content_dim
    codes = model.codes_from_noise(noise)
    motion = codes[..., c:]

    def per_t(x: torch.Tensor) -> list[float]:
        return [round(float(v), 3) for v in x]

    same_motion, same_content = noise.clone(), noise.clone()
    same_motion[:, c:] = noise[:1, c:]  # only the content varies
    same_content[:, :c] = noise[:1, :c]  # only the motion varies
    clips = model.sample_from_noise(noise)
    return {"content_norm": round(float(codes[:, 0, :c].norm(dim=1).mean()), 3),
            "motion_norm": per_t(motion.norm(dim=2).mean(0)),
            "motion_step_norm": per_t((motion[:, 1:] - motion[:, :-1]).norm(dim=2).mean(0)),
            "mean_intensity": per_t(clips.mean((0, 2, 3, 4))),
            "std_content_varies": per_t(model.sample_from_noise(same_motion).std(0).mean((1, 2, 3))),
            "std_motion_varies": per_t(model.sample_from_noise(same_content).std(0).mean((1, 2, 3)))}


def bench_probe(args: argparse.Namespace) -> dict:
    data = {"dataset": args.dataset, "image_size": args.size, "clip_length": args.frames}
    splits = load_splits(DataConfig(**data))
    extractor = frame_extractor(args.dataset, splits, args.size, args.frames)
    clip_extractor = build_extractor(data)
    cfg = {**MODELS[args.model], **json.loads(args.set)}
    train = {"epochs": 1000, "batch_size": args.batch_size, "time_budget": args.budget, "budget_clock": "cpu",
             "precision": args.precision, "sample_every": 0, "log_every": 50, "eval_batches": 2, "device": "cpu",
             "seed": args.seed, **json.loads(args.train)}
    run = Path(args.out) / "runs" / args.name
    t0 = cpu_seconds()
    model = genlab.train(args.model, out=run, model_config=cfg, data=data, train=train, overwrite=True).eval()
    train_cpu = cpu_seconds() - t0
    real = splits.test.images(torch.arange(min(args.n, len(splits.test))))
    torch.manual_seed(1)
    fake = torch.cat([model.sample(min(50, len(real) - i)) for i in range(0, len(real), 50)])

    def feats(images: torch.Tensor) -> torch.Tensor:
        return extractor(images)[0]

    def logits(images: torch.Tensor) -> torch.Tensor:
        return extractor(images)[1]

    row = {"name": args.name, "model": args.model, "set": json.loads(args.set), "train": json.loads(args.train),
           "seed": args.seed, "frames": args.frames, "budget_cpu_s": args.budget, "train_cpu_s": round(train_cpu, 1),
           "steps": trained_steps(run), "frame_fd": frame_fd(feats, real, fake),
           "pooled_fd": frechet_distance_of_features(feats(real.flatten(0, 1)), feats(fake.flatten(0, 1))),
           "clip_fd": frechet_distance_of_features(clip_extractor(real)[0], clip_extractor(fake)[0]),
           **temporal_consistency(real, fake), "identity": identity_consistency(logits, fake),
           "identity_real": identity_consistency(logits, real), "speed": centroid_speed(fake),
           "speed_real": centroid_speed(real), "std_over_clips": float(fake.std(0).mean()), "load": load()}
    if args.model == "video-gan":
        row["codes"] = code_diagnostics(model)
    with open(Path(args.out) / "probes.jsonl", "a") as f:
        f.write(json.dumps(row) + "\n")
    (Path(args.out) / "img").mkdir(exist_ok=True)
    save_clips(fake[:8], Path(args.out) / "img" / f"{args.name}.png")
    print(json.dumps(row))
    return {"probes": [row]}


def probe_table(r: dict) -> str:
    lines = ["| probe | steps | frame FD | pooled frame FD | clip FD | change ratio | speed (px/frame) | identity | "
             "std over clips | load |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for row in r["probes"]:
        lines.append(f"| {row['name']} {json.dumps(row['set'])} | {row['steps']} | {row['frame_fd']:.1f} | "
                     f"{row['pooled_fd']:.1f} | {row['clip_fd']:.0f} | {row['change_ratio']:.2f} | "
                     f"{row['speed']:.2f} | "
                     f"{row['identity']:.3f} | {row['std_over_clips']:.3f} | {float(row['load']):.1f} |")
    return "\n".join(lines)


# ------------------------------------------------------------------------------ series

def bench_series(args: argparse.Namespace) -> dict:
    results: dict = {"budget_cpu_s": args.budget, "window": 24, "models": {}}
    for series in ("sunspots", "elnino"):
        data = {"dataset": series, "window": 24, "stride": 1}
        splits = load_splits(DataConfig(**data))
        train_w = splits.train.x.numpy()  # standardized (N, 24, 1)
        test_w = splits.test.x.numpy()
        train_series = np.concatenate([train_w[0], train_w[1:, -1]])  # the training part, rebuilt
        t0 = cpu_seconds()
        model = train_or_reuse(Path(args.out) / f"rvae-{series}", "recurrent-vae",
                               {"hidden_size": 64, "latent_dim": 8, "cell": "gru"}, data,
                               {"epochs": 10_000, "batch_size": 32, "time_budget": args.budget, "budget_clock": "cpu",
                                "precision": "fp32", "sample_every": 0, "log_every": 0, "device": "cpu",
                                "seed": 0}).eval()
        train_cpu = cpu_seconds() - t0
        torch.manual_seed(0)
        gen = model.sample(len(train_w)).numpy()
        boot = block_bootstrap(train_series, len(train_w), 24, block=6, seed=0)
        row = {"train_cpu_s": round(train_cpu, 1), "steps": trained_steps(Path(args.out) / f"rvae-{series}"),
               "windows": len(train_w), "load": load()}
        for label, fake in (("recurrent-vae", gen), ("block bootstrap", boot)):
            row[label] = {"discriminative": discriminative_score(train_w, fake),
                          "predictive": predictive_score(np.concatenate([test_w, test_w]), fake)["train_generated"]}
        row["predictive_train_real"] = predictive_score(np.concatenate([test_w, test_w]), train_w)["train_generated"]
        save_comparison_plot({"real (train)": train_w, "recurrent-vae": gen, "block bootstrap": boot},
                             IMG / f"series_{series}_acf.png", 12, title=series)
        results["models"][series] = row
        print(series, json.dumps(row))
    return results


def series_table(r: dict) -> str:
    lines = ["| series | generator | discriminative (0.5 best) | predictive MAE (train on real: ref.) |",
             "|---|---|---|---|"]
    for series, row in r["models"].items():
        for label in ("recurrent-vae", "block bootstrap"):
            lines.append(f"| {series} | {label} | {row[label]['discriminative']:.3f} | "
                         f"{row[label]['predictive']:.3f} ({row['predictive_train_real']:.3f}) |")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("command", choices=["clips", "series", "probe"])
    p.add_argument("--budget", type=float, default=200, help="CPU seconds of training per model")
    p.add_argument("--size", type=int, default=32)
    p.add_argument("--frames", type=int, default=16)
    p.add_argument("--n", type=int, default=200, help="test clips and samples for the metrics")
    p.add_argument("--n-predict", type=int, default=100)
    p.add_argument("--dataset", default="moving-mnist-1", choices=["moving-mnist", "moving-mnist-1"])
    p.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--seed", type=int, default=0, help="the clip models' training seed (metrics' seeds unchanged)")
    p.add_argument("--precision", default="fp32", choices=["fp32", "bf16", "auto"])
    p.add_argument("--out", default="runs/bench_video")
    p.add_argument("--img-prefix", default="video", help="file names of the GIFs/PNGs in docs/img/ start with this")
    p.add_argument("--name", default="probe", help="probe: the probe's name (its run, image and JSON line)")
    p.add_argument("--model", default="video-gan", choices=list(MODELS), help="probe: the clip model")
    p.add_argument("--set", default="{}", help="probe: JSON of model options over the script's MODELS settings")
    p.add_argument("--train", default="{}", help="probe: JSON of train options over the probe's")
    args = p.parse_args()
    Path(args.out).mkdir(parents=True, exist_ok=True)
    IMG.mkdir(parents=True, exist_ok=True)
    if args.command == "probe":
        print(probe_table(bench_probe(args)))
        return
    result = bench_clips(args) if args.command == "clips" else bench_series(args)
    result["machine"] = {"cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(), "load_after": load()}
    (Path(args.out) / f"{args.command}.json").write_text(json.dumps(result, indent=1))
    print(clips_table(result) if args.command == "clips" else series_table(result))


if __name__ == "__main__":
    main()
