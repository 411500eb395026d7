"""``idx:PATH``: MNIST-format IDX files (MNIST, Fashion-MNIST, KMNIST ...), gzip-compressed or not."""
from __future__ import annotations

import gzip
import math
import struct
import zlib
from pathlib import Path

import numpy as np
import torch

from genlab.config import DataConfig
from genlab.data.base import ArrayDataset, Splits, split_off, tail_split
from genlab.data.images import existing_path
from genlab.errors import DataError

IDX_TYPES = {0x08: "uint8", 0x09: "int8", 0x0B: "int16", 0x0C: "int32", 0x0D: "float32", 0x0E: "float64"}


def read_idx(path: Path, ndim: int) -> np.ndarray:
    """Read an IDX file of unsigned bytes (gzip-compressed or not, detected by its magic bytes).

    Args:
        path: the file.
        ndim: expected number of dimensions (3 for images, 1 for labels).

    Returns:
        uint8 array of the dimensions in the header, e.g. (N, H, W) for images.
    """
    try:
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
    except OSError as e:
        raise DataError(f"cannot read {path}: {e.strerror or e}") from None
    except (EOFError, zlib.error) as e:
        raise DataError(f"cannot read {path}: corrupt or truncated gzip data ({e})") from None
    what = "images" if ndim == 3 else "labels"
    if len(raw) < 4 or raw[:2] != b"\0\0" or raw[2] not in IDX_TYPES:
        raise DataError(f"{path} is not an IDX file (bad magic number)")
    if raw[2] != 0x08:
        raise DataError(f"{path}: IDX data type {IDX_TYPES[raw[2]]} is not supported (expected uint8)")
    if raw[3] != ndim:
        raise DataError(f"{path}: expected an IDX {what} file with {ndim} dimensions, found {raw[3]}")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{path} is truncated (the header is incomplete)")
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    expected, found = math.prod(dims), len(raw) - header
    if found != expected:
        state = "truncated" if found < expected else "corrupt"
        raise DataError(f"{path} is {state}: its header declares {' x '.join(map(str, dims))} = {expected} "
                        f"bytes of data but the file holds {found}")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims).copy()


def _idx_file(folder: Path, prefix: str, what: str) -> Path | None:
    """``<prefix>-images-idx3-ubyte`` (or ``labels-idx1``), with '.' or '-' before idx, optionally .gz."""
    nd = 3 if what == "images" else 1
    for sep in "-.":
        for gz in ("", ".gz"):
            p = folder / f"{prefix}-{what}{sep}idx{nd}-ubyte{gz}"
            if p.is_file():
                return p
    return None


def _labels_for(images: Path) -> Path | None:
    """The labels file named like a single images file, if it exists."""
    stem = images.name[:-3] if images.name.endswith(".gz") else images.name
    if "images" not in stem:
        return None
    stem = stem.replace("images", "labels").replace("idx3", "idx1")
    return next((images.with_name(stem + gz) for gz in ("", ".gz") if images.with_name(stem + gz).is_file()), None)


def _idx_dataset(images: Path, labels: Path | None, name: str) -> ArrayDataset:
    x = torch.from_numpy(read_idx(images, 3)).unsqueeze(1)  # (N, 1, H, W)
    if labels is None:
        return ArrayDataset(x, None, name)
    y = torch.from_numpy(read_idx(labels, 1)).long()
    if len(y) != len(x):
        raise DataError(f"{images} has {len(x)} images but {labels} has {len(y)} labels")
    return ArrayDataset(x, y, name)


def load_idx(cfg: DataConfig, path: str) -> Splits:
    """Load MNIST-format IDX files (MNIST, Fashion-MNIST, KMNIST ...).

    Args:
        cfg: data config.
        path: a directory with train-images-idx3-ubyte, train-labels-idx1-ubyte,
            t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte (each optionally .gz; labels optional),
            or a single images file (its labels file is found by the same naming).

    Returns:
        For a directory: train minus its last ``validation_fraction`` / that tail / t10k. For a
        single file: a deterministic ``split_off``.
    """
    p = Path(path).expanduser()
    if p.is_file():
        return split_off(_idx_dataset(p, _labels_for(p), cfg.dataset), (cfg.validation_fraction, cfg.test_fraction))
    root = existing_path(path, "idx", want_dir=True)
    names = {("train", "images"): "train-images-idx3-ubyte", ("train", "labels"): "train-labels-idx1-ubyte",
             ("t10k", "images"): "t10k-images-idx3-ubyte", ("t10k", "labels"): "t10k-labels-idx1-ubyte"}
    found = {key: _idx_file(root, *key) for key in names}
    has_labels = found[("train", "labels")] or found[("t10k", "labels")]  # labels are optional, but for both
    missing = [names[k] for k, v in found.items() if v is None and (k[1] == "images" or has_labels)]
    if missing:
        raise DataError(f"{root} is missing IDX files: {', '.join(missing)} (optionally .gz)")
    train_images, test_images = found[("train", "images")], found[("t10k", "images")]
    assert train_images is not None and test_images is not None  # not missing
    train = _idx_dataset(train_images, found[("train", "labels")], cfg.dataset)
    test = _idx_dataset(test_images, found[("t10k", "labels")], cfg.dataset)
    if train.shape != test.shape:
        raise DataError(f"{root}: train images are {train.shape[1]}x{train.shape[2]} "
                        f"but t10k images are {test.shape[1]}x{test.shape[2]}")
    return Splits(*tail_split(train, cfg.validation_fraction), test)
