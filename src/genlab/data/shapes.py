"""``shapes``: a procedurally drawn RGB dataset with known generative factors (dSprites-like).

Each image shows one object (square, ellipse, heart or triangle) drawn anti-aliased with Pillow
(4x supersampling, then a box filter) on a plain background. Seven factors are drawn independently
from a fixed seed per split:

==========  ==================================================================================
shape       0 square, 1 ellipse (axes 1 : 0.6), 2 heart, 3 triangle: the class label
obj_hue     hue of the object in [0, 1) (saturation 0.85, value 0.95)
bg_hue      hue of the background in [0, 1) (saturation 0.6, value 0.35: always darker)
scale       object radius as a fraction of a quarter of the image side, in [0.5, 1]
rotation    degrees in [0, 360), counter-clockwise, about the object's centroid
x, y        the object's area centroid as a fraction of the image side, each in [0.25, 0.75]
==========  ==================================================================================

Every outline is centred on its area centroid and fits in a circle of radius 1 before scaling,
so the drawn object never leaves the image and its centroid sits at (x, y) * side.

Sizes: 60,000 train / 10,000 validation / 10,000 test. Images are drawn at 64x64 by default, or
natively at any ``--image-size`` from 8 to 256 (other sizes would blur a resize); they are drawn
lazily, in chunks of 10,000, on first use and cached as ``.npz`` under ``$GENLAB_CACHE``
(``~/.cache/genlab``) in ``shapes-v1-<size>/``; ``--limit N`` draws only the training chunks it
needs. The factor table of a split is :func:`factors` (cheap: it is recomputed from the seed).
"""
from __future__ import annotations

import colorsys
import math
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

from genlab.config import DataConfig
from genlab.data.base import ArrayDataset, Splits
from genlab.errors import DataError

VERSION = 1
SIZES = {"train": 60_000, "validation": 10_000, "test": 10_000}
SEEDS = {"train": 1601, "validation": 1602, "test": 1603}
CLASSES = ["square", "ellipse", "heart", "triangle"]
FACTORS = ("shape", "obj_hue", "bg_hue", "scale", "rotation", "x", "y")
DEFAULT_SIZE = 64
NATIVE_SIZES = range(8, 257)
CHUNK = 10_000
SUPERSAMPLE = 4


def cache_root() -> Path:
    """``$GENLAB_CACHE`` (default ``~/.cache/genlab``)."""
    return Path(os.environ.get("GENLAB_CACHE") or Path.home() / ".cache" / "genlab").expanduser()


def factors(split: str, n: int | None = None) -> dict[str, np.ndarray]:
    """The factor table of a split: name -> (N,) array (``shape`` int64, the rest float64).

    Args:
        split: 'train', 'validation' or 'test'.
        n: the first n rows (default: the whole split); a prefix of the full table.
    """
    if split not in SIZES:
        raise DataError(f"unknown split '{split}' (choose train, validation or test)")
    total = SIZES[split]
    rng = np.random.default_rng(SEEDS[split])
    table = {
        "shape": rng.integers(0, len(CLASSES), total).astype(np.int64),
        "obj_hue": rng.random(total),
        "bg_hue": rng.random(total),
        "scale": rng.uniform(0.5, 1.0, total),
        "rotation": rng.uniform(0.0, 360.0, total),
        "x": rng.uniform(0.25, 0.75, total),
        "y": rng.uniform(0.25, 0.75, total),
    }
    m = total if n is None else min(n, total)
    return {k: v[:m] for k, v in table.items()}


def _centred(points: np.ndarray) -> np.ndarray:
    """A closed polygon (P, 2) moved so its area centroid is the origin and scaled to max radius 1."""
    x, y = points[:, 0], points[:, 1]
    xn, yn = np.roll(x, -1), np.roll(y, -1)
    cross = x * yn - xn * y
    area = cross.sum() / 2
    cx, cy = ((x + xn) * cross).sum() / (6 * area), ((y + yn) * cross).sum() / (6 * area)
    centred = points - np.array([cx, cy])
    return centred / np.sqrt((centred ** 2).sum(1)).max()


def _outlines() -> list[np.ndarray]:
    t = np.linspace(0, 2 * np.pi, 96, endpoint=False)
    square = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], dtype=np.float64)
    ellipse = np.stack([np.cos(t), 0.6 * np.sin(t)], 1)
    # the classic heart curve, y pointing up (image rows grow downwards, hence the minus)
    heart_y = 13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t)
    heart = np.stack([16 * np.sin(t) ** 3, -heart_y], 1)
    a = np.array([np.pi / 2 + k * 2 * np.pi / 3 for k in range(3)])
    triangle = np.stack([np.cos(a), -np.sin(a)], 1)
    return [_centred(p) for p in (square, ellipse, heart, triangle)]


OUTLINES = _outlines()


def _rgb(hue: float, saturation: float, value: float) -> tuple[int, int, int]:
    r, g, b = colorsys.hsv_to_rgb(hue, saturation, value)
    return round(r * 255), round(g * 255), round(b * 255)


def draw(shape: int, obj_hue: float, bg_hue: float, scale: float, rotation: float, x: float, y: float,
         size: int = DEFAULT_SIZE) -> np.ndarray:
    """One image, uint8 (size, size, 3), from its factors."""
    from PIL import Image, ImageDraw  # Pillow is imported on first use, like the other image readers

    big = size * SUPERSAMPLE
    canvas = Image.new("RGB", (big, big), _rgb(bg_hue, 0.6, 0.35))
    theta = math.radians(rotation)
    rot = np.array([[math.cos(theta), math.sin(theta)], [-math.sin(theta), math.cos(theta)]])  # counter-clockwise
    radius = scale * 0.25 * big
    pts = OUTLINES[shape] @ rot.T * radius + np.array([x * big, y * big]) - 0.5  # Pillow: integers are centres
    ImageDraw.Draw(canvas).polygon([tuple(p) for p in pts.tolist()], fill=_rgb(obj_hue, 0.85, 0.95))
    return np.asarray(canvas.reduce(SUPERSAMPLE))


def _draw_chunk(table: dict[str, np.ndarray], start: int, stop: int, size: int) -> np.ndarray:
    out = np.empty((stop - start, 3, size, size), dtype=np.uint8)
    for i in range(start, stop):
        obj_hue, bg_hue, scale, rotation, x, y = (float(table[k][i]) for k in FACTORS[1:])
        out[i - start] = draw(int(table["shape"][i]), obj_hue, bg_hue, scale, rotation, x, y, size).transpose(2, 0, 1)
    return out


def _chunk(split: str, index: int, size: int, table: dict[str, np.ndarray], note: list[bool]) -> np.ndarray:
    """Chunk ``index`` of a split, uint8 (n, 3, size, size): from the cache or drawn (and cached)."""
    path = cache_root() / f"shapes-v{VERSION}-{size}" / f"{split}-{index:02d}.npz"
    start, stop = index * CHUNK, min((index + 1) * CHUNK, SIZES[split])
    try:
        with np.load(path) as z:
            x = z["x"]
        if x.shape == (stop - start, 3, size, size):
            return x
    except Exception:  # noqa: BLE001 - missing or damaged: drawn again
        pass
    if not note[0]:
        print(f"genlab: note: drawing the shapes dataset at {size}x{size} (once; cached in {path.parent})",
              file=sys.stderr, flush=True)
        note[0] = True
    print(f"genlab: note: shapes {split} {start}..{stop - 1}", file=sys.stderr, flush=True)
    x = _draw_chunk(table, start, stop, size)
    tmp = None
    try:  # atomic: a temporary file and a rename; a read-only cache only skips caching
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
        os.chmod(tmp, 0o644)
        with os.fdopen(fd, "wb") as f:
            np.savez(f, x=x)
        os.replace(tmp, path)
    except OSError:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
    return x


def load_split(split: str, size: int = DEFAULT_SIZE, n: int | None = None, name: str = "shapes",
               note: list[bool] | None = None) -> ArrayDataset:
    """The first ``n`` items (default all) of a split at ``size`` x ``size``: images and shape labels.

    ``note`` ([False]) is set once the 'drawing' notice has been printed (one notice per load).
    """
    full = factors(split)
    table = factors(split, n)
    count = len(table["shape"])
    note = [False] if note is None else note
    chunks = [_chunk(split, i, size, full, note) for i in range(math.ceil(count / CHUNK))]
    x = torch.from_numpy(np.concatenate(chunks)[:count])
    info = {"factors": list(FACTORS), "factor_table": "genlab.data.shapes.factors(split)",
            "factor_encoding": list(ENCODING)}
    return ArrayDataset(x, torch.from_numpy(table["shape"]), name, list(CLASSES), info, encode_factors(table))


# The numeric targets of the factors (ArrayDataset.factors): hues as points on the circle, the angle as a
# point on the circle of the shape's own symmetry (a square turned by 90 degrees is the same image), the
# uniform scale and position standardized to mean 0, variance 1. The shape itself is the class label.
ENCODING = ("cos obj_hue", "sin obj_hue", "cos bg_hue", "sin bg_hue", "scale", "cos rotation", "sin rotation",
            "x", "y")
SYMMETRY = np.array([4, 2, 1, 3])  # rotational symmetry order of square, ellipse, heart, triangle


def encode_factors(table: dict[str, np.ndarray]) -> torch.Tensor:
    """(N, 9) float32 targets of a factor table, in the order of :data:`ENCODING`."""
    def standard(v: np.ndarray, low: float, high: float) -> np.ndarray:  # uniform on [low, high] -> mean 0, var 1
        return (v - (low + high) / 2) / ((high - low) / math.sqrt(12))

    obj, bg = 2 * np.pi * table["obj_hue"], 2 * np.pi * table["bg_hue"]
    turn = np.radians(table["rotation"]) * SYMMETRY[table["shape"]]
    columns = [np.cos(obj), np.sin(obj), np.cos(bg), np.sin(bg), standard(table["scale"], 0.5, 1.0),
               np.cos(turn), np.sin(turn), standard(table["x"], 0.25, 0.75), standard(table["y"], 0.25, 0.75)]
    return torch.from_numpy(np.stack(columns, 1).astype(np.float32))


def load_shapes(cfg: DataConfig, path: str | None = None) -> Splits:
    """The shapes dataset: uint8 (N, 3, S, S), labels = the shape class, 60k/10k/10k.

    Args:
        cfg: ``image_size`` picks the drawing size (default 64; 8..256 drawn natively);
            ``limit`` draws only the training items it keeps.
        path: unused (shapes takes no path).
    """
    size = cfg.image_size or DEFAULT_SIZE
    if size not in NATIVE_SIZES:
        size = DEFAULT_SIZE  # load_splits resizes
    note = [False]
    return Splits(*(load_split(split, size, cfg.limit if split == "train" else None, cfg.dataset, note)
                    for split in SIZES))
