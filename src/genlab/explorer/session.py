"""What the latent explorer can do with one run: every action the page asks for, checked and decoded here.

Every generative model of images, clips or sequences is explorable: it draws samples, and a latent
model (``decode``) or a model that declares the 'sample' export part (noise -> images or clips, e.g. a
GAN, video-vae, video-gan) adds sliders, a model with ``has_trajectory`` (diffusion, score models) its
denoising trajectory. Images are shown as they are, clips as frame strips (one clip per row) and as an
animated GIF, sequences as line plots. An image-to-image model (pix2pix, cyclegan, srresnet, srgan)
translates a test input picked by index: input | translation | target (cyclegan: input | translation |
the cycle back, in either direction; super-resolution: the low-res input, bicubic, the model's output and
the original, at one display size). A table model (ctgan, tvae; its `genlab synth fit` directory) shows
sampled rows as a table with a seed. Classifiers are refused with one line. Every
parameter of every action is checked (type, range, what the model offers) and a
bad one raises :class:`BadRequest`, which the server answers with a 400.
"""
from __future__ import annotations

import io
import math
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from genlab.apps.latent import attribute_vector
from genlab.apps.sampling import class_names, require_styles, require_trajectory
from genlab.apps.translate import apply as apply_translator
from genlab.errors import ConfigError
from genlab.io import make_grid
from genlab.models.base import GenerativeModel, LatentModel, interpolate_codes
from genlab.models.stylegan import mix_layers
from genlab.models.translation import ImageTranslator
from genlab.runs.report import training_run
from genlab.runs.run import load, read_run_config, run_images, run_splits
from genlab.tables.synthesizer import SYNTH_FILE, Synthesizer

DIRECTIONS = 8  # sliders: the top principal directions of the codes (latent models) or noise dimensions
SPAN = 3.0  # slider range, in standard deviations along a direction
TEST_IMAGES = 32  # test images offered as bases / interpolation ends
FIT_CODES = 256  # codes whose principal directions the sliders follow
ATTRIBUTE_FIT = 500  # training images an attribute vector is fitted on
MAX_SEED = 2**31 - 1
TABLE_ROWS = 12  # rows the table action samples


class BadRequest(ConfigError):
    """A request the explorer cannot serve (answered with a 400 and this message)."""


STYLE_LEVELS = ("coarse", "middle", "fine", "all")  # the layers the row source gives in style mixing


class Params:
    """A request's query values, read once each with a type and a range; unknown names are refused."""

    def __init__(self, query: Mapping[str, list[str]], allowed: set[str]):
        unknown = sorted(set(query) - allowed)
        if unknown:
            takes = ", ".join(sorted(allowed)) or "none"
            raise BadRequest(f"unknown parameter '{unknown[0]}' (this action takes: {takes})")
        self.query = query

    def _raw(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else None

    def integer(self, name: str, low: int, high: int, default: int | None = None) -> int:
        raw = self._raw(name)
        if raw is None:
            if default is None:
                raise BadRequest(f"'{name}' is required")
            return default
        try:
            value = int(raw)
        except ValueError:
            raise BadRequest(f"'{name}' must be an integer, got {raw[:40]!r}") from None
        if not low <= value <= high:
            raise BadRequest(f"'{name}' must be in {low}..{high}, got {value}")
        return value

    def number(self, name: str, low: float, high: float, default: float) -> float:
        raw = self._raw(name)
        return default if raw is None else _number(name, raw, low, high)

    def floats(self, name: str, count: int, low: float, high: float) -> list[float]:
        raw = self._raw(name)
        if raw is None or raw == "":
            return [0.0] * count
        parts = raw.split(",")
        if len(parts) != count:
            raise BadRequest(f"'{name}' must hold {count} comma-separated numbers, got {len(parts)}")
        return [_number(name, p, low, high) for p in parts]

    def choice(self, name: str, choices: tuple[str, ...]) -> str:
        raw = self._raw(name)
        if raw is None:
            return choices[0]
        if raw not in choices:
            raise BadRequest(f"'{name}' must be one of {', '.join(choices)}, got {raw[:40]!r}")
        return raw


def _number(name: str, raw: str, low: float, high: float) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise BadRequest(f"'{name}' must be a number, got {raw[:40]!r}") from None
    if not math.isfinite(value) or not low <= value <= high:
        raise BadRequest(f"'{name}' must be between {low:g} and {high:g}, got {raw[:40]}")
    return value


def png(images: torch.Tensor, nrow: int | None = None, size: int = 160) -> bytes:
    """Images in [0, 1] (N, C, H, W) as one PNG, each enlarged (nearest) to about ``size`` pixels."""
    from PIL import Image

    grid = make_grid(images.detach().float().cpu(), nrow)
    img = Image.fromarray(grid[..., 0] if grid.shape[-1] == 1 else grid)
    scale = max(1, size // max(images.shape[-1], 1))
    if scale > 1:
        img = img.resize((img.width * scale, img.height * scale), Image.Resampling.NEAREST)
    buf = io.BytesIO()
    img.save(buf, format="PNG", compress_level=1)  # speed over size: it goes over loopback
    return buf.getvalue()


PLOT_COLOURS = ((31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75))


def plot_png(series: torch.Tensor, low: float, high: float, nrow: int | None = None, width: int = 200,
             height: int = 90) -> bytes:
    """Sequences (N, T, F) as one PNG of line plots, one panel per sequence and one line per feature, on a
    fixed value range [low, high] (so a slider's change shows as a change of the curve, not of the axis)."""
    from PIL import Image, ImageDraw

    values = series.detach().float().cpu()
    n, t = values.shape[:2]
    cols = nrow or max(1, math.ceil(math.sqrt(n)))
    rows = math.ceil(n / cols)
    img = Image.new("RGB", (cols * width + 2, rows * height + 2), "white")
    draw = ImageDraw.Draw(img)
    span = max(high - low, 1e-6)
    for i in range(n):
        x0, y0 = 1 + (i % cols) * width, 1 + (i // cols) * height
        draw.rectangle([x0, y0, x0 + width - 2, y0 + height - 2], outline=(200, 200, 200))
        if low < 0 < high:  # the zero line
            zero = y0 + (height - 3) * (high / span)
            draw.line([(x0, zero), (x0 + width - 2, zero)], fill=(230, 230, 230))
        for f in range(values.shape[2]):
            ys = values[i, :, f].clamp(low, high).tolist()
            points = [(x0 + 2 + (width - 6) * k / max(1, t - 1), y0 + 1 + (height - 4) * (high - y) / span)
                      for k, y in enumerate(ys)]
            draw.line(points, fill=PLOT_COLOURS[f % len(PLOT_COLOURS)], width=2)
    buf = io.BytesIO()
    img.save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def gif(clip: torch.Tensor, size: int = 160, ms: int = 150) -> bytes:
    """One clip (T, C, H, W) in [0, 1] as an endlessly looping animated GIF, frames enlarged to ``size``."""
    from PIL import Image

    frames = []
    for frame in clip.detach().float().cpu():
        pixels = (frame.clamp(0, 1) * 255).round().byte().permute(1, 2, 0).numpy()
        img = Image.fromarray(pixels[..., 0] if pixels.shape[-1] == 1 else pixels)
        scale = max(1, size // max(frame.shape[-1], 1))
        frames.append(img.resize((img.width * scale, img.height * scale), Image.Resampling.NEAREST))
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:], duration=ms, loop=0)
    return buf.getvalue()


def table_png(frame: Any, width: int = 132, height: int = 18) -> bytes:
    """A DataFrame as one PNG table: a header row, then one row per row, cells cut to fit (missing: blank)."""
    from PIL import Image, ImageDraw

    columns = [str(c) for c in frame.columns]
    cells = [[_cell(v) for v in row] for row in frame.itertuples(index=False)]
    img = Image.new("RGB", (width * len(columns) + 1, height * (len(cells) + 1) + 1), "white")
    draw = ImageDraw.Draw(img)
    chars = max(4, (width - 6) // 6)  # PIL's default bitmap font is about 6 px a character
    for r, row in enumerate([columns, *cells]):
        if r == 0:
            draw.rectangle([0, 0, img.width - 1, height], fill=(240, 240, 240))
        for c, text in enumerate(row):
            x, y = c * width, r * height
            draw.rectangle([x, y, x + width, y + height], outline=(200, 200, 200))
            draw.text((x + 3, y + 3), text if len(text) <= chars else text[:chars - 1] + "~", fill=(20, 20, 20))
    buf = io.BytesIO()
    img.save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def _cell(value: Any) -> str:
    import pandas as pd

    if value is None or (not isinstance(value, str) and bool(pd.isna(value))):
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def explorable(model: GenerativeModel) -> str | None:
    """Why a model cannot be explored (None: it can)."""
    name = model.registry_name
    if model.tabular:
        return None  # sampled rows as a table, through the `genlab synth fit` directory's transformer
    if isinstance(model, ImageTranslator):
        return None  # it translates (or upscales) test inputs instead of sampling
    if not model.generative:
        return f"model '{name}' is not generative: it has nothing to decode"
    if model.data_kind not in ("images", "clips", "sequences"):
        return f"model '{name}' was trained on {model.data_kind}; the explorer shows images, clips and sequences"
    return None


class Explorer:
    """One run's model and what the page can ask of it (thread-safe: one action at a time)."""

    def __init__(self, run_dir: str | Path):
        self.run_dir = training_run(run_dir)  # a `genlab synth fit` directory: its training run (refused below)
        read_run_config(self.run_dir)  # not a run: one line saying so
        self.model = load(self.run_dir)
        why = explorable(self.model)
        if why is not None:
            raise ConfigError(f"cannot explore {self.run_dir}: {why}")
        self.synth: Synthesizer | None = None
        if self.model.tabular:  # decoded rows need the transformer of the synth directory around the run
            if not (self.run_dir.parent / SYNTH_FILE).is_file():
                raise ConfigError(f"cannot explore {self.run_dir}: a table model's rows need the transformer of its "
                                  f"`genlab synth fit` directory ({SYNTH_FILE} beside {self.run_dir.name}/)")
            self.synth = Synthesizer.load(self.run_dir.parent)
        self.lock = threading.Lock()
        self.classes = self.model.num_classes
        self.names = class_names(self.run_dir)
        self.latent_model = self.model if isinstance(self.model, LatentModel) else None
        self.latent = self.latent_model is not None
        self.noise = not self.latent and "sample" in self.model.export_parts and self.synth is None
        self.attributes: dict[int, torch.Tensor] = {}
        self.timings: list[float] = []
        self.test: torch.Tensor | None = None
        self.test_labels: torch.Tensor | None = None
        self.directions: torch.Tensor | None = None
        self.scales: torch.Tensor | None = None
        self.train_labels: torch.Tensor | None = None
        self.kind = self.model.data_kind  # images, clips, sequences or tables: how outputs are drawn
        self.value_range = (0.0, 1.0)  # the plots' fixed value axis (sequences)
        self.translator = self.model if isinstance(self.model, ImageTranslator) else None
        if self.translator is not None:
            self._load_inputs()
        elif self.latent:
            self._fit_latent()
        elif self.noise:
            dims = math.prod(self.model.noise_shape())
            self.directions = torch.eye(dims)[:DIRECTIONS]
            self.scales = torch.ones(len(self.directions))

    @torch.no_grad()
    def _fit_latent(self) -> None:
        """Test images to start from, and the principal directions (and spreads) of their codes."""
        model = self.latent_model
        assert model is not None
        self.splits = run_splits(self.run_dir)
        n = min(FIT_CODES, len(self.splits["test"]))
        if n < 2:
            raise ConfigError(f"cannot explore {self.run_dir}: its test split has {n} image(s); at least 2 are needed")
        x, y = run_images(self.run_dir, "test", list(range(n)), splits=self.splits)
        self.test, self.test_labels = x[:TEST_IMAGES], None if y is None else y[:TEST_IMAGES]
        labels = y if self.classes and y is not None else None
        if self.classes and labels is None:
            labels = torch.zeros(n, dtype=torch.long)
        codes = model._codes(x.to(model.device), None if labels is None else labels.to(model.device)).float().cpu()
        centred = codes - codes.mean(0)
        _, s, vh = torch.linalg.svd(centred, full_matrices=False)
        k = min(DIRECTIONS, vh.shape[0])
        self.directions = vh[:k]
        self.scales = (s[:k] / math.sqrt(max(1, n - 1))).clamp_min(1e-3)  # std of the codes along each direction
        self.train_labels = self.splits["train"].y
        if self.kind == "sequences":  # the test sequences' range, with a margin
            low, high = float(x.min()), float(x.max())
            pad = 0.15 * max(high - low, 1e-3)
            self.value_range = (low - pad, high + pad)

    def _load_inputs(self) -> None:
        """An image-to-image model's test inputs: the first packed test pairs of its run's data."""
        self.splits = run_splits(self.run_dir)
        n = min(TEST_IMAGES, len(self.splits["test"]))
        if n < 1:
            raise ConfigError(f"cannot explore {self.run_dir}: its test split has no images to translate")
        self.test, _ = run_images(self.run_dir, "test", list(range(n)), splits=self.splits)

    def render(self, out: torch.Tensor, nrow: int | None = None, size: int = 160) -> bytes:
        """A model output as one PNG: images (N, C, H, W) as a grid, clips (N, T, C, H, W) as frame strips
        (one clip per row), sequences (N, T, F) as line plots."""
        if self.kind == "clips":
            return png(out.flatten(0, 1), out.shape[1], size=min(size, 64))
        if self.kind == "sequences":
            low, high = self.value_range if self.latent else (float(out.min()) - 0.1, float(out.max()) + 0.1)
            return plot_png(out, low, high, nrow)
        return png(out, nrow, size=size)

    # ------------------------------------------------------------------------------- info

    def info(self) -> dict[str, Any]:
        model = self.model
        can_attribute = self.latent and not self.classes and self.train_labels is not None
        return {
            "run": str(self.run_dir), "model": model.registry_name,
            "classes": self.classes, "class_names": self.names or [str(i) for i in range(self.classes)],
            "sample": self.translator is None and self.synth is None,
            "sliders": len(self.directions) if self.directions is not None else 0,
            "slider_kind": "principal directions of the codes" if self.latent else "noise dimensions",
            "span": SPAN, "base": "image" if self.latent else "seed",
            "test_images": 0 if self.test is None else len(self.test),
            "interpolate": self.latent, "attribute": can_attribute,
            "attribute_classes": int(self.train_labels.max()) + 1 if can_attribute and self.train_labels is not None
            else 0,
            "trajectory": model.has_trajectory, "kind": self.kind,
            "clip_length": int(model.config.data_shape[0]) if self.kind == "clips" else 0,
            "style_mixing": model.has_styles, "style_levels": list(STYLE_LEVELS) if model.has_styles else [],
            "translate": self.translator is not None,
            "directions": list(self.translator.generators) if self.translator is not None else [],
            "translate_columns": {d: list(self._columns(d)) for d in self.translator.generators}
            if self.translator is not None else {},
            "command": self.translator.command if self.translator is not None else "",
            "rows": self.synth is not None, "table_rows": TABLE_ROWS if self.synth is not None else 0,
        }

    # ------------------------------------------------------------------------------- actions

    def _label(self, p: Params, required: bool = True) -> int | None:
        if not self.classes:
            if p._raw("label") is not None:
                raise BadRequest(f"model '{self.model.registry_name}' is not conditional: it takes no label")
            return None
        return p.integer("label", 0, self.classes - 1, 0)

    def _timed(self, make: Callable[[], torch.Tensor]) -> torch.Tensor:
        with self.lock, torch.no_grad(), torch.random.fork_rng(devices=[]):
            start = time.perf_counter()
            out = make()
            self.timings.append(time.perf_counter() - start)
            del self.timings[:-200]
            return out

    def rows(self, query: Mapping[str, list[str]]) -> bytes:
        """TABLE_ROWS rows sampled by a table model (``genlab synth sample``'s path) with a seed, as a PNG table."""
        synth = self.synth
        if synth is None:
            raise BadRequest(f"model '{self.model.registry_name}' does not make table rows (ctgan and tvae do)")
        p = Params(query, {"seed"})
        seed = p.integer("seed", 0, MAX_SEED, 0)
        with self.lock:
            start = time.perf_counter()
            frame = synth.sample(TABLE_ROWS, seed=seed)
            self.timings.append(time.perf_counter() - start)
            del self.timings[:-200]
        return table_png(frame)

    def sample(self, query: Mapping[str, list[str]]) -> bytes:
        if self.synth is not None:
            raise BadRequest(f"model '{self.model.registry_name}' samples table rows: the rows action shows them")
        if self.translator is not None:
            raise BadRequest(f"model '{self.model.registry_name}' {self.translator.command}s images instead of "
                             f"sampling them (the translate action shows it on a test input)")
        p = Params(query, {"seed", "label"})
        seed, label = p.integer("seed", 0, MAX_SEED, 0), self._label(p)
        n = 4 if self.kind == "clips" else 8 if self.model.has_trajectory or self.kind == "sequences" else 16

        def draw() -> torch.Tensor:
            torch.manual_seed(seed)
            labels = None if label is None else torch.full((n,), label, dtype=torch.long, device=self.model.device)
            return self.model.sample(n, labels)

        return self.render(self._timed(draw), {16: 8, 8: 4}.get(n), size=64)

    def clip(self, query: Mapping[str, list[str]]) -> bytes:
        """One sampled clip (the seed's first) as an animated GIF (clip models)."""
        if self.kind != "clips":
            raise BadRequest(f"model '{self.model.registry_name}' makes {self.kind}, not clips: nothing to animate")
        p = Params(query, {"seed"})
        seed = p.integer("seed", 0, MAX_SEED, 0)

        def draw() -> torch.Tensor:
            torch.manual_seed(seed)
            return self.model.sample(4)  # the same draw as the sample action's: its first clip

        return gif(self._timed(draw)[0])

    def _base_code(self, p: Params, label: int | None) -> torch.Tensor:
        model = self.model
        if self.latent_model is not None and self.test is not None:
            index = p.integer("base", 0, len(self.test) - 1, 0)
            x = self.test[index:index + 1].to(model.device)
            labels = None if label is None else torch.tensor([label], device=model.device)
            return self.latent_model._codes(x, labels)[0].float()
        seed = p.integer("base", 0, MAX_SEED, 0)
        torch.manual_seed(seed)
        return torch.randn(model.noise_shape()).flatten().to(model.device)

    def _decode(self, z: torch.Tensor, label: int | None) -> torch.Tensor:
        model = self.model
        labels = None if label is None else torch.full((len(z),), label, dtype=torch.long, device=model.device)
        if self.latent_model is not None:
            return self.latent_model._images(z, labels)
        return model.sample_from_noise(z.reshape(len(z), *model.noise_shape()), labels)

    def decode(self, query: Mapping[str, list[str]]) -> bytes:
        """The base (a test image's code, or a seed's noise) moved along the sliders' directions."""
        if self.directions is None or self.scales is None:
            raise BadRequest(f"model '{self.model.registry_name}' has no latent space to slide through "
                             f"(it offers samples{' and a denoising trajectory' if self.model.has_trajectory else ''})")
        directions, scales = self.directions, self.scales
        p = Params(query, {"base", "label", "v"})
        label = self._label(p)
        values = p.floats("v", len(directions), -SPAN, SPAN)

        def make() -> torch.Tensor:
            z = self._base_code(p, label)
            step = (torch.tensor(values) * scales) @ directions
            return self._decode((z + step.to(z.device))[None], label)

        return self.render(self._timed(make))

    def test_image(self, query: Mapping[str, list[str]]) -> bytes:
        if self.test is None:
            raise BadRequest(f"model '{self.model.registry_name}' has no encoder: there are no test images to pick")
        p = Params(query, {"index"})
        x = self.test[p.integer("index", 0, len(self.test) - 1)][None]
        if self.translator is not None:  # a packed pair: its A side, the model's input
            x = self.translator.split_packed(x.float())[0]
        return self.render(x, size=64)

    def _columns(self, direction: str) -> tuple[str, ...]:
        """The panels the translate action shows, left to right."""
        model = self.translator
        assert model is not None
        if model.command == "upscale":
            return ("low-res input", "bicubic", f"{model.registry_name}", "original")
        if len(model.generators) > 1:  # cyclegan: no target in unpaired data; the way back instead
            back = direction[::-1]
            return (f"input ({direction[0]})", f"{direction[0]} -> {direction[1]}",
                    f"cycle back ({back[0]} -> {back[1]})")
        return ("input (A)", "A -> B", "target (B)")

    def translate(self, query: Mapping[str, list[str]]) -> bytes:
        """A test input translated (or upscaled) by the model, beside its target (or the cycle back): one
        row of panels (:meth:`_columns`), every panel at the output's size (nearest), gray shown as RGB
        where another panel has colour."""
        model, test = self.translator, self.test
        if model is None or test is None:
            raise BadRequest(f"model '{self.model.registry_name}' does not translate images (image-to-image "
                             f"models do: pix2pix, cyclegan, srresnet, srgan)")
        p = Params(query, {"index", "direction"})
        index = p.integer("index", 0, len(test) - 1, 0)
        direction = p.choice("direction", tuple(model.generators))

        def make() -> torch.Tensor:
            a, b = model.split_packed(test[index:index + 1].float())
            if model.command == "upscale":
                out = apply_translator(model, a).float().cpu()
                bicubic = F.interpolate(a, size=tuple(out.shape[-2:]), mode="bicubic", align_corners=False)
                panels = [a, bicubic.clamp(0, 1), out, b]
            else:
                source = a if direction == "AB" else b
                out = model.translate(source, direction).float().cpu()
                last = (model.translate(out, direction[::-1]).float().cpu() if len(model.generators) > 1
                        else b)
                panels = [source, out, last]
            size = tuple(out.shape[-2:])
            channels = max(t.shape[1] for t in panels)
            shown = []
            for t in panels:
                t = t.float().cpu()
                t = t.expand(-1, channels, -1, -1) if t.shape[1] != channels else t
                shown.append(t if tuple(t.shape[-2:]) == size else F.interpolate(t, size=size, mode="nearest"))
            return torch.cat(shown)

        out = self._timed(make)
        return png(out, len(out), size=128)

    def interpolate(self, query: Mapping[str, list[str]]) -> bytes:
        if not self.latent or self.test is None:
            raise BadRequest(f"model '{self.model.registry_name}' has no encoder: interpolation needs one")
        p = Params(query, {"a", "b", "t", "method", "label"})
        last = len(self.test) - 1
        a, b = p.integer("a", 0, last, 0), p.integer("b", 0, last, 1)
        t, method = p.number("t", 0.0, 1.0, 0.5), p.choice("method", ("linear", "spherical"))
        label = self._label(p)
        model, test = self.latent_model, self.test
        assert model is not None

        def make() -> torch.Tensor:
            x = test[[a, b]].to(model.device)
            labels = None if label is None else torch.full((2,), label, dtype=torch.long, device=model.device)
            z = model._codes(x, labels).float()
            path = interpolate_codes(z[0], z[1], torch.tensor([[t]], device=z.device), method)
            return self._decode(path, label)

        return self.render(self._timed(make))

    def attribute(self, query: Mapping[str, list[str]]) -> bytes:
        if not self.info()["attribute"]:
            raise BadRequest(f"model '{self.model.registry_name}' on this data has no attribute vectors (they need "
                             "an unconditional latent model and labelled training data)")
        model, test, train_labels = self.latent_model, self.test, self.train_labels
        assert model is not None and test is not None and train_labels is not None
        p = Params(query, {"base", "toward", "strength"})
        index = p.integer("base", 0, len(test) - 1, 0)
        toward = p.integer("toward", 0, int(train_labels.max()), 0)
        strength = p.number("strength", -SPAN, SPAN, 1.0)

        def make() -> torch.Tensor:
            if toward not in self.attributes:
                train = self.splits["train"]
                idx = torch.arange(min(ATTRIBUTE_FIT, len(train)))
                has = train_labels[idx] == toward
                if has.all() or not has.any():
                    raise BadRequest(f"class {toward} has no (or only) images among the first {len(idx)} training "
                                     f"images: no attribute vector")
                self.attributes[toward] = attribute_vector(model, train.images(idx), has).float()
            z = model.encode(test[index:index + 1].to(model.device)).float()
            return model.decode(z + strength * self.attributes[toward].to(z.device))

        return self.render(self._timed(make))

    def trajectory(self, query: Mapping[str, list[str]]) -> bytes:
        model = self.model
        if not model.has_trajectory:
            raise BadRequest(f"model '{model.registry_name}' has no denoising trajectory (diffusion and score "
                             f"models do)")
        p = Params(query, {"seed", "label", "frames"})
        seed, label, frames = p.integer("seed", 0, MAX_SEED, 0), self._label(p), p.integer("frames", 2, 16, 8)

        run = require_trajectory(model)

        def make() -> torch.Tensor:
            torch.manual_seed(seed)
            return run(frames, label)

        return png(self._timed(make), frames, size=64)

    def style_mix(self, query: Mapping[str, list[str]]) -> bytes:
        """A style model's two sources (seeds ``row`` and ``col``) and the column source with the chosen
        level's layers (coarse, middle, fine or all) taken from the row source; truncation ``psi``."""
        model = self.model
        if not model.has_styles:
            raise BadRequest(f"model '{model.registry_name}' has no styles to mix (style-based models: stylegan)")
        p = Params(query, {"row", "col", "level", "psi"})
        row, col = p.integer("row", 0, MAX_SEED, 0), p.integer("col", 0, MAX_SEED, 1)
        level, psi = p.choice("level", STYLE_LEVELS), p.number("psi", 0.0, 1.0, 1.0)
        styles = require_styles(model, "explore")
        num_ws = int(styles.num_ws)  # type: ignore[arg-type]  # declared by has_styles

        def make() -> torch.Tensor:
            z = []
            for seed in (row, col):
                torch.manual_seed(seed)
                z.append(torch.randn(1, int(model.config.latent_dim), device=model.device))
            w = styles.mapping(torch.cat(z), psi)  # type: ignore[operator]  # declared by has_styles
            layers = range(num_ws) if level == "all" else mix_layers(num_ws)[level]
            ws = w[1:].unsqueeze(1).repeat(1, num_ws, 1)
            ws[:, layers.start:layers.stop] = w[0]
            return torch.cat([styles.synthesize(w, "fixed"), styles.synthesize(ws, "fixed")])  # type: ignore[operator]

        return png(self._timed(make), 3, size=96)

    def timing(self) -> dict[str, float]:
        """Milliseconds per action over the recent requests (median and max)."""
        if not self.timings:
            return {}
        ordered = sorted(self.timings)
        return {"median_ms": 1000 * ordered[len(ordered) // 2], "max_ms": 1000 * ordered[-1], "n": len(ordered)}


ACTIONS: dict[str, Callable[[Explorer, Mapping[str, list[str]]], bytes]] = {
    "sample": Explorer.sample, "decode": Explorer.decode, "test_image": Explorer.test_image,
    "interpolate": Explorer.interpolate, "attribute": Explorer.attribute, "trajectory": Explorer.trajectory,
    "style_mix": Explorer.style_mix, "clip": Explorer.clip, "translate": Explorer.translate,
    "rows": Explorer.rows,
}
