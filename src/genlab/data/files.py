"""Datasets read from the user's files: image folders, IDX files, CIFAR-10 batches and npz arrays.

Every loader returns uint8 (N, C, H, W) images with C in (1, 3), and turns any problem with the
files into a one-line :class:`~genlab.errors.DataError` that names the offending path. The
shared image helpers (:func:`fit_square`, :func:`to_channels`, :func:`resize_square`) are also
used by ``load_splits`` to apply ``image_size`` and ``channels`` to every source.
"""
from __future__ import annotations

import gzip
import math
import os
import struct
import sys
import zlib
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from genlab.config import DataConfig
from genlab.data import safe_pickle
from genlab.data.base import ArrayDataset, Splits, split_off
from genlab.errors import DataError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
GRAY_MODES = ("L", "1", "I", "I;16", "I;16B", "I;16L", "I;16N", "F")
LUMA = (19595, 38470, 7471)  # ITU-R 601-2 weights * 2**16, the integer formula of PIL's convert('L')


# ---------------------------------------------------------------------------- image helpers

def fit_square(img: Image.Image, size: int) -> Image.Image:
    """Center-crop ``img`` to a square and resize it to ``size`` x ``size`` (bilinear, antialiased).

    Args:
        img: a PIL image of any size.
        size: output side length.

    Returns:
        The resized image (``img`` itself when it already has that size).
    """
    w, h = img.size
    if (w, h) == (size, size):
        return img
    side = min(w, h)
    left, top = (w - side) // 2, (h - side) // 2
    return img.resize((size, size), Image.Resampling.BILINEAR, box=(left, top, left + side, top + side))


def to_channels(x: torch.Tensor, channels: int) -> torch.Tensor:
    """Convert uint8 images (N, C, H, W) to ``channels`` (1 = luminance, 3 = gray repeated).

    Args:
        x: uint8 (N, 1 or 3, H, W).
        channels: 1 or 3.

    Returns:
        uint8 (N, channels, H, W), rounded exactly like PIL's ``convert('L')``.
    """
    if x.shape[1] == channels:
        return x
    if channels == 3:
        return x.expand(-1, 3, -1, -1).contiguous()
    out = torch.empty((x.shape[0], 1, *x.shape[2:]), dtype=torch.uint8)
    w = torch.tensor(LUMA, dtype=torch.int32).view(1, 3, 1, 1)
    for i in range(0, x.shape[0], 4096):  # chunks bound the int32 temporaries
        luma = (x[i:i + 4096].int() * w).sum(1, keepdim=True)  # (B, 1, H, W)
        out[i:i + 4096] = ((luma + 0x8000) >> 16).to(torch.uint8)
    return out


def resize_square(x: torch.Tensor, size: int) -> torch.Tensor:
    """Apply :func:`fit_square` to every image of uint8 (N, C, H, W); returns (N, C, size, size)."""
    n, c, h, w = x.shape
    if (h, w) == (size, size):
        return x
    src = x.permute(0, 2, 3, 1).numpy()  # (N, H, W, C) view
    out = np.empty((n, size, size, c), dtype=np.uint8)
    for i in range(n):
        img = Image.fromarray(np.ascontiguousarray(src[i, :, :, 0] if c == 1 else src[i]))
        out[i] = np.asarray(fit_square(img, size)).reshape(size, size, c)
    return torch.from_numpy(out).permute(0, 3, 1, 2).contiguous()


def tail_split(ds: ArrayDataset, fraction: float) -> tuple[ArrayDataset, ArrayDataset]:
    """Split off the last ``fraction`` of ``ds`` (at least one item) as a held-out set.

    Returns:
        (head, tail), in the original order.
    """
    n_tail = max(1, round(len(ds) * fraction))
    if len(ds) - n_tail < 1:
        raise DataError(f"{ds.name}: {len(ds)} items are too few to hold out a validation split")
    cut = len(ds) - n_tail
    return ds.subset(torch.arange(cut)), ds.subset(torch.arange(cut, len(ds)))


def _existing(path: str, kind: str, want_dir: bool) -> Path:
    """``path`` as a Path, checked to exist and be a directory (or a file)."""
    p = Path(path).expanduser()
    if not p.exists():
        raise DataError(f"{kind} dataset: {p} does not exist")
    if want_dir and not p.is_dir():
        raise DataError(f"{kind} dataset: {p} is not a directory")
    if not want_dir and not p.is_file():
        raise DataError(f"{kind} dataset: {p} is not a file")
    return p


def _fractions(cfg: DataConfig) -> tuple[float, float]:
    return cfg.validation_fraction, cfg.test_fraction


# ---------------------------------------------------------------------------- folder:DIR

def _is_image(path: Path, root: Path) -> bool:
    """An image file by extension, not hidden (skips .DS_Store, ._x.png, .ipynb_checkpoints/)."""
    return (path.suffix.lower() in IMAGE_EXTENSIONS and path.is_file()
            and not any(part.startswith(".") for part in path.relative_to(root).parts))


def _scan(root: Path) -> tuple[list[Path], list[int] | None, list[str]]:
    """Image files of ``root``: (files, labels or None, class names). Subfolders are classes."""
    try:
        entries = sorted(root.iterdir())
        direct = [p for p in entries if _is_image(p, root)]
        classes = []  # (name, files) of each subfolder holding images
        for d in entries:
            if d.is_dir() and not d.name.startswith("."):
                files = sorted(f for f in d.rglob("*") if _is_image(f, root))
                if files:
                    classes.append((d.name, files))
    except OSError as e:
        raise DataError(f"cannot list {e.filename or root}: {e.strerror or e}") from None
    if direct and classes:
        raise DataError(f"{root} holds images directly (e.g. {direct[0].name}) and in class subfolders "
                        f"(e.g. {classes[0][0]}/); put all images in class subfolders, or none")
    if classes:
        return ([f for _, files in classes for f in files],
                [k for k, (_, files) in enumerate(classes) for _ in files], [name for name, _ in classes])
    if not direct:
        raise DataError(f"no image files ({', '.join(e[1:] for e in IMAGE_EXTENSIONS)}) found in {root}")
    return direct, None, []


def _decode(path: Path, mode: str | None, size: int | None) -> tuple[np.ndarray, str, tuple[int, int]] | Exception:
    """Read one image file.

    Args:
        path: the file.
        mode: 'L' or 'RGB' to convert to, or None for the image's own kind (gray -> L, else RGB).
        size: resize to this square size, or None.

    Returns:
        (pixels uint8 (H, W, C), original PIL mode, original (width, height)), or the exception
        raised when the file cannot be decoded.
    """
    try:
        with Image.open(path) as img:
            img = ImageOps.exif_transpose(img)
            original, shape = img.mode, img.size
            if original.startswith("I;16"):  # 16-bit gray: scale to 8 bits rather than clip
                img = Image.fromarray(np.rint(np.asarray(img, dtype=np.float64) / 257).astype(np.uint8))
            img = img.convert(mode or ("L" if original in GRAY_MODES else "RGB"))
            if size:
                img = fit_square(img, size)
            pixels = np.asarray(img, dtype=np.uint8)
    except Exception as e:  # noqa: BLE001 - PIL raises many types for bad files; all mean "unreadable"
        return e
    return pixels.reshape(pixels.shape[0], pixels.shape[1], -1), original, shape


def _reason(e: Exception) -> str:
    if isinstance(e, UnidentifiedImageError):
        return "not a recognized image"
    return str(e).splitlines()[0] if str(e) else type(e).__name__


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
    root = _existing(path, "folder", want_dir=True)
    files, labels, classes = _scan(root)
    mode = {1: "L", 3: "RGB"}.get(cfg.channels)
    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
        results = list(pool.map(partial(_decode, mode=mode, size=cfg.image_size), files))

    bad = [(f, r) for f, r in zip(files, results) if isinstance(r, Exception)]
    if bad and not cfg.skip_bad_files:
        f, e = bad[0]
        raise DataError(f"cannot read image {f}: {_reason(e)} (fix or remove it, or pass --skip-bad-files)")
    if bad:
        print(f"genlab: warning: skipped {len(bad)} unreadable file{'s' * (len(bad) > 1)} in {root} "
              f"(first: {bad[0][0]})", file=sys.stderr)
    good = [(f, r) for f, r in zip(files, results) if not isinstance(r, Exception)]
    if labels is not None:
        labels = [k for k, r in zip(labels, results) if not isinstance(r, Exception)]
    if not good:
        raise DataError(f"none of the {len(files)} image files in {root} could be read")

    if mode is None:
        gray = [(f, r[1]) for f, r in good if r[1] in GRAY_MODES]
        color = [(f, r[1]) for f, r in good if r[1] not in GRAY_MODES]
        if gray and color:
            raise DataError(f"{root} mixes grayscale and color images (e.g. {gray[0][0]} is {gray[0][1]}, "
                            f"{color[0][0]} is {color[0][1]}); pass --channels 1 or --channels 3")
    if cfg.image_size is None:
        f0, r0 = good[0]
        for f, r in good:
            if r[2] != r0[2]:
                raise DataError(f"{root} has images of different sizes (e.g. {f0} is {r0[2][0]}x{r0[2][1]}, "
                                f"{f} is {r[2][0]}x{r[2][1]}); pass --image-size N to resize them")

    x = torch.from_numpy(np.stack([r[0] for _, r in good])).permute(0, 3, 1, 2).contiguous()  # (N, C, H, W)
    y = None if labels is None else torch.tensor(labels, dtype=torch.int64)
    return split_off(ArrayDataset(x, y, cfg.dataset, classes), _fractions(cfg))


# ---------------------------------------------------------------------------- idx:PATH

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
        return split_off(_idx_dataset(p, _labels_for(p), cfg.dataset), _fractions(cfg))
    root = _existing(path, "idx", want_dir=True)
    names = {("train", "images"): "train-images-idx3-ubyte", ("train", "labels"): "train-labels-idx1-ubyte",
             ("t10k", "images"): "t10k-images-idx3-ubyte", ("t10k", "labels"): "t10k-labels-idx1-ubyte"}
    found = {key: _idx_file(root, *key) for key in names}
    has_labels = found[("train", "labels")] or found[("t10k", "labels")]  # labels are optional, but for both
    missing = [names[k] for k, v in found.items() if v is None and (k[1] == "images" or has_labels)]
    if missing:
        raise DataError(f"{root} is missing IDX files: {', '.join(missing)} (optionally .gz)")
    train = _idx_dataset(found[("train", "images")], found[("train", "labels")], cfg.dataset)
    test = _idx_dataset(found[("t10k", "images")], found[("t10k", "labels")], cfg.dataset)
    if train.shape != test.shape:
        raise DataError(f"{root}: train images are {train.shape[1]}x{train.shape[2]} "
                        f"but t10k images are {test.shape[1]}x{test.shape[2]}")
    return Splits(*tail_split(train, cfg.validation_fraction), test)


# ---------------------------------------------------------------------------- cifar10:DIR

CIFAR_TRAIN = tuple(f"data_batch_{i}" for i in range(1, 6))


def _get(d: dict, key: str):
    """``d[key]`` for str or bytes keys (Python 2 batches have bytes keys), or None."""
    return d.get(key.encode(), d.get(key))


def _cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """One CIFAR-10 batch: images uint8 (N, 3, 32, 32) and labels int64 (N,)."""
    batch = safe_pickle.load_file(path, encoding="bytes")
    data = _get(batch, "data") if isinstance(batch, dict) else None
    labels = _get(batch, "labels") if isinstance(batch, dict) else None
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        raise DataError(f"{path} is not a CIFAR-10 batch (expected a dict with 'data' uint8 (N, 3072))")
    try:
        labels = np.asarray(labels, dtype=np.int64).reshape(-1)
    except (TypeError, ValueError):
        labels = None
    if labels is None or len(labels) != len(data):
        raise DataError(f"{path}: expected {len(data)} integer 'labels' for its {len(data)} images")
    return data.reshape(-1, 3, 32, 32), labels


def _cifar_classes(path: Path) -> list[str]:
    """Class names from batches.meta (``label_names``), or [] when the file is absent."""
    if not path.is_file():
        return []
    meta = safe_pickle.load_file(path, encoding="bytes")
    names = _get(meta, "label_names") if isinstance(meta, dict) else None
    if not isinstance(names, list):
        return []
    return [n.decode("utf-8", "replace") if isinstance(n, bytes) else str(n) for n in names]


def load_cifar10(cfg: DataConfig, path: str) -> Splits:
    """Load the python version of CIFAR-10 (``cifar-10-batches-py``).

    Args:
        cfg: data config.
        path: the directory holding data_batch_1..5 and test_batch (or its parent).

    Returns:
        uint8 (N, 3, 32, 32) splits: validation is the last ``validation_fraction`` of the
        concatenated training batches (5000 images by default), test is test_batch.
    """
    root = _existing(path, "cifar10", want_dir=True)
    if not (root / "data_batch_1").exists() and (root / "cifar-10-batches-py").is_dir():
        root = root / "cifar-10-batches-py"
    missing = [n for n in (*CIFAR_TRAIN, "test_batch") if not (root / n).is_file()]
    if missing:
        raise DataError(f"{root} is missing CIFAR-10 files: {', '.join(missing)} "
                        "(expected the python version: data_batch_1..5 and test_batch)")
    classes = _cifar_classes(root / "batches.meta")
    parts = [_cifar_batch(root / n) for n in CIFAR_TRAIN]
    x, y = np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
    train = ArrayDataset(torch.from_numpy(x), torch.from_numpy(y), cfg.dataset, classes)
    tx, ty = _cifar_batch(root / "test_batch")
    test = ArrayDataset(torch.from_numpy(tx), torch.from_numpy(ty), cfg.dataset, classes)
    return Splits(*tail_split(train, cfg.validation_fraction), test)


# ---------------------------------------------------------------------------- npz:FILE

def _npz_images(x: np.ndarray, where: str) -> torch.Tensor:
    """Images of any accepted layout/dtype as uint8 (N, C, H, W); ``where`` names them in errors."""
    if x.ndim == 3:
        x = x[:, None]  # (N, H, W) -> (N, 1, H, W)
    elif x.ndim == 4 and x.shape[-1] in (1, 3) and x.shape[1] not in (1, 3):
        x = x.transpose(0, 3, 1, 2)  # NHWC -> NCHW
    elif x.ndim != 4 or x.shape[1] not in (1, 3):
        raise DataError(f"{where} has shape {x.shape}; expected (N, H, W), (N, H, W, C) or (N, C, H, W) "
                        "with 1 or 3 channels")
    if x.dtype == np.bool_:
        x = x.astype(np.uint8) * 255
    elif np.issubdtype(x.dtype, np.floating):
        if x.size and not np.isfinite(x).all():
            bad = ~np.isfinite(x)
            kinds = " and ".join(k for k, m in (("NaN", np.isnan(x)), ("inf", np.isinf(x))) if m.any())
            first = np.unravel_index(int(np.argmax(bad)), x.shape)[0]
            raise DataError(f"{where} contains {kinds} ({int(bad.sum())} values, the first in image {first}); "
                            f"images must be finite, in [0, 1]")
        if x.size and not (x.min() >= 0 and x.max() <= 1):
            raise DataError(f"{where}: float images must lie in [0, 1], found values in [{x.min():g}, {x.max():g}]")
        x = np.rint(x * 255)
    elif np.issubdtype(x.dtype, np.integer):
        if x.size and (x.min() < 0 or x.max() > 255):
            raise DataError(f"{where}: integer images must lie in 0..255, found {x.min()}..{x.max()}")
    else:
        raise DataError(f"{where} has dtype {x.dtype}; expected uint8 or float in [0, 1]")
    return torch.from_numpy(np.ascontiguousarray(x, dtype=np.uint8))


def _npz_labels(y: np.ndarray | None, n: int, where: str) -> torch.Tensor | None:
    if y is None:
        return None
    if y.ndim != 1 or len(y) != n or not np.issubdtype(y.dtype, np.integer):
        raise DataError(f"{where} must be {n} integer labels, got {y.dtype} array of shape {y.shape}")
    return torch.from_numpy(y.astype(np.int64))


def read_npz(file: Path, what: str = "an .npz file") -> dict[str, np.ndarray]:
    """Every array of an .npz archive (no pickled objects); ``what`` names the file in messages.

    Raises:
        DataError: the file is not an .npz archive (a text or other file), or holds object arrays.
    """
    try:
        with open(file, "rb") as fh:
            magic = fh.read(6)
    except OSError as e:
        raise DataError(f"cannot read {file}: {e.strerror or e}") from None
    if not magic.startswith(b"PK"):  # an .npz is a zip archive of .npy files
        kind = "a single NumPy array (.npy)" if magic.startswith(b"\x93NUMPY") else "not a zip archive of arrays"
        raise DataError(f"cannot read {file} as {what}: it is not a valid .npz ({kind}; write one with "
                        f"numpy.savez(file, x=...))")
    try:
        with np.load(file, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except ValueError as e:
        if "pickle" in str(e):
            raise DataError(f"cannot read {file} as {what}: it holds Python objects (pickled arrays), which genlab "
                            f"does not load; save plain numeric arrays with numpy.savez") from None
        raise DataError(f"cannot read {file} as {what}: it is not a valid .npz ({_reason(e)})") from None
    except Exception as e:  # noqa: BLE001 - BadZipFile, OSError, zlib.error ...
        raise DataError(f"cannot read {file} as {what}: it is not a valid .npz ({_reason(e)})") from None


def load_npz(cfg: DataConfig, path: str) -> Splits:
    """Load images from a NumPy .npz file.

    Args:
        cfg: data config.
        path: the file: ``x`` images (N, H, W), (N, H, W, C) or (N, C, H, W), uint8 or float in
            [0, 1]; optional ``y`` labels; optional ``x_val``/``y_val`` and ``x_test``/``y_test``.

    Returns:
        The splits: the file's own val/test arrays when present; whichever is absent is taken
        from ``x`` (the last fraction if the other split is given, else a ``split_off``).
    """
    file = _existing(path, "npz", want_dir=False)
    arrays = read_npz(file)
    if "x" not in arrays:
        raise DataError(f"{file} has no array 'x' (found: {', '.join(sorted(arrays)) or 'none'})")

    def split(suffix: str) -> ArrayDataset | None:
        xk, yk = "x" + suffix, "y" + suffix
        if xk not in arrays:
            return None
        x = _npz_images(arrays[xk], f"{file}: '{xk}'")
        return ArrayDataset(x, _npz_labels(arrays.get(yk), len(x), f"{file}: '{yk}'"), cfg.dataset)

    train, val, test = split(""), split("_val"), split("_test")
    for other in (val, test):
        if other is not None and (other.shape != train.shape or (other.y is None) != (train.y is None)):
            raise DataError(f"{file}: the validation/test arrays must match 'x' in image shape "
                            f"{train.shape} and in having labels")
    if val is None and test is None:
        return split_off(train, _fractions(cfg))
    if val is None:
        train, val = tail_split(train, cfg.validation_fraction)
    elif test is None:
        train, test = tail_split(train, cfg.test_fraction)
    return Splits(train, val, test)
