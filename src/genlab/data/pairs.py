"""Paired and unpaired image data for image-to-image translation: ``pairs:DIR``, ``pairs:npz:FILE``,
``unpaired:DIR``, and the packing every such source shares.

A pair (A, B) travels through genlab as ONE image, so the trainer, batches, splits, ``--limit``,
resume and torchrun need nothing new: the channels of A (nearest-upsampled to B's size when A is
smaller, as for super-resolution) followed by the channels of B::

    x = [A upsampled by s (Ca channels) | B (Cb channels)]    uint8 (N, Ca + Cb, H, W)

with ``s`` = B's side / A's side (1 for translation, 2 or 4 for super-resolution). Averaging s x s
blocks of the upsampled A gives A back exactly (:func:`unpack`). The split's ``info['pairing']``
records ``kind`` ('pairs' or 'unpaired'), ``a_channels`` and ``scale``; the models read the last two
from their config (filled from the data, like ``data_shape``) and the data kind check refuses a
paired dataset for a plain image model and unpaired data for pix2pix.

Unpaired domains of different sizes (``unpaired:DIR``, ``digits2mnist``) are packed item by item
too: N = max(|A|, |B|) items, A[i mod |A|] beside B[p(i) mod |B|] for a fixed random permutation p,
so every image of the larger domain appears once per epoch and nothing pairs them but chance. The
first |A| items hold each A image once, in order (``a_items`` in the pairing record).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from genlab.config import DataConfig
from genlab.data.base import ArrayDataset, Splits, split_off
from genlab.data.folder import decode_files
from genlab.data.images import existing_path, images_from_array, is_image_file, labels_from_array, resize_square
from genlab.data.npz import read_npz
from genlab.errors import DataError

PAIRING = "pairing"  # the info key of a packed split
PAIR_KINDS = ("pairs", "unpaired")


def pairing_of(ds: ArrayDataset) -> dict[str, Any] | None:
    """The pairing record of a packed split ({'kind', 'a_channels', 'scale', ...}), None for plain images."""
    rec = ds.info.get(PAIRING) if isinstance(ds.info, dict) else None
    return rec if isinstance(rec, dict) else None


def pair_scale(a_size: tuple[int, int], b_size: tuple[int, int], where: str) -> int:
    """B's side / A's side (the same integer for height and width), or a DataError naming both sizes."""
    (ha, wa), (hb, wb) = a_size, b_size
    if hb % ha or wb % wa or hb // ha != wb // wa:
        raise DataError(f"{where}: A and B have different sizes (A {ha}x{wa}, B {hb}x{wb}); B must be A's size or an "
                        f"integer multiple of it (super-resolution); pass --image-size N to resize both")
    return hb // ha


def pack(a: torch.Tensor, b: torch.Tensor, y: torch.Tensor | None, name: str, kind: str = "pairs",
         classes: list[str] | None = None, extra: dict[str, Any] | None = None) -> ArrayDataset:
    """One packed split from aligned uint8 A (N, Ca, h, w) and B (N, Cb, s*h, s*w) (see the module docstring)."""
    if len(a) != len(b):
        raise DataError(f"{name}: {len(a)} A images but {len(b)} B images")
    scale = pair_scale((a.shape[2], a.shape[3]), (b.shape[2], b.shape[3]), name)
    a_up = a.repeat_interleave(scale, 2).repeat_interleave(scale, 3) if scale > 1 else a
    record = {"kind": kind, "a_channels": int(a.shape[1]), "scale": scale, **(extra or {})}
    return ArrayDataset(torch.cat([a_up, b], 1), y, name, classes or [], {PAIRING: record})


def pack_unpaired(a: ArrayDataset, b: ArrayDataset, name: str, seed: int = 0,
                  extra: dict[str, Any] | None = None) -> ArrayDataset:
    """Two domains of any sizes as one packed split (module docstring); labels are A's (evaluation only)."""
    if a.x.shape[2:] != b.x.shape[2:]:
        (ha, wa), (hb, wb) = a.x.shape[2:], b.x.shape[2:]
        raise DataError(f"{name}: A and B have different sizes (A {ha}x{wa}, B {hb}x{wb}); pass --image-size N "
                        f"to resize both")
    n = max(len(a), len(b))
    ia = torch.arange(n) % len(a)
    ib = torch.randperm(n, generator=torch.Generator().manual_seed(seed)) % len(b)
    y = None if a.y is None else a.y[ia]
    extra = {"a_items": len(a), "b_items": len(b), **(extra or {})}
    return pack(a.x[ia], b.x[ib], y, name, "unpaired", a.classes, extra)


def unpack(x: torch.Tensor, a_channels: int, scale: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(A (B, Ca, H/s, W/s), B (B, Cb, H, W)) from packed float images (B, Ca + Cb, H, W)."""
    a, b = x[:, :a_channels], x[:, a_channels:]
    return (F.avg_pool2d(a, scale) if scale > 1 else a), b


def area_downsample(x: torch.Tensor, factor: int) -> torch.Tensor:
    """uint8 (N, C, H, W) -> (N, C, H/f, W/f): the mean of each f x f block, rounded ('area' resampling)."""
    return F.avg_pool2d(x.float(), factor).round().clamp(0, 255).to(torch.uint8)


def upsample_nearest(x: torch.Tensor, factor: int) -> torch.Tensor:
    return x.repeat_interleave(factor, 2).repeat_interleave(factor, 3) if factor > 1 else x


# --------------------------------------------------------------------------- user folders and files
def _mode(cfg: DataConfig) -> str | None:
    return None if cfg.channels is None else {1: "L", 3: "RGB"}[cfg.channels]


def _domain_files(root: Path, side: str) -> list[Path]:
    folder = root / side
    if not folder.is_dir():
        raise DataError(f"{root} has no {side}/ folder (a paired or unpaired dataset needs {root}/A/ and {root}/B/)")
    files = sorted(f for f in folder.rglob("*") if is_image_file(f, folder))
    if not files:
        raise DataError(f"no image files found in {folder}")
    return files


def _check_same_names(root: Path, a_files: list[Path], b_files: list[Path]) -> None:
    a_names = {f.relative_to(root / "A").with_suffix("").as_posix(): f for f in a_files}
    b_names = {f.relative_to(root / "B").with_suffix("").as_posix(): f for f in b_files}
    only_a = sorted(set(a_names) - set(b_names))
    only_b = sorted(set(b_names) - set(a_names))
    if only_a or only_b:
        parts = []
        if only_a:
            parts.append(f"{len(only_a)} in A/ without a partner in B/ (e.g. {a_names[only_a[0]].relative_to(root)})")
        if only_b:
            parts.append(f"{len(only_b)} in B/ without a partner in A/ (e.g. {b_names[only_b[0]].relative_to(root)})")
        raise DataError(f"pairs:{root}: A/ and B/ must hold files of the same names; {' and '.join(parts)}")


def _decode_side(files: list[Path], folder: Path, cfg: DataConfig) -> tuple[torch.Tensor, list[int]]:
    return decode_files(files, folder, _mode(cfg), cfg.image_size, cfg.skip_bad_files)


def _load_pair_folders(cfg: DataConfig, root: Path) -> ArrayDataset:
    a_files, b_files = _domain_files(root, "A"), _domain_files(root, "B")
    _check_same_names(root, a_files, b_files)
    a, kept_a = _decode_side(a_files, root / "A", cfg)
    b, kept_b = _decode_side(b_files, root / "B", cfg)
    both = sorted(set(kept_a) & set(kept_b))  # same names, same sorted order: index i is one pair
    a = a[[kept_a.index(i) for i in both]]
    b = b[[kept_b.index(i) for i in both]]
    return pack(a, b, None, cfg.dataset)


def _load_side_by_side(cfg: DataConfig, root: Path) -> ArrayDataset:
    files = sorted(f for f in root.rglob("*") if is_image_file(f, root))
    if not files:
        raise DataError(f"no image files found in {root}")
    x, _ = decode_files(files, root, _mode(cfg), None, cfg.skip_bad_files)
    w = x.shape[3]
    if w % 2:
        raise DataError(f"pairs:{root} (side-by-side): images are {w} pixels wide, which does not split into two "
                        f"halves A | B")
    a, b = x[..., : w // 2], x[..., w // 2:]
    if cfg.image_size is not None:
        a, b = resize_square(a.contiguous(), cfg.image_size), resize_square(b.contiguous(), cfg.image_size)
    return pack(a.contiguous(), b.contiguous(), None, cfg.dataset)


def _load_pair_npz(cfg: DataConfig, path: str) -> ArrayDataset:
    file = existing_path(path, "pairs:npz", want_dir=False)
    arrays = read_npz(file)
    missing = [k for k in ("a", "b") if k not in arrays]
    if missing:
        raise DataError(f"{file} has no array '{missing[0]}' (a paired .npz holds 'a' and 'b'; found: "
                        f"{', '.join(sorted(arrays)) or 'none'})")
    a = images_from_array(arrays["a"], f"{file}: 'a'")
    b = images_from_array(arrays["b"], f"{file}: 'b'")
    if len(a) != len(b):
        raise DataError(f"{file}: 'a' holds {len(a)} images but 'b' holds {len(b)}; pairs need as many of each")
    if cfg.image_size is not None:
        a, b = resize_square(a, cfg.image_size), resize_square(b, cfg.image_size)
    y = labels_from_array(arrays.get("y"), len(a), f"{file}: 'y'")
    return pack(a, b, y, cfg.dataset)


def load_pairs(cfg: DataConfig, path: str) -> Splits:
    """``pairs:DIR`` (DIR/A/ and DIR/B/ with files of the same names, or ``--pair-layout side-by-side``:
    each image of DIR is A | B) or ``pairs:npz:FILE`` (arrays 'a', 'b', optional 'y').

    ``--image-size`` resizes A and B to the same square size, ``--channels`` converts both; without
    them B may be an integer multiple of A's size (super-resolution pairs). Split by ``split_off``.
    """
    if path.startswith("npz:"):
        ds = _load_pair_npz(cfg, path[4:])
    else:
        root = existing_path(path, "pairs", want_dir=True)
        ds = _load_side_by_side(cfg, root) if cfg.pair_layout == "side-by-side" else _load_pair_folders(cfg, root)
    return split_off(ds, (cfg.validation_fraction, cfg.test_fraction))


def load_unpaired(cfg: DataConfig, path: str) -> Splits:
    """``unpaired:DIR``: DIR/A/ and DIR/B/ with any numbers of images of any names (CycleGAN data).

    Each domain is split on its own (``split_off``), then packed per split (module docstring). A and B
    must have one size (``--image-size`` resizes both); their channels may differ.
    """
    root = existing_path(path, "unpaired", want_dir=True)
    domains = []
    for side in ("A", "B"):
        x, _ = _decode_side(_domain_files(root, side), root / side, cfg)
        domains.append(split_off(ArrayDataset(x, None, f"{cfg.dataset} {side}"),
                                 (cfg.validation_fraction, cfg.test_fraction)))
    a, b = domains
    return Splits(*(pack_unpaired(a[s], b[s], cfg.dataset, seed=k) for k, s in
                    enumerate(("train", "validation", "test"))))


def check_fixed(cfg: DataConfig) -> None:
    """Built-in tasks have fixed sizes and channels: refuse --image-size / --channels for them."""
    if cfg.image_size is not None or cfg.channels is not None:
        raise DataError(f"dataset '{cfg.dataset}' has fixed image sizes and channels; --image-size and --channels "
                        f"apply to pairs:DIR and unpaired:DIR")


__all__ = ["PAIRING", "PAIR_KINDS", "area_downsample", "check_fixed", "load_pairs", "load_unpaired", "pack",
           "pack_unpaired", "pair_scale", "pairing_of", "unpack", "upsample_nearest"]
