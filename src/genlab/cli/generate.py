"""Commands over a trained run: sample, reconstruct, interpolate, traverse, edit, manifold.

Flags in, one library call per decision (``apps/sampling.py``, ``runs.run.run_splits`` /
``run_images``, ``io.check_output``), files out.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import torch

from genlab.apps import sampling
from genlab.apps.clips import CLIP_OUTPUTS, check_frames, load_input_clip, save_clips
from genlab.apps.latent import edit, manifold_grid
from genlab.apps.sampling import IMAGE_OUTPUTS, SERIES_OUTPUTS, check_positive
from genlab.errors import ConfigError
from genlab.io import check_output, name_grid_rows, save_image_grid, save_images_npz
from genlab.metrics.video import prediction_scores
from genlab.models.base import GenerativeModel, LatentModel
from genlab.runs.run import load, refuse_table_run, run_images, run_splits
from genlab.training.distributed import resolve_device


def register(sub: Any, argv: list[str]) -> None:
    p = sub.add_parser("sample", help="draw new images from a trained model")
    _common(p)
    p.add_argument("--n", type=int, default=64, help="number of images (default: 64)")
    p.add_argument("--out", help="PNG grid, or .npz of uint8 images (and labels); for sequence runs a PNG "
                   "plot, a .csv or an .npz of float series; for clip runs a .gif (animated, one per clip "
                   "too, and a frame-grid PNG), a .png frame grid or an .npz of uint8 clips (N, T, C, H, W) "
                   "(default: RUN/sample.png)")
    p.add_argument("--nrow", type=int, default=0, help="images per grid row (default: square)")
    p.add_argument("--label", help="class to generate, an index or a class name (conditional models)")
    sampling = p.add_argument_group("sampler options (models whose sample() takes them, e.g. diffusion)")
    sampling.add_argument("--sampler", help="sampler, e.g. ddim or ddpm (default: the model's)")
    sampling.add_argument("--steps", type=int, help="sampling steps, e.g. DDIM's S (default: the model's)")
    sampling.add_argument("--eta", type=float, help="DDIM noise: 0 deterministic, 1 DDPM-like (default: the model's)")
    sampling.add_argument("--guidance", type=float, help="classifier-free guidance scale (conditional diffusion)")
    sampling.add_argument("--truncation", type=float, help="truncation psi in [0, 1] toward the average w (stylegan)")
    sampling.add_argument("--noise", help="per-layer noise: random, fixed or none (stylegan; default: random)")
    sampling.add_argument("--stage", type=int, help="sample a progressive stage at its own resolution 4*2^N (progan)")
    sampling.add_argument("--length", type=int, help="steps of each new series (sequence VAEs; default: the "
                          "training window)")
    sampling.add_argument("--trajectory", metavar="PNG", help="also write one sample's denoising trajectory strip")
    sampling.add_argument("--frames", type=int, default=10, help="images per trajectory row (default: 10)")
    p.set_defaults(func=cmd_sample)

    p = sub.add_parser("predict", help="frame prediction: the first k frames of clips given, the rest generated")
    _common(p)
    p.add_argument("--input", help="a GIF or a folder of numbered frames (default: clips of the run's test split)")
    p.add_argument("--frames", type=int, required=True, help="k, the number of given frames (below the clip length)")
    p.add_argument("--n", type=int, default=8, help="test clips to predict when no --input is given (default: 8)")
    p.add_argument("--out", help="GIF (and a frame-grid PNG beside it), PNG or .npz (default: RUN/prediction.gif)")
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("reconstruct", help="test images (odd rows) above their reconstructions (even rows)")
    _common(p)
    p.add_argument("--n", type=int, default=32, help="number of test images (default: 32)")
    p.add_argument("--split", default="test", choices=["train", "validation", "test"])
    p.add_argument("--out", help="PNG (default: RUN/reconstructions.png)")
    p.set_defaults(func=cmd_reconstruct)

    p = sub.add_parser("style-mix", help="style-mixing grid: coarse / middle / fine styles of row sources applied to "
                                         "column sources (stylegan)")
    _common(p)
    p.add_argument("--rows", type=int, default=3, help="row sources per style level (default: 3)")
    p.add_argument("--cols", type=int, default=5, help="column sources (default: 5)")
    p.add_argument("--truncation", type=float, default=1.0, help="truncation psi in [0, 1] (default: 1)")
    p.add_argument("--out", help="PNG (default: RUN/style_mix.png)")
    p.set_defaults(func=cmd_style_mix)

    p = sub.add_parser("interpolate", help="a strip of decoded codes between two test images")
    _common(p)
    p.add_argument("--a", type=int, default=0, help="index of the first test image (default: 0)")
    p.add_argument("--b", type=int, default=1, help="index of the second test image (default: 1)")
    p.add_argument("--steps", type=int, default=10, help="images in the strip (default: 10)")
    p.add_argument("--method", choices=["linear", "spherical"], default="linear")
    p.add_argument("--truncation", type=float, default=1.0,
                   help="style models: truncation psi in [0, 1] of the two random ends in w space (default: 1)")
    p.add_argument("--out", help="PNG (default: RUN/interpolation.png)")
    p.set_defaults(func=cmd_interpolate)

    p = sub.add_parser("traverse", help="vary one latent dimension at a time (a row per dimension)")
    _common(p)
    p.add_argument("--index", type=int, default=0, help="test image whose code is the centre (default: 0)")
    p.add_argument("--dims", type=int, nargs="+", help="dimensions to vary (default: the first 10)")
    p.add_argument("--span", type=float, default=3.0, help="vary each dimension over [-span, span] (default: 3)")
    p.add_argument("--steps", type=int, default=9, help="values per dimension (default: 9)")
    p.add_argument("--out", help="PNG (default: RUN/traversal.png)")
    p.set_defaults(func=cmd_traverse)

    p = sub.add_parser("edit", help="move test images toward a label with an attribute vector")
    _common(p)
    p.add_argument("--toward", required=True, help="the label to move toward: an index (e.g. 7) or a class name")
    p.add_argument("--strength", type=float, nargs="+", default=[0.0, 0.5, 1.0, 1.5, 2.0],
                   help="strengths s in z + s * v, one column each (default: 0 0.5 1 1.5 2)")
    p.add_argument("--n", type=int, default=8, help="test images to edit, one row each (default: 8)")
    p.add_argument("--fit", type=int, default=5000, help="training images used to fit the vector (default: 5000)")
    p.add_argument("--out", help="PNG (default: RUN/edit_toward_LABEL.png)")
    p.set_defaults(func=cmd_edit)

    p = sub.add_parser("manifold", help="decode a grid over a 2-D latent space")
    _common(p)
    p.add_argument("--steps", type=int, default=15, help="grid points per axis (default: 15)")
    p.add_argument("--span", type=float, default=2.5, help="grid covers [-span, span]^2 (default: 2.5)")
    p.add_argument("--out", help="PNG (default: RUN/manifold.png)")
    p.set_defaults(func=cmd_manifold)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", metavar="RUN", help="run directory")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument("--device", default="auto",
                   help="auto (cuda, then mps, then cpu; the default), cpu, cuda, cuda:N or mps")


def _model(args: argparse.Namespace) -> GenerativeModel:
    torch.manual_seed(args.seed)
    return load(args.run, resolve_device(args.device))


def _latent_model(args: argparse.Namespace) -> LatentModel:
    return sampling.require_latent(_model(args), args.command)


def _out(args: argparse.Namespace, default: str, suffixes: tuple[str, ...] = (".png",)) -> Path:
    """--out (or RUN/default), checked before any work."""
    return check_output(args.out or Path(args.run) / default, suffixes, args.command)


def _done(path: Path, what: str) -> int:
    print(f"{what} written to {path}", file=sys.stderr)
    return 0


def cmd_sample(args: argparse.Namespace) -> int:
    check_positive("n", args.n)
    refuse_table_run(args.run, "`genlab sample`")
    model = _model(args)
    sampling.require_generative(model)
    sequences = sampling.is_sequence_model(model)
    clips = model.data_kind == "clips"
    out = _out(args, "sample.png", SERIES_OUTPUTS if sequences else CLIP_OUTPUTS if clips else IMAGE_OUTPUTS)
    trajectory = None
    if args.trajectory:  # checked before anything is written
        check_positive("frames", args.frames)
        trajectory = sampling.require_trajectory(model)
    names = sampling.class_names(args.run)
    label = None
    if args.label is not None:
        label = sampling.class_index(args.label, names, sampling.require_label_model(model), "label")
    options = sampling.sampler_options(model, {k: getattr(args, k) for k in sampling.SAMPLER_OPTIONS})
    images, labels, per_row = sampling.draw_samples(model, args.n, label, **options)
    nrow = args.nrow or per_row
    if sequences:
        titles = [f"sample {i}" for i in range(len(images))]
        sampling.save_series(args.run, images, out, titles=titles)
        if out.suffix == ".csv":  # the series as a table and as a plot beside it
            sampling.save_series(args.run, images, out.with_suffix(".png"), titles=titles)
            print(f"plot written to {out.with_suffix('.png')}", file=sys.stderr)
    elif clips:
        written = save_clips(images, out)
        if len(written) > 1:
            print(f"also written: {', '.join(str(w) for w in written[1:3])}"
                  f"{f' and {len(written) - 3} per-clip GIFs' if len(written) > 3 else ''}", file=sys.stderr)
    elif out.suffix == ".npz":
        save_images_npz(images, out, labels)
    else:
        save_image_grid(images, out, nrow=nrow)
        if labels is not None and names and label is None and nrow and not args.nrow:  # a row per class
            name_grid_rows(out, [names[int(c)] if int(c) < len(names) else str(int(c)) for c in labels[::nrow]])
    if trajectory is not None:
        strip = trajectory(args.frames, label=label, **options).cpu()
        save_image_grid(strip, Path(args.trajectory), nrow=len(strip) // 2)
        print(f"trajectory (top: x_t from noise to sample; bottom: predicted x0) written to {args.trajectory}",
              file=sys.stderr)
    return _done(out, f"{len(images)} samples")


def cmd_predict(args: argparse.Namespace) -> int:
    check_positive("n", args.n)
    model = _model(args)
    predict = sampling.require_frame_prediction(model)
    length = model.config.data_shape[0]
    check_frames(args.frames, length)
    out = _out(args, "prediction.gif", CLIP_OUTPUTS)
    if args.input:
        x = load_input_clip(args.input, tuple(model.config.data_shape))
        if x.shape[1] <= args.frames:
            raise ConfigError(f"--input {args.input} has {x.shape[1]} frames; --frames {args.frames} must be below "
                              f"that (the given frames; the rest are predicted)")
    else:
        splits = run_splits(args.run)
        x, _ = run_images(args.run, "test", list(range(min(args.n, len(splits.test)))), args.seed, splits)
    pred = predict(x.to(model.device), args.frames).cpu()
    known = min(x.shape[1], pred.shape[1])
    scores = prediction_scores(pred[:, :known], x[:, :known], args.frames)
    save_clips(torch.stack([x[:, :known], pred[:, :known]], 1).flatten(0, 1) if out.suffix != ".npz" else pred, out)
    print(f"frames {args.frames}..{known - 1} against the truth: MSE {scores['mean_mse']:.5f} (copy-last-frame "
          f"{scores['mean_copy_last_mse']:.5f}), SSIM {scores['mean_ssim']:.4f} (copy-last-frame "
          f"{scores['mean_copy_last_ssim']:.4f})", file=sys.stderr)
    return _done(out, f"{len(pred)} predictions (rows: true clip, then prediction; the first {args.frames} "
                      f"frames are given)" if out.suffix != ".npz" else f"{len(pred)} predicted clips")


def cmd_reconstruct(args: argparse.Namespace) -> int:
    check_positive("n", args.n)
    model = _latent_model(args)
    sequences = sampling.is_sequence_model(model)
    out = _out(args, "reconstructions.png", SERIES_OUTPUTS if sequences else (".png",))
    splits = run_splits(args.run)
    n = min(args.n, len(splits[args.split]))
    x, y = run_images(args.run, args.split, list(range(n)), args.seed, splits)
    labels = y.to(model.device) if model.requires_labels and y is not None else None
    rec = model.reconstruct(x.to(model.device), labels).cpu()
    if sequences:
        if out.suffix == ".png":  # input solid, reconstruction dashed
            sampling.save_series(args.run, x, out, overlay=rec, titles=[f"{args.split} {i}" for i in range(n)])
        else:
            sampling.save_series(args.run, rec, out)
    else:
        nrow = min(8, n)
        rows = [t for i in range(0, n, nrow) for t in (x[i:i + nrow], rec[i:i + nrow])]
        save_image_grid(torch.cat(rows), out, nrow=nrow)
    valid = ~torch.isnan(x)
    mse = float((rec - x)[valid].pow(2).mean())
    unit = "value (standardized)" if sequences else "pixel"
    print(f"mean squared error per {unit}: {mse:.5f}", file=sys.stderr)
    what = "reconstructions (solid: input, dashed: reconstruction)" if sequences else "reconstructions"
    return _done(out, what if n == args.n else f"{what} of all {n} {args.split} items")


def cmd_style_mix(args: argparse.Namespace) -> int:
    check_positive("rows", args.rows)
    check_positive("cols", args.cols)
    model = sampling.require_styles(_model(args), args.command)
    out = _out(args, "style_mix.png")
    grid, titles = sampling.style_mix_grid(model, args.rows, args.cols, args.truncation)
    save_image_grid(grid.cpu(), out, nrow=args.cols + 1)
    name_grid_rows(out, titles)
    return _done(out, "style-mixing grid (row 0: column sources; each later row: its source, then the column "
                      "sources with that level's styles from it)")


def cmd_interpolate(args: argparse.Namespace) -> int:
    check_positive("steps", args.steps)
    model = _model(args)
    if model.has_styles:  # no encoder: two random ends, interpolated in w space
        out = _out(args, "interpolation.png")
        strip = sampling.interpolate_styles(model, args.steps, args.truncation, args.method)
        save_image_grid(strip.cpu(), out, nrow=args.steps)
        return _done(out, "interpolation in w space between two random samples")
    latent = sampling.require_latent(model, args.command)
    sequences = sampling.is_sequence_model(model)
    out = _out(args, "interpolation.png", SERIES_OUTPUTS if sequences else (".png",))
    x, y = run_images(args.run, "test", [args.a, args.b], args.seed)
    x = x.to(latent.device)
    if sequences:
        strip, titles = sampling.interpolate_series(latent, x, args.steps, args.method)
        sampling.save_series(args.run, strip, out, titles=[f"test {args.a}", *titles, f"test {args.b}"])
        return _done(out, "interpolation (first and last plots are the originals)")
    label = int(y[0]) if latent.requires_labels and y is not None else None  # conditional: the first image's class
    strip = latent.interpolate(x[0], x[1], steps=args.steps, method=args.method, label=label).cpu()
    save_image_grid(torch.cat([x[:1].cpu(), strip, x[1:].cpu()]), out, nrow=args.steps + 2)
    return _done(out, "interpolation (first and last images are the originals)")


def cmd_traverse(args: argparse.Namespace) -> int:
    check_positive("steps", args.steps)
    model = _latent_model(args)
    sequences = sampling.is_sequence_model(model)
    out = _out(args, "traversal.png", SERIES_OUTPUTS if sequences else (".png",))
    x, y = run_images(args.run, "test", [args.index], args.seed)
    x = x.to(model.device)
    label = int(y[0]) if model.requires_labels and y is not None else None
    dims = sampling.code_dims(model, x, None if label is None or y is None else y.to(model.device), args.dims)
    if sequences:
        decoded, titles = sampling.traverse_series(model, x, dims, args.span, args.steps)
        sampling.save_series(args.run, decoded, out, titles=titles, ncols=args.steps)
        return _done(out, f"traversal of dimensions {dims} (a row per dimension)")
    grid = model.traverse(x[0], dims, span=args.span, steps=args.steps, label=label).cpu()
    save_image_grid(grid, out, nrow=args.steps)
    return _done(out, f"traversal of dimensions {dims}")


def cmd_edit(args: argparse.Namespace) -> int:
    check_positive("n", args.n)
    check_positive("fit", args.fit)
    model = _latent_model(args)
    sampling.require_unconditional(model, "edit")
    sampling.require_images(model, "edit")
    out = _out(args, f"edit_toward_{args.toward}.png")
    splits = run_splits(args.run)
    sampling.require_labelled(splits.train)
    toward = sampling.class_index(args.toward, sampling.class_names(args.run), splits.train.num_classes, "toward")
    vector = sampling.fit_attribute(model, splits.train, toward, args.fit)
    x, _ = run_images(args.run, "test", sampling.others_than(splits.test, toward, args.n), args.seed, splits)
    grid = edit(model, x, vector, args.strength).cpu()
    save_image_grid(grid, out, nrow=len(args.strength))
    return _done(out, f"edits toward {args.toward} (rows: images, columns: strengths {args.strength})")


def cmd_manifold(args: argparse.Namespace) -> int:
    check_positive("steps", args.steps)
    model = _latent_model(args)
    sampling.require_unconditional(model, "manifold")
    sampling.require_images(model, "manifold")
    out = _out(args, "manifold.png")
    sampling.require_2d_latent(model)
    save_image_grid(manifold_grid(model, args.steps, args.span).cpu(), out, nrow=args.steps)
    return _done(out, f"{args.steps}x{args.steps} manifold grid")
