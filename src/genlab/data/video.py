"""Clips: Moving MNIST generated from genlab's MNIST, and ``video:DIR`` folders of clips.

Every clip source yields uint8 clips (N, T, C, H, W) in an :class:`ArrayDataset`; ``load_splits``
applies ``--channels`` and ``--image-size`` to every frame as it does to images.

Moving MNIST (Srivastava et al. 2015), as built here:

* a 64x64 black canvas, ``DIGITS`` = 2 MNIST digits (28x28) per clip, each placed at a uniform
  position in [0, 36]^2 and moving with a fixed speed (``SPEED`` px per frame) in a uniform
  direction; a digit that would leave the canvas is reflected back in and its velocity along that
  axis flips (it bounces off the wall); digits are combined with a pixel-wise maximum;
* ``T`` = ``--clip-length`` frames (16 by default); ``--image-size 32`` halves the canvas by 2x2
  averaging (any other size resizes each frame);
* train / validation / test clips take their digits only from MNIST's train / validation / test
  split (50k / 10k / 10k), so no test digit ever appears in a training clip; clip i of a split is
  drawn from a generator seeded by (split, i) alone, so a prefix (``--limit``) is the same clips;
* ``TRAIN_CLIPS`` / ``EVAL_CLIPS`` clips per split; the label of a clip is the class of its first
  digit; the split is cached as an ``.npz`` in the genlab cache.

``moving-mnist-1`` is the same construction with one digit per clip (the same splits and
counts), labelled with the digit's class and the
quadrant of its initial direction of motion: label = 4 * class + quadrant (quadrant 0: right and
down, 1: left and down, 2: left and up, 3: right and up, image axes; 40 classes such as '3 left-up').
Clip extractors for the clip FD learn this label (:mod:`genlab.metrics.features`).

``video:DIR``: every sub-folder of DIR with numbered frames (``clip_001/000.png``, ``001.png``, ...)
and every animated ``.gif`` in DIR is one clip. All clips must have the same number of frames, and
(without ``--image-size``) the same frame size; a gap in a folder's numbering, an unreadable GIF or
frame, or a clip of another length is refused with one line naming the file.
"""
from __future__ import annotations

import hashlib
import re
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageSequence

from genlab.config import DataConfig
from genlab.data.base import ArrayDataset, Splits, split_off
from genlab.data.images import GRAY_MODES, IMAGE_EXTENSIONS, decode_image, existing_path, fit_square, unreadable_reason
from genlab.data.mnist import CLASSES, _read_cache, _write_cache, cache_dir, load_mnist
from genlab.errors import DataError

CANVAS = 64
DIGIT = 28
DIGITS = 2
SPEED = 3.6  # px per frame: the original's step of 0.1 of the free range (64 - 28)
TRAIN_CLIPS = 2000
EVAL_CLIPS = 250
SPLIT_SEEDS = {"train": 0, "validation": 1, "test": 2}
FORMAT = 1  # bump when the construction changes (the cache key holds it)


# ------------------------------------------------------------------------------ Moving MNIST

def trajectories(rng: np.random.Generator, frames: int, digits: int = DIGITS, canvas: int = CANVAS,
                 digit: int = DIGIT, speed: float = SPEED) -> np.ndarray:
    """Top-left corners (digits, frames, 2) of digits bouncing inside the canvas, as floats (y, x)."""
    limit = canvas - digit
    pos = rng.uniform(0, limit, size=(digits, 2))
    angle = rng.uniform(0, 2 * np.pi, size=digits)
    vel = speed * np.stack([np.sin(angle), np.cos(angle)], axis=1)
    out = np.empty((digits, frames, 2))
    for t in range(frames):
        out[:, t] = pos
        pos = pos + vel
        low, high = pos < 0, pos > limit
        pos = np.where(low, -pos, np.where(high, 2 * limit - pos, pos))  # reflect off the wall
        vel = np.where(low | high, -vel, vel)
    return out


def render(digit_images: np.ndarray, corners: np.ndarray, canvas: int = CANVAS) -> np.ndarray:
    """uint8 frames (T, canvas, canvas): the digits (K, 28, 28) pasted at their rounded corners (K, T, 2),
    combined by a pixel-wise maximum."""
    k, frames = corners.shape[:2]
    h, w = digit_images.shape[1:]
    out = np.zeros((frames, canvas, canvas), dtype=np.uint8)
    spots = np.rint(corners).astype(int)
    for d in range(k):
        for t in range(frames):
            y, x = spots[d, t]
            np.maximum(out[t, y:y + h, x:x + w], digit_images[d], out=out[t, y:y + h, x:x + w])
    return out


QUADRANTS = ("right-down", "left-down", "left-up", "right-up")  # image axes: y grows downward


def direction_quadrant(corners: np.ndarray) -> int:
    """The quadrant (index into ``QUADRANTS``) of a digit's first move, from its corners (T, 2) (y, x)."""
    dy, dx = corners[1] - corners[0]
    return int(dx < 0) * (1 + int(dy < 0)) + int(dx >= 0) * 3 * int(dy < 0)


def moving_mnist_split(digits: np.ndarray, labels: np.ndarray, clips: int, frames: int, split_seed: int,
                       num_digits: int = DIGITS, motion_labels: bool = False,
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``clips`` clips (N, T, 64, 64) from the digit images (M, 28, 28) of one MNIST split.

    Returns:
        (clips uint8 (N, T, 64, 64), labels int64 (N,) = class of the first digit (with
        ``motion_labels``: 4 * class + the quadrant of its first move), the source digit indices
        (N, num_digits) into ``digits``).
    """
    out = np.empty((clips, frames, CANVAS, CANVAS), dtype=np.uint8)
    sources = np.empty((clips, num_digits), dtype=np.int64)
    quadrant = np.zeros(clips, dtype=np.int64)
    for i in range(clips):
        rng = np.random.default_rng([FORMAT, split_seed, i])
        sources[i] = rng.integers(0, len(digits), size=num_digits)
        corners = trajectories(rng, frames, num_digits)
        quadrant[i] = direction_quadrant(corners[0])
        out[i] = render(digits[sources[i]], corners)
    y = labels[sources[:, 0]].astype(np.int64)
    return out, (4 * y + quadrant if motion_labels else y), sources


def _downsample(clips: np.ndarray, size: int) -> np.ndarray:
    """(N, T, S, S) uint8 -> (N, T, size, size): 2x2 averaging when size halves S, else per-frame resize."""
    if size == clips.shape[-1]:
        return clips
    if clips.shape[-1] == 2 * size:
        x = clips.reshape(*clips.shape[:2], size, 2, size, 2).astype(np.float32).mean((3, 5))
        return np.rint(x).astype(np.uint8)
    flat = clips.reshape(-1, *clips.shape[2:])
    return np.stack([np.asarray(fit_square(Image.fromarray(f), size)) for f in flat]).reshape(
        *clips.shape[:2], size, size)


def load_moving_mnist(cfg: DataConfig, path: str | None = None, num_digits: int = DIGITS) -> Splits:
    """Moving MNIST clips uint8 (N, T, 1, S, S), S = ``--image-size`` (64 by default); see the module docstring."""
    size = cfg.image_size or CANVAS
    frames = cfg.clip_length
    train_n = TRAIN_CLIPS if cfg.limit is None else min(cfg.limit, TRAIN_CLIPS)
    counts = {"train": train_n, "validation": EVAL_CLIPS, "test": EVAL_CLIPS}
    one = num_digits == 1
    key = hashlib.sha256(repr((FORMAT, size, frames, num_digits if one else DIGITS, SPEED, counts)
                              + (("motion-labels",) if one else ())).encode()).hexdigest()[:12]
    cached = cache_dir() / f"moving-mnist{'-1' if one else ''}-{key}.npz"
    arrays = _read_cache(cached)
    if arrays is None:
        mnist = load_mnist(DataConfig(dataset="mnist"))
        arrays = {}
        for part, n in counts.items():
            source = mnist[part]
            assert source.y is not None  # MNIST is labelled
            clips, y, _ = moving_mnist_split(source.x[:, 0].numpy(), source.y.numpy(), n, frames, SPLIT_SEEDS[part],
                                             num_digits, motion_labels=one)
            arrays[f"x_{part}"] = _downsample(clips, size)
            arrays[f"y_{part}"] = y
        _write_cache(cached, arrays)
    info = {"source": "moving-mnist", "frames": frames, "digits": num_digits,
            "label": "4 * digit class + quadrant of the first move" if one else "class of the first digit"}
    classes = [f"{c} {q}" for c in CLASSES for q in QUADRANTS] if one else list(CLASSES)

    def split(name: str) -> ArrayDataset:
        x = torch.from_numpy(arrays[f"x_{name}"]).unsqueeze(2)  # (N, T, 1, S, S)
        return ArrayDataset(x, torch.from_numpy(arrays[f"y_{name}"]), cfg.dataset, list(classes), dict(info))

    return Splits(split("train"), split("validation"), split("test"))


def load_moving_mnist_1(cfg: DataConfig, path: str | None = None) -> Splits:
    """``moving-mnist-1``: one digit per clip, labelled 4 * class + direction quadrant (module docstring)."""
    return load_moving_mnist(cfg, path, num_digits=1)


# ------------------------------------------------------------------------------ video:DIR

_NUMBER = re.compile(r"^(\d+)$")


def _frame_files(folder: Path) -> list[Path]:
    """The numbered frames of a clip folder in order, refusing gaps and unnumbered images."""
    files = [p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS and not p.name.startswith(".")]
    if not files:
        raise DataError(f"video dataset: clip folder {folder} holds no image files")
    numbered = []
    for p in files:
        m = _NUMBER.match(p.stem)
        if m is None:
            raise DataError(f"video dataset: {p} is not a numbered frame (name frames 000.png, 001.png, ...)")
        numbered.append((int(m.group(1)), p))
    numbered.sort()
    numbers = [n for n, _ in numbered]
    start = numbers[0]
    for k, n in enumerate(numbers):
        if n != start + k:
            if k and n == numbers[k - 1]:
                raise DataError(f"video dataset: {folder} has two frames numbered {n}")
            raise DataError(f"video dataset: {folder} has a gap in its frame numbering: frame {start + k} is "
                            f"missing (after {numbered[k - 1][1].name})")
    return [p for _, p in numbered]


def _read_folder_clip(folder: Path, size: int | None) -> tuple[np.ndarray, str, tuple[int, int]]:
    frames, modes, sizes = [], set(), set()
    for f in _frame_files(folder):
        r = decode_image(f, None, size)
        if isinstance(r, Exception):
            raise DataError(f"video dataset: cannot read frame {f}: {unreadable_reason(r)}")
        frames.append(r[0])
        modes.add(r[1] in GRAY_MODES)
        sizes.add(r[2])
    if len(sizes) > 1 and size is None:
        raise DataError(f"video dataset: the frames of {folder} have different sizes "
                        f"({', '.join(f'{w}x{h}' for w, h in sorted(sizes))}); pass --image-size N to resize them")
    gray = all(modes)
    if not gray:  # a clip with any color frame is color
        frames = [np.repeat(f, 3, axis=2) if f.shape[2] == 1 else f for f in frames]
    return np.stack(frames), "L" if gray else "RGB", next(iter(sizes))


def _read_gif(file: Path, size: int | None) -> tuple[np.ndarray, str, tuple[int, int]]:
    try:
        with Image.open(file) as img:
            shape = img.size
            frames = []
            for frame in ImageSequence.Iterator(img):
                rgb = frame.convert("RGB")
                if size:
                    rgb = fit_square(rgb, size)
                frames.append(np.asarray(rgb, dtype=np.uint8))
    except Exception as e:  # noqa: BLE001 - PIL raises many types for bad files
        raise DataError(f"video dataset: cannot read GIF {file}: {unreadable_reason(e)}") from None
    x = np.stack(frames)
    gray = bool((x[..., 0] == x[..., 1]).all() and (x[..., 1] == x[..., 2]).all())
    return (x[..., :1] if gray else x), "L" if gray else "RGB", shape


def read_clip(path: Path, size: int | None) -> tuple[np.ndarray, str]:
    """One clip from a GIF or a numbered-frame folder: (uint8 (T, H, W, C), 'L' or 'RGB')."""
    clip, mode, _ = _read_folder_clip(path, size) if path.is_dir() else _read_gif(path, size)
    return clip, mode


def load_video_folder(cfg: DataConfig, path: str) -> Splits:
    """``video:DIR``: clips from numbered frame folders and animated GIFs; see the module docstring."""
    root = existing_path(path, "video", want_dir=True)
    try:
        entries = sorted(p for p in root.iterdir() if not p.name.startswith("."))
    except OSError as e:
        raise DataError(f"video dataset: cannot list {root}: {e.strerror or e}") from None
    sources = [p for p in entries if p.is_dir() or p.suffix.lower() == ".gif"]
    if not sources:
        raise DataError(f"video dataset: {root} holds no clips (sub-folders of numbered frames, or .gif files)")
    clips = []
    for p in sources:
        clip, mode, shape = _read_folder_clip(p, cfg.image_size) if p.is_dir() else _read_gif(p, cfg.image_size)
        clips.append((p, clip, mode, shape))
    p0, c0, _, s0 = clips[0]
    for p, clip, _, shape in clips:
        if len(clip) != len(c0):
            raise DataError(f"video dataset: clips of different lengths: {p0.name} has {len(c0)} frames, "
                            f"{p.name} has {len(clip)}; all clips of a folder must have the same length")
        if cfg.image_size is None and shape != s0:
            raise DataError(f"video dataset: clips of different sizes: {p0.name} is {s0[0]}x{s0[1]}, {p.name} is "
                            f"{shape[0]}x{shape[1]}; pass --image-size N to resize them")
    if len(c0) < 2:
        raise DataError(f"video dataset: {p0} has a single frame; clips need at least 2")
    color = any(mode == "RGB" for *_, mode, _ in clips)
    arrays = [np.repeat(c, 3, axis=3) if color and c.shape[3] == 1 else c for _, c, _, _ in clips]
    x = torch.from_numpy(np.stack(arrays)).permute(0, 1, 4, 2, 3).contiguous()  # (N, T, C, H, W)
    ds = ArrayDataset(x, None, cfg.dataset, [], {"source": str(root), "clips": [p.name for p, *_ in clips]})
    return split_off(ds, (cfg.validation_fraction, cfg.test_fraction))
