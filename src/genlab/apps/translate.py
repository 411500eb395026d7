"""Applying a translation or super-resolution model to image files (`genlab translate`, `genlab upscale`).

Inputs are a folder of image files, one image file, or an .npz ('x'); each image keeps its own size
(the networks are fully convolutional; :meth:`SRGAN.upscale` tiles large images). Outputs are PNGs
with the inputs' names and a side-by-side strip ``strip.png``: one row per image (at most
``STRIP_ROWS``) of input | output | target, the target when known (the run's own test split, used
when no input is given), or input | translation | cycle reconstruction for CycleGAN.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from genlab.data.images import decode_image, images_from_array, is_image_file, unreadable_reason
from genlab.data.npz import read_npz
from genlab.errors import ConfigError, DataError
from genlab.io import save_image_grid
from genlab.models.cyclegan import CycleGAN
from genlab.models.srgan import SRGAN
from genlab.models.translation import ImageTranslator

STRIP_ROWS = 8


def read_any_images(path: str | Path) -> tuple[list[torch.Tensor], list[str]]:
    """Images (C, H, W) float in [0, 1], each its own size, and their names, from a folder, a file or an .npz."""
    p = Path(path).expanduser()
    if not p.exists():
        raise DataError(f"input not found: {p}")
    if p.is_file() and p.suffix.lower() == ".npz":
        arrays = read_npz(p)
        if "x" not in arrays:
            raise DataError(f"{p} has no array 'x' (found: {', '.join(sorted(arrays)) or 'none'})")
        x = images_from_array(arrays["x"], f"{p}: 'x'").float() / 255.0
        return list(x), [f"{i:05d}.png" for i in range(len(x))]
    files = [p] if p.is_file() else sorted(f for f in p.rglob("*") if is_image_file(f, p))
    if not files:
        raise DataError(f"no image files found in {p}")
    images, names = [], []
    for f in files:
        r = decode_image(f, None, None)
        if isinstance(r, Exception):
            raise DataError(f"cannot read image {f}: {unreadable_reason(r)}")
        images.append(torch.from_numpy(np.array(r[0])).permute(2, 0, 1).float() / 255.0)
        names.append(f.name if p.is_file() else str(f.relative_to(p)))
    return images, names


def check_channels(model: ImageTranslator, images: list[torch.Tensor], names: list[str], direction: str) -> None:
    want = (model.a_shape if direction == "AB" else model.b_shape)[0]
    for img, name in zip(images, names, strict=True):
        if img.shape[0] != want:
            side = "A" if direction == "AB" else "B"
            raise DataError(f"input {name} has {img.shape[0]} channel{'s' * (img.shape[0] > 1)}, but this "
                            f"'{model.registry_name}' model translates {want}-channel images (its {side} domain)")
        if isinstance(model, SRGAN) and min(img.shape[1:]) < 2:
            raise DataError(f"input {name} is too small to upscale ({img.shape[1]}x{img.shape[2]})")


def apply(model: ImageTranslator, x: torch.Tensor, direction: str = "AB", tile: int = 128,
          overlap: int = 16) -> torch.Tensor:
    """The model's output for a batch (N, C, H, W) in [0, 1]: ``upscale`` (tiled) or ``translate``."""
    if isinstance(model, SRGAN):
        return model.upscale(x, tile, overlap)
    return model.translate(x, direction).cpu()


def _resize(x: torch.Tensor, size: tuple[int, int], channels: int) -> torch.Tensor:
    """(C, H, W) -> (channels, *size): nearest resizing (pixels stay visible), gray repeated to RGB."""
    if x.shape[0] != channels:
        x = x.mean(0, keepdim=True).expand(channels, -1, -1) if channels == 1 else x.expand(channels, -1, -1)
    return x if tuple(x.shape[1:]) == size else F.interpolate(x[None], size=size, mode="nearest")[0]


def strip(columns: list[list[torch.Tensor]], path: Path) -> Path:
    """A grid with one row per image and one column per list, every cell at the first output's size."""
    rows = min(STRIP_ROWS, len(columns[0]))
    size = (int(columns[1][0].shape[1]), int(columns[1][0].shape[2]))
    channels = max(c[0].shape[0] for c in columns)
    cells = [_resize(col[i], size, channels) for i in range(rows) for col in columns]
    return save_image_grid(torch.stack(cells), path, nrow=len(columns))


def translate_files(model: ImageTranslator, images: list[torch.Tensor], names: list[str], out: Path,
                    direction: str = "AB", targets: list[torch.Tensor] | None = None, tile: int = 128,
                    overlap: int = 16) -> dict[str, Any]:
    """Translate / upscale each image, write ``out/<name>.png`` and ``out/strip.png``; returns a summary."""
    from PIL import Image

    check_channels(model, images, names, direction)
    out.mkdir(parents=True, exist_ok=True)
    outputs: list[torch.Tensor] = []
    cycles: list[torch.Tensor] = []
    for img, name in zip(images, names, strict=True):
        y = apply(model, img[None], direction, tile, overlap)[0]
        outputs.append(y)
        if isinstance(model, CycleGAN) and targets is None and len(cycles) < STRIP_ROWS:
            cycles.append(model.translate(y[None], "BA" if direction == "AB" else "AB").cpu()[0])
        pixels = (y.clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
        target = out / Path(name).with_suffix(".png")
        target.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels[..., 0] if pixels.shape[2] == 1 else pixels).save(target)
    same = [i for i, y in enumerate(outputs) if y.shape == outputs[0].shape][:STRIP_ROWS]
    columns = [[images[i] for i in same], [outputs[i] for i in same]]
    if targets is not None:
        columns.append([targets[i] for i in same])
    elif cycles:
        columns.append([cycles[i] for i in same if i < len(cycles)])
        columns = [c[:len(columns[-1])] for c in columns]
    strip(columns, out / "strip.png")
    return {"images": len(outputs), "out": str(out), "strip": str(out / "strip.png"),
            "columns": ["input", "output"] + (["target"] if targets is not None else
                                              ["cycle"] if isinstance(model, CycleGAN) else [])}


def direction_of(model: ImageTranslator, direction: str) -> str:
    if direction not in model.generators:
        raise ConfigError(f"model '{model.registry_name}' translates {' and '.join(model.generators)}; "
                          f"--direction {direction} needs cyclegan")
    return direction
