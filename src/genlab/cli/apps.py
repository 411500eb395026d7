"""Application commands over a trained autoencoder-family run: denoise, encode, decode, embed."""
from __future__ import annotations

import argparse
import io
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

from genlab.apps.compress import decode_codes, encode_images, load_codes, save_codes
from genlab.apps.denoise import denoise
from genlab.apps.embed import embed, plot_codes
from genlab.apps.inputs import Images, read_images
from genlab.apps.sampling import require_latent
from genlab.errors import ConfigError
from genlab.io import atomic_write_bytes, atomic_write_json, check_parent, save_image_grid, save_images_npz
from genlab.models.autoencoder import CORRUPTIONS, corrupt
from genlab.models.base import LatentModel
from genlab.runs.run import load, run_split
from genlab.training.distributed import resolve_device


def register(sub: Any, argv: list[str]) -> None:
    p = sub.add_parser("denoise", help="clean noisy images with an autoencoder; PSNR/SSIM before and after")
    _common(p)
    p.add_argument("--input", required=True, metavar="DIR_OR_NPZ",
                   help="noisy images: a folder of image files, or an .npz with 'x' (and optional 'clean')")
    p.add_argument("--clean", metavar="DIR_OR_NPZ", help="clean references in the same order (for PSNR/SSIM)")
    p.add_argument("--add-noise", metavar="KIND:LEVEL",
                   help="treat --input as clean and corrupt it first, e.g. gaussian:0.5, masking:0.3, salt_pepper:0.2")
    p.add_argument("--out", required=True, metavar="DIR", help="folder for the denoised PNGs, a comparison grid "
                   "and report.json")
    p.set_defaults(func=cmd_denoise)

    p = sub.add_parser("encode", help="compress images to latent codes (float16 or 8-bit) and report the sizes")
    _common(p)
    p.add_argument("--input", metavar="DIR_OR_NPZ", help="images to encode (default: the run's test split)")
    p.add_argument("--split", default="test", choices=["train", "validation", "test"],
                   help="split of the run's dataset when no --input is given (default: test)")
    p.add_argument("--n", type=int, help="encode only the first N images")
    p.add_argument("--codec", default="float16", choices=["float16", "uint8"],
                   help="float16 codes, or uint8 with a per-dimension scale (default: float16)")
    p.add_argument("--out", metavar="NPZ", help="code file (default: RUN/codes.npz)")
    p.set_defaults(func=cmd_encode)

    p = sub.add_parser("decode", help="images from a code file made by `genlab encode`")
    _common(p)
    p.add_argument("--codes", required=True, metavar="NPZ", help="the code file")
    p.add_argument("--out", metavar="PATH", help="a .png grid (of the first --n images), an .npz of all images "
                   "(uint8), or a folder of PNGs, one per image (default: RUN/decoded.png)")
    p.add_argument("--n", type=int, default=64, help="images in a .png grid (default: 64)")
    p.set_defaults(func=cmd_decode)

    p = sub.add_parser("embed", help="codes of a dataset split (.npz) and a 2-D plot coloured by label")
    _common(p)
    p.add_argument("--split", default="test", choices=["train", "validation", "test"])
    p.add_argument("--input", metavar="DIR_OR_NPZ", help="images to embed instead of the run's split")
    p.add_argument("--n", type=int, help="embed only the first N items")
    p.add_argument("--out", metavar="NPZ", help="codes (and labels) file (default: RUN/codes_embed.npz)")
    p.add_argument("--plot", metavar="PNG", help="2-D plot (default: beside --out, .png)")
    p.set_defaults(func=cmd_embed)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", metavar="RUN", help="run directory of an autoencoder-family model")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument("--device", default="auto",
                   help="auto (cuda, then mps, then cpu; the default), cpu, cuda, cuda:N or mps")
    p.add_argument("--batch-size", type=int, default=256, help="images per forward pass (default: 256)")


def _model(args: argparse.Namespace) -> LatentModel:
    if args.batch_size < 1:
        raise ConfigError(f"--batch-size must be at least 1, got {args.batch_size}")
    if getattr(args, "n", None) is not None and args.n < 1:
        raise ConfigError(f"--n must be at least 1, got {args.n}")
    torch.manual_seed(args.seed)
    model = require_latent(load(args.run, resolve_device(args.device)), args.command)
    if model.requires_labels:
        raise ConfigError(f"`{args.command}` works on unconditional models; '{model.registry_name}' encodes and "
                          f"decodes with a class label (use `genlab reconstruct` or `sample --label`)")
    return model


def _image_model(args: argparse.Namespace) -> LatentModel:
    model = _model(args)
    if len(model.config.data_shape) != 3:
        raise ConfigError(f"`{args.command}` works on images; this '{model.registry_name}' run was trained on "
                          f"sequences")
    return model


def _noise(spec: str) -> tuple[str, float]:
    kind, _, level = spec.partition(":")
    try:
        value = float(level)
    except ValueError:
        value = -1.0
    if kind not in CORRUPTIONS or value < 0:
        raise ConfigError(f"--add-noise expects KIND:LEVEL with KIND one of {', '.join(CORRUPTIONS)} and LEVEL >= 0, "
                          f"got '{spec}'")
    return kind, value


def _metrics_line(name: str, m: dict[str, float]) -> str:
    return f"{name}: PSNR {m['psnr']:.2f} dB  SSIM {m['ssim']:.4f}  MSE {m['mse']:.5f}"


def cmd_denoise(args: argparse.Namespace) -> int:
    model = _image_model(args)
    shape = tuple(model.config.data_shape)
    data = read_images(args.input, shape)
    noisy, clean = data.x, data.clean
    if args.clean:
        if clean is not None:
            raise ConfigError("--input already holds clean references ('clean'); drop --clean")
        clean = read_images(args.clean, shape).x
        if len(clean) != len(noisy):
            raise ConfigError(f"--clean has {len(clean)} images but --input has {len(noisy)}")
    if args.add_noise:
        if clean is not None:
            raise ConfigError("--add-noise makes the noisy images from --input; it cannot be combined with --clean")
        kind, level = _noise(args.add_noise)
        clean, noisy = noisy, corrupt(noisy, kind, level, torch.Generator().manual_seed(args.seed))
    result = denoise(model, noisy, clean, args.batch_size)
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} exists and is not a directory")
    check_parent(out)
    for name, img in zip(data.names, result.denoised, strict=True):
        save_image_grid(img[None], (out / name).with_suffix(".png"), nrow=1, scale=1)
    rows = [noisy[:8], result.denoised[:8]] + ([clean[:8]] if clean is not None else [])
    save_image_grid(torch.cat(rows), out / "comparison.png", nrow=min(8, len(noisy)))
    report = {"images": len(noisy), "before": result.before, "after": result.after}
    atomic_write_json(out / "report.json", report)
    if result.before is not None and result.after is not None:
        print(_metrics_line("noisy   ", result.before), file=sys.stderr)
        print(_metrics_line("denoised", result.after), file=sys.stderr)
    print(f"{len(noisy)} denoised images, comparison.png (rows: noisy, denoised"
          f"{', clean' if clean is not None else ''}) and report.json written to {out}", file=sys.stderr)
    return 0


def _inputs(args: argparse.Namespace, model: LatentModel):
    if args.input:
        data = read_images(args.input, tuple(model.config.data_shape))
        if args.n:
            data = Images(data.x[:args.n], data.names[:args.n], None if data.labels is None else data.labels[:args.n])
        return data
    return run_split(args.run, args.split, args.n, args.seed)


def cmd_encode(args: argparse.Namespace) -> int:
    model = _image_model(args)
    if args.out:
        check_parent(Path(args.out))
    data = _inputs(args, model)
    arrays, report = encode_images(model, data.x, args.codec, args.batch_size)
    out = save_codes(arrays, args.out or Path(args.run) / "codes.npz")
    print(json.dumps(report), file=sys.stdout)
    print(f"{report['images']} images -> {report['code_dim']} {args.codec} values each: "
          f"{report['code_bytes_per_image']:.0f} bytes/image ({report['file_bytes_per_image']:.1f} with the file "
          f"header); raw {report['raw_bytes_per_image']:.0f} B (x{report['ratio_vs_raw']:.1f}), "
          f"PNG {report['png_bytes_per_image']:.0f} B (x{report['ratio_vs_png']:.1f}); "
          f"round-trip PSNR {report['psnr']:.2f} dB; codes written to {out}", file=sys.stderr)
    return 0


def cmd_decode(args: argparse.Namespace) -> int:
    model = _image_model(args)
    out = Path(args.out or Path(args.run) / "decoded.png")
    if out.suffix not in ("", ".png", ".npz"):
        raise ConfigError(f"--out {out}: unknown file type '{out.suffix}'; give a .png grid, an .npz or a folder")
    if out.suffix and out.is_dir():
        raise ConfigError(f"--out {out} is a directory; give a .png or .npz file name, or a folder without an "
                          f"extension")
    if not out.suffix and out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} exists and is not a directory")
    check_parent(out)
    images = decode_codes(model, load_codes(args.codes), args.batch_size)
    if out.suffix == ".npz":
        save_images_npz(images, out)
        what = f"{len(images)} decoded images"
    elif out.suffix == ".png":
        save_image_grid(images[:args.n], out)
        what = (f"a grid of the first {min(args.n, len(images))} of {len(images)} decoded images (all of them: "
                f"--out FILE.npz or a folder)" if len(images) > args.n else f"{len(images)} decoded images")
    else:
        for i, img in enumerate(images):
            save_image_grid(img[None], out / f"{i:05d}.png", nrow=1, scale=1)
        what = f"{len(images)} decoded images"
    print(f"{what} written to {out}", file=sys.stderr)
    return 0


def cmd_embed(args: argparse.Namespace) -> int:
    model = _model(args)
    out = Path(args.out or Path(args.run) / "codes_embed.npz")
    for path in (out, Path(args.plot) if args.plot else None):
        if path is not None:
            if path.is_dir():
                raise ConfigError(f"{path} is a directory; give a file name")
            check_parent(path)
    data = _inputs(args, model)
    codes = embed(model, data.x, args.batch_size)
    buf = io.BytesIO()
    arrays: dict[str, Any] = {"codes": codes.numpy()}
    if data.labels is not None:
        arrays["y"] = data.labels.numpy()
    np.savez(buf, **arrays)
    atomic_write_bytes(out, buf.getvalue())
    plot = Path(args.plot) if args.plot else out.with_suffix(".png")
    plot_codes(codes, data.labels, plot, f"{model.registry_name}: {len(codes)} codes ({args.run})")
    print(f"{len(codes)} codes of dimension {codes.shape[1]} written to {out}; plot in {plot}", file=sys.stderr)
    return 0
