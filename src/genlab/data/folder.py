"""``folder:DIR``: a directory of image files; class subfolders (sorted) give labels 0..K-1."""
from __future__ import annotations

import os
import sys
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

import numpy as np
import torch

from genlab.config import DataConfig
from genlab.data.base import ArrayDataset, Splits, split_off
from genlab.data.images import GRAY_MODES, decode_image, existing_path, scan_image_folder, unreadable_reason
from genlab.errors import DataError


def load_folder(cfg: DataConfig, path: str) -> Splits:
    """Load a directory of images; class subfolders (sorted) give labels 0..K-1.

    Args:
        cfg: data config: ``image_size`` and ``channels`` are applied while decoding (so folders of
            mixed sizes or modes can be loaded), ``skip_bad_files`` skips unreadable files with one
            warning instead of stopping, and the fractions set the split.
        path: the directory.

    Returns:
        Deterministic train/validation/test splits of uint8 (N, C, H, W) images.
    """
    root = existing_path(path, "folder", want_dir=True)
    files, labels, classes = scan_image_folder(root)
    mode = None if cfg.channels is None else {1: "L", 3: "RGB"}.get(cfg.channels)
    pixels, kept = decode_files(files, root, mode, cfg.image_size, cfg.skip_bad_files)
    if labels is not None:
        labels = [labels[i] for i in kept]
    y = None if labels is None else torch.tensor(labels, dtype=torch.int64)
    return split_off(ArrayDataset(pixels, y, cfg.dataset, classes), (cfg.validation_fraction, cfg.test_fraction))


def decode_files(files: list[Path], root: Path, mode: str | None, size: int | None,
                 skip_bad_files: bool = False) -> tuple[torch.Tensor, list[int]]:
    """Decode image files into one uint8 (N, C, H, W) tensor (the one decoding rule of image folders).

    Args:
        files: the image files.
        root: the folder they come from (named in messages).
        mode: 'L' or 'RGB' to convert to; None keeps each file's kind (a mix of gray and color is refused).
        size: resize to this square size; None requires every file to have the same size.
        skip_bad_files: skip unreadable files with one warning instead of stopping.

    Returns:
        (images, indices into ``files`` of the images kept).
    """
    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
        results = list(pool.map(partial(decode_image, mode=mode, size=size), files))

    bad = [(f, r) for f, r in zip(files, results, strict=True) if isinstance(r, Exception)]
    if bad and not skip_bad_files:
        f, e = bad[0]
        raise DataError(f"cannot read image {f}: {unreadable_reason(e)} (fix or remove it, or pass --skip-bad-files)")
    if bad:
        print(f"genlab: warning: skipped {len(bad)} unreadable file{'s' * (len(bad) > 1)} in {root} "
              f"(first: {bad[0][0]})", file=sys.stderr)
    kept = [i for i, r in enumerate(results) if not isinstance(r, Exception)]
    good = [(files[i], r) for i in kept if not isinstance(r := results[i], Exception)]
    if not good:
        raise DataError(f"none of the {len(files)} image files in {root} could be read")

    if mode is None:
        gray = [(f, r[1]) for f, r in good if r[1] in GRAY_MODES]
        color = [(f, r[1]) for f, r in good if r[1] not in GRAY_MODES]
        if gray and color:
            raise DataError(f"{root} mixes grayscale and color images (e.g. {gray[0][0]} is {gray[0][1]}, "
                            f"{color[0][0]} is {color[0][1]}); pass --channels 1 or --channels 3")
    if size is None:
        f0, r0 = good[0]
        for f, r in good:
            if r[2] != r0[2]:
                raise DataError(f"{root} has images of different sizes (e.g. {f0} is {r0[2][0]}x{r0[2][1]}, "
                                f"{f} is {r[2][0]}x{r[2][1]}); pass --image-size N to resize them")
    return torch.from_numpy(np.stack([r[0] for _, r in good])).permute(0, 3, 1, 2).contiguous(), kept  # (N, C, H, W)
