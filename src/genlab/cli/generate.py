"""Commands over a trained run: sample, reconstruct, interpolate, traverse."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import torch

from genlab.config import DataConfig, from_dict
from genlab.data.base import binarize
from genlab.errors import ConfigError
from genlab.io import save_image_grid, save_images_npz
from genlab.models.base import LatentModel
from genlab.training.distributed import resolve_device
from genlab.runs.run import load, read_run_config


def register(sub: Any, argv: list[str]) -> None:
    p = sub.add_parser("sample", help="draw new images from a trained model")
    _common(p)
    p.add_argument("--n", type=int, default=64, help="number of images (default: 64)")
    p.add_argument("--out", help="PNG grid, or .npz of uint8 images (default: RUN/sample.png)")
    p.add_argument("--nrow", type=int, default=0, help="images per grid row (default: square)")
    p.add_argument("--label", type=int, help="class to generate (conditional models)")
    sampling = p.add_argument_group("sampler options (models whose sample() takes them, e.g. diffusion)")
    sampling.add_argument("--sampler", help="sampler, e.g. ddim or ddpm (default: the model's)")
    sampling.add_argument("--steps", type=int, help="sampling steps, e.g. DDIM's S (default: the model's)")
    sampling.add_argument("--eta", type=float, help="DDIM noise: 0 deterministic, 1 DDPM-like (default: the model's)")
    sampling.add_argument("--guidance", type=float, help="classifier-free guidance scale (conditional diffusion)")
    sampling.add_argument("--trajectory", metavar="PNG", help="also write one sample's denoising trajectory strip")
    sampling.add_argument("--frames", type=int, default=10, help="images per trajectory row (default: 10)")
    p.set_defaults(func=cmd_sample)

    p = sub.add_parser("reconstruct", help="test images (odd rows) above their reconstructions (even rows)")
    _common(p)
    p.add_argument("--n", type=int, default=32, help="number of test images (default: 32)")
    p.add_argument("--split", default="test", choices=["train", "validation", "test"])
    p.add_argument("--out", help="PNG (default: RUN/reconstructions.png)")
    p.set_defaults(func=cmd_reconstruct)

    p = sub.add_parser("interpolate", help="a strip of decoded codes between two test images")
    _common(p)
    p.add_argument("--a", type=int, default=0, help="index of the first test image (default: 0)")
    p.add_argument("--b", type=int, default=1, help="index of the second test image (default: 1)")
    p.add_argument("--steps", type=int, default=10, help="images in the strip (default: 10)")
    p.add_argument("--method", choices=["linear", "spherical"], default="linear")
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
    p.add_argument("--toward", type=int, required=True, help="the label to move toward (e.g. 7)")
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
    p.add_argument("--device", default="cpu", help="cpu, cuda, mps or auto (default: cpu)")


def _model(args: argparse.Namespace, latent: bool = False):
    torch.manual_seed(args.seed)
    model = load(args.run, resolve_device(args.device))
    if latent and not isinstance(model, LatentModel):
        raise ConfigError(f"model '{model.registry_name}' has no encoder; `{args.command}` needs an autoencoder-family model")
    return model


def _run_splits(args: argparse.Namespace):
    """The run's own dataset, as it was configured for training."""
    from genlab.data import load_splits

    return load_splits(from_dict(DataConfig, read_run_config(args.run)["data"], "run data config"))


def _images(args: argparse.Namespace, split: str, index: list[int], splits=None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Images of the run's own dataset (binarized as in training, with a fixed sample) and labels."""
    cfg = read_run_config(args.run)
    data = (splits or _run_splits(args))[split]
    bad = [i for i in index if not 0 <= i < len(data)]
    if bad:
        raise ConfigError(f"image index {bad[0]} is out of range: the {split} split has {len(data)} images")
    idx = torch.tensor(index)
    x = binarize(data.images(idx), cfg["data"]["binarize"], torch.Generator().manual_seed(args.seed))
    return x, None if data.y is None else data.y[idx]


def _done(path: Path, what: str) -> int:
    print(f"{what} written to {path}", file=sys.stderr)
    return 0


def _positive(name: str, value: int) -> None:
    if value < 1:
        raise ConfigError(f"--{name} must be at least 1, got {value}")


def cmd_sample(args: argparse.Namespace) -> int:
    _positive("n", args.n)
    model = _model(args)
    labels = None
    if args.label is not None:
        classes = getattr(model.config, "num_classes", 0)
        if not classes:
            raise ConfigError(f"model '{model.registry_name}' is not conditional; --label needs a conditional model")
        if not 0 <= args.label < classes:
            raise ConfigError(f"--label {args.label} is out of range: the model knows classes 0..{classes - 1}")
        labels = torch.full((args.n,), args.label, dtype=torch.long, device=model.device)
    nrow = args.nrow or None
    options = _sampler_options(model, args)
    if labels is None and model.requires_labels:  # a conditional model: one row per class
        images, per_row = model.sample_grid(args.n, **options)
        nrow = nrow or per_row
    else:
        images = model.sample(args.n, labels=labels, **options)
    out = Path(args.out or Path(args.run) / "sample.png")
    if out.suffix == ".npz":
        save_images_npz(images, out, labels)
    else:
        save_image_grid(images, out, nrow=nrow)
    if args.trajectory:
        _positive("frames", args.frames)
        if not hasattr(model, "denoising_trajectory"):
            raise ConfigError(f"model '{model.registry_name}' has no denoising trajectory; --trajectory needs a diffusion model")
        strip = model.denoising_trajectory(args.frames, label=args.label, **options).cpu()
        save_image_grid(strip, Path(args.trajectory), nrow=len(strip) // 2)
        print(f"trajectory (top: x_t from noise to sample; bottom: predicted x0) written to {args.trajectory}",
              file=sys.stderr)
    return _done(out, f"{len(images)} samples")


def _sampler_options(model: Any, args: argparse.Namespace) -> dict[str, Any]:
    """The sampler flags the user gave, checked against what the model's sample() accepts."""
    import inspect

    given = {k: getattr(args, k) for k in ("sampler", "steps", "eta", "guidance") if getattr(args, k) is not None}
    accepted = inspect.signature(model.sample).parameters
    refused = [k for k in given if k not in accepted]
    if refused:
        raise ConfigError(f"model '{model.registry_name}' does not take --{refused[0]} (sampler options are for "
                          f"models such as ddpm)")
    return given


def cmd_reconstruct(args: argparse.Namespace) -> int:
    _positive("n", args.n)
    model = _model(args, latent=True)
    x, y = _images(args, args.split, list(range(args.n)))
    labels = y.to(model.device) if model.requires_labels else None
    rec = model.reconstruct(x.to(model.device), labels).cpu()
    nrow = min(8, args.n)
    rows = [t for i in range(0, args.n, nrow) for t in (x[i:i + nrow], rec[i:i + nrow])]
    out = Path(args.out or Path(args.run) / "reconstructions.png")
    save_image_grid(torch.cat(rows), out, nrow=nrow)
    mse = float((rec - x).pow(2).mean())
    print(f"mean squared error per pixel: {mse:.5f}", file=sys.stderr)
    return _done(out, "reconstructions")


def cmd_interpolate(args: argparse.Namespace) -> int:
    _positive("steps", args.steps)
    model = _model(args, latent=True)
    x, y = _images(args, "test", [args.a, args.b])
    x = x.to(model.device)
    label = int(y[0]) if model.requires_labels else None  # conditional: keep the first image's class
    strip = model.interpolate(x[0], x[1], steps=args.steps, method=args.method, label=label).cpu()
    out = Path(args.out or Path(args.run) / "interpolation.png")
    save_image_grid(torch.cat([x[:1].cpu(), strip, x[1:].cpu()]), out, nrow=args.steps + 2)
    return _done(out, "interpolation (first and last images are the originals)")


def cmd_traverse(args: argparse.Namespace) -> int:
    _positive("steps", args.steps)
    model = _model(args, latent=True)
    x, y = _images(args, "test", [args.index])
    x = x.to(model.device)
    label = int(y[0]) if model.requires_labels else None
    dim = model._codes(x, None if label is None else y.to(model.device)).shape[1]
    dims = args.dims if args.dims is not None else list(range(min(10, dim)))
    bad = [d for d in dims if not 0 <= d < dim]
    if bad:
        raise ConfigError(f"latent dimension {bad[0]} is out of range: the code has {dim} dimensions")
    grid = model.traverse(x[0], dims, span=args.span, steps=args.steps, label=label).cpu()
    out = Path(args.out or Path(args.run) / "traversal.png")
    save_image_grid(grid, out, nrow=args.steps)
    return _done(out, f"traversal of dimensions {dims}")


def _unconditional(model: LatentModel, command: str) -> None:
    if model.requires_labels:
        raise ConfigError(f"`genlab {command}` works on unconditional models; '{model.registry_name}' is conditional "
                          f"(sample it with --label instead)")


def cmd_edit(args: argparse.Namespace) -> int:
    from genlab.apps.latent import attribute_vector, edit

    _positive("n", args.n)
    _positive("fit", args.fit)
    model = _model(args, latent=True)
    _unconditional(model, "edit")
    splits = _run_splits(args)
    if splits.train.y is None:
        raise ConfigError("the run's dataset has no labels, so there is no attribute to move toward")
    classes = splits.train.num_classes
    if not 0 <= args.toward < classes:
        raise ConfigError(f"--toward {args.toward} is out of range: the labels are 0..{classes - 1}")
    fit = torch.arange(min(args.fit, len(splits.train)))
    vector = attribute_vector(model, splits.train.images(fit), splits.train.y[fit] == args.toward)
    others = (splits.test.y != args.toward).nonzero().flatten()[: args.n].tolist()
    x, _ = _images(args, "test", others, splits)
    grid = edit(model, x, vector, args.strength).cpu()
    out = Path(args.out or Path(args.run) / f"edit_toward_{args.toward}.png")
    save_image_grid(grid, out, nrow=len(args.strength))
    return _done(out, f"edits toward {args.toward} (rows: images, columns: strengths {args.strength})")


def cmd_manifold(args: argparse.Namespace) -> int:
    from genlab.apps.latent import manifold_grid

    _positive("steps", args.steps)
    model = _model(args, latent=True)
    _unconditional(model, "manifold")
    dim = getattr(model.config, "latent_dim", None)
    if dim != 2:
        raise ConfigError(f"the manifold grid needs a 2-D latent space; this model's has {dim} dimensions "
                          f"(train with --latent-dim 2, or use `genlab embed` for a 2-D map of any code)")
    out = Path(args.out or Path(args.run) / "manifold.png")
    save_image_grid(manifold_grid(model, args.steps, args.span).cpu(), out, nrow=args.steps)
    return _done(out, f"{args.steps}x{args.steps} manifold grid")
