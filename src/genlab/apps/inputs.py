"""Inputs of the applications: the user's images (a folder or an npz) and a run's own data."""
from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

from genlab.data.images import decode_image, images_from_array, labels_from_array, scan_image_folder, unreadable_reason
from genlab.data.npz import read_npz
from genlab.errors import DataError


class Images(NamedTuple):
    """Images read for an application: float (N, C, H, W) in [0, 1], names, optional extras."""

    x: torch.Tensor
    names: list[str]
    labels: torch.Tensor | None = None
    clean: torch.Tensor | None = None  # clean references stored beside noisy images in an npz


def read_images(path: str | Path, shape: tuple[int, ...] | None = None) -> Images:
    """Read images from a folder of image files or an .npz.

    Args:
        path: a directory (image files; class subfolders give labels) or an .npz with images 'x'
            (uint8 or float in [0, 1]; (N, H, W), (N, H, W, C) or (N, C, H, W)), optional labels
            'y' and optional clean references 'clean' of the same shape.
        shape: the (C, H, W) a model takes; images of another size or channel count are refused.

    Returns:
        :class:`Images`.

    Raises:
        DataError: a missing or unreadable path, or images that do not fit ``shape``.
    """
    p = Path(path).expanduser()
    if not p.exists():
        raise DataError(f"input not found: {p}")
    clean = labels = None
    if p.is_dir():
        files, label_list, _ = scan_image_folder(p)
        mode = None if shape is None else {1: "L", 3: "RGB"}.get(shape[0])
        decoded = []
        for f in files:
            r = decode_image(f, mode, None)
            if isinstance(r, Exception):
                raise DataError(f"cannot read image {f}: {unreadable_reason(r)}")
            decoded.append(r[0])
        sizes = {a.shape for a in decoded}
        if len(sizes) > 1:
            raise DataError(f"{p} holds images of different sizes ({', '.join(sorted(str(s[:2]) for s in sizes))})")
        x = torch.from_numpy(np.stack(decoded)).permute(0, 3, 1, 2).float() / 255.0
        names = [str(f.relative_to(p)) for f in files]
        labels = None if label_list is None else torch.tensor(label_list)
    else:
        arrays = read_npz(p)
        if "x" not in arrays:
            raise DataError(f"{p} has no array 'x' (found: {', '.join(sorted(arrays)) or 'none'})")
        x = images_from_array(arrays["x"], f"{p}: 'x'").float() / 255.0
        names = [f"{i:05d}.png" for i in range(len(x))]
        labels = labels_from_array(arrays.get("y"), len(x), f"{p}: 'y'")
        if "clean" in arrays:
            clean = images_from_array(arrays["clean"], f"{p}: 'clean'").float() / 255.0
            if clean.shape != x.shape:
                raise DataError(f"{p}: 'clean' has shape {tuple(clean.shape)} but 'x' has {tuple(x.shape)}")
    if len(x) == 0:
        raise DataError(f"{p} holds no images")
    if shape is not None and tuple(x.shape[1:]) != tuple(shape):
        raise DataError(f"{p} holds images of shape {tuple(x.shape[1:])} (C, H, W) but the model takes "
                        f"{tuple(shape)}; convert them first")
    return Images(x, names, labels, clean)


def batched(fn, x: torch.Tensor, batch_size: int = 256, device: torch.device | str = "cpu") -> torch.Tensor:
    """Apply ``fn`` to ``x`` in batches on ``device`` (no gradients); results on the CPU."""
    with torch.no_grad():
        return torch.cat([fn(x[i:i + batch_size].to(device)).cpu() for i in range(0, len(x), batch_size)])
