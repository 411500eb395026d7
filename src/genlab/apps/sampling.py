"""What the commands over a trained model decide, as library functions: which model a command
takes, which sampler options and labels it accepts, and how samples, series strips and traversals
are drawn. ``cli/generate.py`` parses flags and calls these; the run directory's part (the run's
data, binarized as in training) is ``runs.run.run_splits`` / ``run_images``.
"""
from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from genlab.apps.latent import attribute_vector
from genlab.apps.series import columns, run_info, save_series_csv, save_series_npz, save_series_plot, to_units
from genlab.data.base import ArrayDataset
from genlab.errors import ConfigError
from genlab.models.base import GenerativeModel, LatentModel, default_labels, interpolate_codes
from genlab.models.translation import ImageTranslator

IMAGE_OUTPUTS = (".png", ".npz")
SERIES_OUTPUTS = (".png", ".csv", ".npz")
SAMPLER_OPTIONS = ("sampler", "steps", "eta", "guidance", "truncation", "noise", "stage", "length")


def check_positive(name: str, value: int) -> None:
    """Refuse a count below 1, naming its flag."""
    if value < 1:
        raise ConfigError(f"--{name} must be at least 1, got {value}")


def is_sequence_model(model: Any) -> bool:
    """True for a model trained on sequences (T, F) rather than images."""
    return model.data_kind == "sequences"


def require_latent(model: GenerativeModel, command: str) -> LatentModel:
    """The model, if it has an encoder (``command`` needs one)."""
    if not isinstance(model, LatentModel):
        raise ConfigError(f"model '{model.registry_name}' has no encoder; `{command}` needs an "
                          f"autoencoder-family model")
    return model


def require_unconditional(model: GenerativeModel, command: str) -> None:
    if model.requires_labels:
        raise ConfigError(f"`genlab {command}` works on unconditional models; '{model.registry_name}' is conditional "
                          f"(sample it with --label instead)")


def require_images(model: GenerativeModel, command: str) -> None:
    if is_sequence_model(model):
        raise ConfigError(f"`genlab {command}` draws image grids; this '{model.registry_name}' run was trained on "
                          f"sequences (sample, reconstruct, interpolate and traverse plot sequences)")


def require_frame_prediction(model: GenerativeModel) -> Callable[[torch.Tensor, int], torch.Tensor]:
    """The model's ``predict_frames`` (clip models that declare ``predicts_frames``), for `genlab predict`."""
    if not model.predicts_frames:
        takers = "video-vae or video-ddpm"
        raise ConfigError(f"model '{model.registry_name}' does not predict frames; `genlab predict` needs a clip "
                          f"model that does ({takers})")
    return model.predict_frames  # type: ignore[return-value]


def require_generative(model: GenerativeModel) -> None:
    if isinstance(model, ImageTranslator):
        raise ConfigError(f"model '{model.registry_name}' translates images instead of sampling them: use "
                          f"`genlab {model.command} RUN --input ... --out DIR`")
    if not model.generative:
        raise ConfigError(f"model '{model.registry_name}' is not generative and cannot sample")


def require_styles(model: GenerativeModel, command: str) -> GenerativeModel:
    """The model, if it is style-based (``has_styles``: stylegan)."""
    if not model.has_styles:
        raise ConfigError(f"`genlab {command}` needs a style-based model (stylegan); '{model.registry_name}' has no "
                          f"styles")
    return model


def style_mix_grid(model: GenerativeModel, rows: int, cols: int, truncation: float) -> tuple[torch.Tensor, list[str]]:
    """A style model's mixing grid (images, row titles); see ``StyleGAN.style_mix``."""
    # has_styles declares the method; mypy sees nn.Module's __getattr__
    return require_styles(model, "style-mix").style_mix(rows, cols, truncation)  # type: ignore[operator]


def interpolate_styles(model: GenerativeModel, steps: int, truncation: float, method: str) -> torch.Tensor:
    """Images along a path in w space between two random samples of a style model."""
    return require_styles(model, "interpolate").interpolate_w(steps, truncation, method)  # type: ignore[operator]


def require_trajectory(model: GenerativeModel) -> Callable[..., torch.Tensor]:
    """The model's ``denoising_trajectory`` (a diffusion model's), for ``--trajectory``."""
    if not model.has_trajectory:
        raise ConfigError(f"model '{model.registry_name}' has no denoising trajectory; --trajectory needs a "
                          f"diffusion model")
    # has_trajectory declares the method; mypy sees nn.Module's __getattr__ (Tensor | Module)
    return model.denoising_trajectory  # type: ignore[return-value]


def sampler_options(model: GenerativeModel, given: dict[str, Any]) -> dict[str, Any]:
    """The sampler options the user gave (None: not given), checked against what ``model.sample`` accepts."""
    given = {k: v for k, v in given.items() if v is not None}
    accepted = model.sample_options
    refused = [k for k in given if k not in accepted]
    if refused:
        raise ConfigError(f"model '{model.registry_name}' does not take --{refused[0]} (sampler options are for "
                          f"models that declare them: --sampler/--steps/--eta/--guidance diffusion, --truncation/"
                          f"--noise stylegan, --stage progan, --length sequence VAEs)")
    return given


def class_names(run: str | Path) -> list[str]:
    """Class names of a run's dataset (image folders record them in ``data_info.json``), or []."""
    return [str(n) for n in run_info(run).get("classes") or []]


def class_index(value: str, names: list[str], classes: int, flag: str) -> int:
    """A class given by index or by name (``names``: the run's class names, possibly [])."""
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


def model_classes(model: GenerativeModel) -> int:
    """The number of classes a conditional model knows, 0 for an unconditional one."""
    return model.num_classes


def require_label_model(model: GenerativeModel) -> int:
    """The classes of a conditional model (``--label`` needs one)."""
    classes = model_classes(model)
    if not classes:
        raise ConfigError(f"model '{model.registry_name}' is not conditional; --label needs a conditional model")
    return classes


def draw_samples(model: GenerativeModel, n: int, label: int | None = None,
                 **options: Any) -> tuple[torch.Tensor, torch.Tensor | None, int | None]:
    """``n`` samples: of class ``label``, or a grid of one row per class for a conditional model
    given no label, else unconditional. Returns (images, labels or None, images per row of a
    class grid or None)."""
    if label is not None:
        labels = torch.full((n,), label, dtype=torch.long, device=model.device)
        return _in_batches(model, n, labels, options), labels, None
    if not model.requires_labels:
        return _in_batches(model, n, None, options), None, None
    images, per_row = model.sample_grid(n, **options)
    classes = model_classes(model)
    grid_labels = None
    if classes and len(images) % classes == 0:
        grid_labels = default_labels(len(images), classes, run=len(images) // classes)
    return images, grid_labels, per_row


SAMPLE_BATCH = 128  # images per call of a multi-step sampler (diffusion) when many are drawn


def _in_batches(model: GenerativeModel, n: int, labels: torch.Tensor | None, options: dict[str, Any]) -> torch.Tensor:
    """``model.sample`` for n images; a model with sampler options (a multi-step sampler: diffusion) draws
    them SAMPLE_BATCH at a time, with a progress bar on an interactive stderr. One-pass samplers (GANs, VAEs)
    draw all at once, so their samples for a seed stay what they were."""
    if not model.sample_options or n <= SAMPLE_BATCH:
        return model.sample(n, labels=labels, **options)
    bar = None
    if sys.stderr.isatty():
        from tqdm.auto import tqdm  # deferred: an optional display

        bar = tqdm(total=n, desc="sampling", unit="img", leave=False, dynamic_ncols=True)
    out = []
    try:
        for i in range(0, n, SAMPLE_BATCH):
            m = min(SAMPLE_BATCH, n - i)
            out.append(model.sample(m, labels=None if labels is None else labels[i:i + m], **options))
            if bar is not None:
                bar.update(m)
    finally:
        if bar is not None:
            bar.close()
    return torch.cat(out)


def save_series(run: str | Path, series: torch.Tensor, out: Path, **plot: Any) -> None:
    """Write sequences (N, T, F) in the run's units as a line-plot PNG, a CSV or an .npz (by suffix);
    ``overlay`` (same shape) is drawn dashed over a plot."""
    info = run_info(run)
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


@torch.no_grad()
def interpolate_series(model: LatentModel, x: torch.Tensor, steps: int,
                       method: str = "linear") -> tuple[torch.Tensor, list[str]]:
    """Decoded codes between two sequences x[0], x[1], framed by them: (steps + 2, T, F) and a title each."""
    z = model.encode(x)
    t = torch.linspace(0, 1, steps, device=z.device)[:, None]
    strip = model.decode(interpolate_codes(z[0], z[1], t, method)).cpu()
    return torch.cat([x[:1].cpu(), strip, x[1:].cpu()]), [f"t = {float(v):.2f}" for v in t]


def code_dims(model: LatentModel, x: torch.Tensor, labels: torch.Tensor | None, dims: list[int] | None) -> list[int]:
    """The latent dimensions to traverse (default: the first 10), checked against the code size of x."""
    dim = model._codes(x, labels).shape[1]
    chosen = dims if dims is not None else list(range(min(10, dim)))
    bad = [d for d in chosen if not 0 <= d < dim]
    if bad:
        raise ConfigError(f"latent dimension {bad[0]} is out of range: the code has {dim} dimensions")
    return chosen


@torch.no_grad()
def traverse_series(model: LatentModel, x: torch.Tensor, dims: list[int], span: float,
                    steps: int) -> tuple[torch.Tensor, list[str]]:
    """Decoded codes of x[0] with one dimension at a time set to values over [-span, span]:
    (len(dims) * steps, T, F), a row per dimension, and a title each."""
    z = model.encode(x)[0]
    values = torch.linspace(-span, span, steps, device=z.device)
    codes = z.repeat(len(dims) * steps, 1)
    for row, d in enumerate(dims):
        codes[row * steps:(row + 1) * steps, d] = values
    return model.decode(codes).cpu(), [f"z[{d}] = {float(v):.2f}" for d in dims for v in values]


def require_labelled(data: ArrayDataset) -> torch.Tensor:
    """The labels of a split (an attribute edit moves toward one)."""
    if data.y is None:
        raise ConfigError("the run's dataset has no labels, so there is no attribute to move toward")
    return data.y


def fit_attribute(model: LatentModel, train: ArrayDataset, toward: int, fit: int) -> torch.Tensor:
    """The attribute vector "is class ``toward``" from the first ``fit`` training images."""
    labels = require_labelled(train)
    index = torch.arange(min(fit, len(train)))
    return attribute_vector(model, train.images(index), labels[index] == toward)


def others_than(data: ArrayDataset, label: int, n: int) -> list[int]:
    """Indices of the first ``n`` items of ``data`` whose label is not ``label``."""
    return (require_labelled(data) != label).nonzero().flatten()[:n].tolist()


def require_2d_latent(model: GenerativeModel) -> None:
    dim = model.config.latent_dim if isinstance(model, LatentModel) else None
    if dim != 2:
        raise ConfigError(f"the manifold grid needs a 2-D latent space; this model's has {dim} dimensions "
                          f"(train with --latent-dim 2, or use `genlab embed` for a 2-D map of any code)")
