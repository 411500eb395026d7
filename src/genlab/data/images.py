"""Image helpers shared by the file loaders, ``load_splits`` and the applications (``genlab.apps``).

- Resizing and channels: :func:`fit_square`, :func:`resize_square`, :func:`to_channels` (also used
  by ``load_splits`` to apply ``image_size`` and ``channels`` to every source).
- Image files: :func:`scan_image_folder` (class subfolders give labels), :func:`decode_image`
  (one file, any mode, to uint8 pixels) and :func:`unreadable_reason` (the one-line reason a file
  cannot be read).
- Arrays: :func:`images_from_array` / :func:`labels_from_array` turn the arrays users give (an
  .npz's ``x`` and ``y``: any accepted layout and dtype) into uint8 (N, C, H, W) images and int64
  labels, naming the array in every error.
- :func:`existing_path`: a user's path, checked to exist and to be a folder (or a file).

Every problem is a one-line :class:`~genlab.errors.DataError` naming the offending path.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from genlab.errors import DataError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
GRAY_MODES = ("L", "1", "I", "I;16", "I;16B", "I;16L", "I;16N", "F")
LUMA = (19595, 38470, 7471)  # ITU-R 601-2 weights * 2**16, the integer formula of PIL's convert('L')


# ---------------------------------------------------------------------------- resizing and channels

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

# ---------------------------------------------------------------------------- paths and image files

def existing_path(path: str, kind: str, want_dir: bool) -> Path:
    """``path`` as a Path, checked to exist and be a directory (or a file)."""
    p = Path(path).expanduser()
    if not p.exists():
        raise DataError(f"{kind} dataset: {p} does not exist")
    if want_dir and not p.is_dir():
        raise DataError(f"{kind} dataset: {p} is not a directory")
    if not want_dir and not p.is_file():
        raise DataError(f"{kind} dataset: {p} is not a file")
    return p

def is_image_file(path: Path, root: Path) -> bool:
    """An image file by extension, not hidden (skips .DS_Store, ._x.png, .ipynb_checkpoints/)."""
    return (path.suffix.lower() in IMAGE_EXTENSIONS and path.is_file()
            and not any(part.startswith(".") for part in path.relative_to(root).parts))


def scan_image_folder(root: Path) -> tuple[list[Path], list[int] | None, list[str]]:
    """Image files of ``root``: (files, labels or None, class names). Subfolders are classes."""
    try:
        entries = sorted(root.iterdir())
        direct = [p for p in entries if is_image_file(p, root)]
        classes = []  # (name, files) of each subfolder holding images
        for d in entries:
            if d.is_dir() and not d.name.startswith("."):
                files = sorted(f for f in d.rglob("*") if is_image_file(f, root))
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


def decode_image(path: Path, mode: str | None, size: int | None) -> tuple[np.ndarray, str, tuple[int, int]] | Exception:
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
        with Image.open(path) as file:
            img: Image.Image = ImageOps.exif_transpose(file)
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


def unreadable_reason(e: Exception) -> str:
    if isinstance(e, UnidentifiedImageError):
        return "not a recognized image"
    return str(e).splitlines()[0] if str(e) else type(e).__name__

# ---------------------------------------------------------------------------- arrays

def images_from_array(x: np.ndarray, where: str) -> torch.Tensor:
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


def labels_from_array(y: np.ndarray | None, n: int, where: str) -> torch.Tensor | None:
    if y is None:
        return None
    if y.ndim != 1 or len(y) != n or not np.issubdtype(y.dtype, np.integer):
        raise DataError(f"{where} must be {n} integer labels, got {y.dtype} array of shape {y.shape}")
    return torch.from_numpy(y.astype(np.int64))
