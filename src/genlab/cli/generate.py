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
from genlab.models.base import LatentModel, default_labels, interpolate_codes
from genlab.training.distributed import resolve_device
from genlab.runs.run import load, read_run_config


def register(sub: Any, argv: list[str]) -> None:
    p = sub.add_parser("sample", help="draw new images from a trained model")
    _common(p)
    p.add_argument("--n", type=int, default=64, help="number of images (default: 64)")
    p.add_argument("--out", help="PNG grid, or .npz of uint8 images (and labels); for sequence runs a PNG "
                   "plot, a .csv or an .npz of float series (default: RUN/sample.png)")
    p.add_argument("--nrow", type=int, default=0, help="images per grid row (default: square)")
    p.add_argument("--label", help="class to generate, an index or a class name (conditional models)")
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


def _sequences(model: Any) -> bool:
    """True for a run trained on sequences (T, F) rather than images."""
    return model.data_kind == "sequences"


IMAGE_OUTPUTS = (".png", ".npz")
SERIES_OUTPUTS = (".png", ".csv", ".npz")


def _out(args: argparse.Namespace, default: str, suffixes: tuple[str, ...] = (".png",)) -> Path:
    """--out (or RUN/default), checked before any work: a known extension, not a folder, a writable place."""
    out = Path(args.out or Path(args.run) / default)
    if out.is_dir():
        raise ConfigError(f"--out {out} is a directory; give a file name ending in {' or '.join(suffixes)}")
    if out.suffix.lower() not in suffixes:
        raise ConfigError(f"--out {out}: unknown file type '{out.suffix}'; `genlab {args.command}` writes "
                          f"{' or '.join(suffixes)}")
    for parent in out.parents:
        if parent.exists():
            if not parent.is_dir():
                raise ConfigError(f"--out {out}: {parent} is a file, not a folder")
            break
    return out


def _series_out(model: Any, args: argparse.Namespace, series: torch.Tensor, out: Path, **plot: Any) -> None:
    """Write sequences (N, T, F) in the run's units as a line-plot PNG, a CSV or an .npz."""
    from genlab.apps.series import columns, run_info, save_series_csv, save_series_npz, save_series_plot, to_units

    info = run_info(args.run)
    names = columns(info, series.shape[-1])
    values = to_units(series, info)
    if out.suffix == ".csv":
        save_series_csv(values, out, names)
    elif out.suffix == ".npz":
        save_series_npz(values, out, names)
    else:
        overlay = plot.pop("overlay", None)
        save_series_plot(list(values), out, names, overlay=None if overlay is None else list(to_units(overlay, info)),
                         **plot)


def _no_sequences(model: Any, command: str) -> None:
    if _sequences(model):
        raise ConfigError(f"`genlab {command}` draws image grids; this '{model.registry_name}' run was trained on "
                          f"sequences (sample, reconstruct, interpolate and traverse plot sequences)")


def cmd_sample(args: argparse.Namespace) -> int:
    _positive("n", args.n)
    model = _model(args)
    if not model.generative:
        raise ConfigError(f"model '{model.registry_name}' is not generative and cannot sample")
    sequences = _sequences(model)
    out = _out(args, "sample.png", SERIES_OUTPUTS if sequences else IMAGE_OUTPUTS)
    if args.trajectory:  # checked before anything is written
        _positive("frames", args.frames)
        if not model.has_trajectory:
            raise ConfigError(f"model '{model.registry_name}' has no denoising trajectory; --trajectory needs a diffusion model")
    labels = label = None
    if args.label is not None:
        classes = model.num_classes
        if not classes:
            raise ConfigError(f"model '{model.registry_name}' is not conditional; --label needs a conditional model")
        label = _class_index(args, "label", args.label, classes)
        labels = torch.full((args.n,), label, dtype=torch.long, device=model.device)
    nrow = args.nrow or None
    options = _sampler_options(model, args)
    if labels is None and model.requires_labels:  # a conditional model: one row per class
        images, per_row = model.sample_grid(args.n, **options)
        nrow = nrow or per_row
        classes = model.num_classes
        if classes and len(images) % classes == 0:
            labels = default_labels(len(images), classes, run=len(images) // classes)
    else:
        images = model.sample(args.n, labels=labels, **options)
    if sequences:
        _series_out(model, args, images, out, titles=[f"sample {i}" for i in range(len(images))])
    elif out.suffix == ".npz":
        save_images_npz(images, out, labels)
    else:
        save_image_grid(images, out, nrow=nrow)
        names = _class_names(args)
        if labels is not None and names and label is None and nrow and not args.nrow:  # a row per class
            _name_rows(out, [names[int(c)] if int(c) < len(names) else str(int(c)) for c in labels[::nrow]])
    if args.trajectory:
        strip = model.denoising_trajectory(args.frames, label=label, **options).cpu()
        save_image_grid(strip, Path(args.trajectory), nrow=len(strip) // 2)
        print(f"trajectory (top: x_t from noise to sample; bottom: predicted x0) written to {args.trajectory}",
              file=sys.stderr)
    return _done(out, f"{len(images)} samples")


def _class_names(args: argparse.Namespace) -> list[str]:
    """Class names of the run's dataset (image folders record them), or []."""
    from genlab.apps.series import run_info

    return [str(n) for n in run_info(args.run).get("classes") or []]


def _name_rows(path: Path, names: list[str]) -> None:
    """Put a column with each row's name to the left of a grid PNG (one name per row of images)."""
    import io as _io

    from PIL import Image, ImageDraw, ImageFont

    from genlab.io import atomic_write_bytes

    grid = Image.open(path).convert("RGB")
    font = ImageFont.load_default()
    draw = ImageDraw.Draw(grid)
    width = max(int(draw.textlength(n, font=font)) for n in names) + 8
    out = Image.new("RGB", (grid.width + width, grid.height), "white")
    out.paste(grid, (width, 0))
    pen, row_h = ImageDraw.Draw(out), grid.height / len(names)
    for r, name in enumerate(names):
        pen.text((4, int((r + 0.5) * row_h) - 5), name, fill="black", font=font)
    buf = _io.BytesIO()
    out.save(buf, format="PNG")
    atomic_write_bytes(path, buf.getvalue())


def _class_index(args: argparse.Namespace, flag: str, value: str, classes: int) -> int:
    """A class given by index or by name (folder datasets record their class names in the run)."""
    names = _class_names(args)
    if value in names:
        return names.index(value)
    try:
        index = int(value)
    except ValueError:
        known = f"the classes are {', '.join(names)}" if names else "this run has no class names; give an index"
        raise ConfigError(f"--{flag} {value!r} is not a class: {known}") from None
    if not 0 <= index < classes:
        raise ConfigError(f"--{flag} {index} is out of range: the model knows classes 0..{classes - 1}")
    return index


def _sampler_options(model: Any, args: argparse.Namespace) -> dict[str, Any]:
    """The sampler flags the user gave, checked against what the model's sample() accepts."""
    given = {k: getattr(args, k) for k in ("sampler", "steps", "eta", "guidance") if getattr(args, k) is not None}
    accepted = model.sample_options
    refused = [k for k in given if k not in accepted]
    if refused:
        raise ConfigError(f"model '{model.registry_name}' does not take --{refused[0]} (sampler options are for "
                          f"models such as ddpm)")
    return given


def cmd_reconstruct(args: argparse.Namespace) -> int:
    _positive("n", args.n)
    model = _model(args, latent=True)
    sequences = _sequences(model)
    out = _out(args, "reconstructions.png", SERIES_OUTPUTS if sequences else (".png",))
    splits = _run_splits(args)
    n = min(args.n, len(splits[args.split]))
    x, y = _images(args, args.split, list(range(n)), splits)
    labels = y.to(model.device) if model.requires_labels else None
    rec = model.reconstruct(x.to(model.device), labels).cpu()
    if sequences:
        if out.suffix == ".png":  # input solid, reconstruction dashed
            _series_out(model, args, x, out, overlay=rec, titles=[f"{args.split} {i}" for i in range(n)])
        else:
            _series_out(model, args, rec, out)
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


def cmd_interpolate(args: argparse.Namespace) -> int:
    _positive("steps", args.steps)
    model = _model(args, latent=True)
    sequences = _sequences(model)
    out = _out(args, "interpolation.png", SERIES_OUTPUTS if sequences else (".png",))
    x, y = _images(args, "test", [args.a, args.b])
    x = x.to(model.device)
    label = int(y[0]) if model.requires_labels else None  # conditional: keep the first image's class
    if sequences:
        z = model.encode(x)
        t = torch.linspace(0, 1, args.steps, device=z.device)[:, None]
        strip = model.decode(interpolate_codes(z[0], z[1], t, args.method)).cpu()
        _series_out(model, args, torch.cat([x[:1].cpu(), strip, x[1:].cpu()]), out,
                    titles=[f"test {args.a}"] + [f"t = {float(v):.2f}" for v in t] + [f"test {args.b}"])
        return _done(out, "interpolation (first and last plots are the originals)")
    strip = model.interpolate(x[0], x[1], steps=args.steps, method=args.method, label=label).cpu()
    save_image_grid(torch.cat([x[:1].cpu(), strip, x[1:].cpu()]), out, nrow=args.steps + 2)
    return _done(out, "interpolation (first and last images are the originals)")


def cmd_traverse(args: argparse.Namespace) -> int:
    _positive("steps", args.steps)
    model = _model(args, latent=True)
    sequences = _sequences(model)
    out = _out(args, "traversal.png", SERIES_OUTPUTS if sequences else (".png",))
    x, y = _images(args, "test", [args.index])
    x = x.to(model.device)
    label = int(y[0]) if model.requires_labels else None
    dim = model._codes(x, None if label is None else y.to(model.device)).shape[1]
    dims = args.dims if args.dims is not None else list(range(min(10, dim)))
    bad = [d for d in dims if not 0 <= d < dim]
    if bad:
        raise ConfigError(f"latent dimension {bad[0]} is out of range: the code has {dim} dimensions")
    if sequences:
        z = model.encode(x)[0]
        values = torch.linspace(-args.span, args.span, args.steps, device=z.device)
        codes = z.repeat(len(dims) * args.steps, 1)
        for row, d in enumerate(dims):
            codes[row * args.steps:(row + 1) * args.steps, d] = values
        titles = [f"z[{d}] = {float(v):.2f}" for d in dims for v in values]
        _series_out(model, args, model.decode(codes).cpu(), out, titles=titles, ncols=args.steps)
        return _done(out, f"traversal of dimensions {dims} (a row per dimension)")
    grid = model.traverse(x[0], dims, span=args.span, steps=args.steps, label=label).cpu()
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
    _no_sequences(model, "edit")
    out = _out(args, f"edit_toward_{args.toward}.png")
    splits = _run_splits(args)
    if splits.train.y is None:
        raise ConfigError("the run's dataset has no labels, so there is no attribute to move toward")
    toward = _class_index(args, "toward", args.toward, splits.train.num_classes)
    fit = torch.arange(min(args.fit, len(splits.train)))
    vector = attribute_vector(model, splits.train.images(fit), splits.train.y[fit] == toward)
    others = (splits.test.y != toward).nonzero().flatten()[: args.n].tolist()
    x, _ = _images(args, "test", others, splits)
    grid = edit(model, x, vector, args.strength).cpu()
    save_image_grid(grid, out, nrow=len(args.strength))
    return _done(out, f"edits toward {args.toward} (rows: images, columns: strengths {args.strength})")


def cmd_manifold(args: argparse.Namespace) -> int:
    from genlab.apps.latent import manifold_grid

    _positive("steps", args.steps)
    model = _model(args, latent=True)
    _unconditional(model, "manifold")
    _no_sequences(model, "manifold")
    out = _out(args, "manifold.png")
    dim = model.config.latent_dim
    if dim != 2:
        raise ConfigError(f"the manifold grid needs a 2-D latent space; this model's has {dim} dimensions "
                          f"(train with --latent-dim 2, or use `genlab embed` for a 2-D map of any code)")
    save_image_grid(manifold_grid(model, args.steps, args.span).cpu(), out, nrow=args.steps)
    return _done(out, f"{args.steps}x{args.steps} manifold grid")
