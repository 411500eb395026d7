"""Files: atomic writes, model weights (safetensors + JSON config), image grids (PNG)."""
from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from genlab.errors import ConfigError


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def default_mode(directory: bool = False) -> int:
    """The mode a plain ``open()`` / ``mkdir()`` gives (0644 / 0755 under the usual umask).

    Temporary files and folders (``mkstemp`` / ``mkdtemp``: 0600 / 0700) get this mode before
    they are renamed into place, so every file in a run has the same permissions.
    """
    return (0o777 if directory else 0o666) & ~_umask()


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file in the same folder and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, default_mode())
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_link(src: str | Path, dst: str | Path) -> None:
    """Make ``dst`` a hard link to ``src`` (a copy where links are not possible), atomically."""
    src, dst = Path(src), Path(dst)
    tmp = dst.with_name(f".{dst.name}.{os.getpid()}.link")
    tmp.unlink(missing_ok=True)
    try:
        os.link(src, tmp)
    except OSError:
        shutil.copyfile(src, tmp)
    os.replace(tmp, dst)


@contextlib.contextmanager
def atomic_directory(path: str | Path, replace: bool = True) -> Iterator[Path]:
    """Fill a temporary folder beside ``path``; when the block ends without error it becomes ``path``.

    The folder is renamed into place (one atomic step on the same file system), so readers see
    either the old ``path`` or the complete new one, never a half-written folder. An existing
    ``path`` is moved aside first and removed after the swap (``replace=False`` keeps it and drops
    the new folder instead, e.g. when another process wrote the same cache entry first). On an
    error the temporary folder is removed and ``path`` is untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        os.chmod(tmp, default_mode(directory=True))
        yield tmp
        if path.exists():
            if not replace:
                return
            old = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".old", dir=path.parent))
            os.replace(path, old / path.name)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            try:
                os.replace(tmp, path)
            except OSError:  # another process created ``path`` in the meantime
                if replace or not path.exists():
                    raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def atomic_write_json(path: str | Path, obj: Any) -> None:
    atomic_write_bytes(path, (json.dumps(obj, indent=2, sort_keys=False) + "\n").encode())


def read_json(path: str | Path) -> Any:
    return json.loads(Path(path).read_text())


def save_state_dict(state: dict[str, torch.Tensor], path: str | Path) -> None:
    """Save tensors as safetensors, atomically. Shared storage is cloned, so tied weights are fine."""
    from safetensors.torch import save

    tensors = {k: v.detach().cpu().contiguous().clone() for k, v in state.items()}
    atomic_write_bytes(path, save(tensors))


def load_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(path))


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """(N, C, H, W) floats in [0, 1] -> (N, H, W, C) uint8."""
    x = images.detach().float().clamp(0, 1).mul(255).round().to(torch.uint8).cpu()
    return x.permute(0, 2, 3, 1).numpy()


def make_grid(images: torch.Tensor, nrow: int | None = None, padding: int = 2, pad_value: float = 1.0) -> np.ndarray:
    """Tile (N, C, H, W) images in [0, 1] into one (H', W', C) uint8 array, ``nrow`` per row."""
    n, c, h, w = images.shape
    nrow = nrow or max(1, math.ceil(math.sqrt(n)))
    rows = math.ceil(n / nrow)
    grid = np.full((rows * (h + padding) + padding, nrow * (w + padding) + padding, c),
                   int(round(pad_value * 255)), dtype=np.uint8)
    tiles = to_uint8(images)
    for i in range(n):
        r, col = divmod(i, nrow)
        top, left = padding + r * (h + padding), padding + col * (w + padding)
        grid[top:top + h, left:left + w] = tiles[i]
    return grid


def save_image_grid(images: torch.Tensor, path: str | Path, nrow: int | None = None, scale: int = 0) -> Path:
    """Save images in [0, 1] as one PNG grid. Small images are enlarged (nearest) for viewing."""
    from PIL import Image

    grid = make_grid(images, nrow)
    if scale == 0:  # make 28 px digits readable without blurring them
        scale = max(1, min(4, 256 // max(images.shape[-1], 1)))
    img = Image.fromarray(grid[..., 0] if grid.shape[-1] == 1 else grid)
    if scale > 1:
        img = img.resize((img.width * scale, img.height * scale), Image.Resampling.NEAREST)
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(errno.EISDIR, "Is a directory", str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.png")
    try:
        img.save(tmp, format="PNG")
        os.replace(tmp, path)
    except BaseException:  # e.g. ``path`` is a folder: leave no temporary file behind
        tmp.unlink(missing_ok=True)
        raise
    return path


# the temporary names genlab's own atomic writes use (see above): what a kill -9 can leave behind
TEMP_PATTERNS = (".*.tmp", ".*.old", ".*.link", ".*.tmp.png")


def remove_temporaries(folder: str | Path) -> list[Path]:
    """Delete genlab's own temporary files and folders directly inside ``folder``; return them.

    Only names that start with a dot and end like the temporaries of :func:`atomic_write_bytes`,
    :func:`atomic_directory`, :func:`atomic_link` and :func:`save_image_grid` are touched. Call
    it only while no other process writes into ``folder`` (a run holds its lock).
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    removed = []
    for pattern in TEMP_PATTERNS:
        for p in folder.glob(pattern):
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p, ignore_errors=True)
            else:
                p.unlink(missing_ok=True)
            removed.append(p)
    return removed


def save_images_npz(images: torch.Tensor, path: str | Path, labels: torch.Tensor | None = None) -> Path:
    """Save images as uint8 (N, H, W, C) in an .npz (key 'x', and 'y' for labels) for evaluation tools."""
    import io as _io

    buf = _io.BytesIO()
    arrays: dict[str, Any] = {"x": to_uint8(images)}
    if labels is not None:
        arrays["y"] = labels.cpu().numpy()
    np.savez(buf, **arrays)
    atomic_write_bytes(path, buf.getvalue())
    return Path(path)


def check_parent(out: str | Path) -> None:
    """Refuse an output path below a file (instead of a bare 'File exists' later)."""
    out = Path(out)
    for parent in out.parents:
        if parent.exists():
            if not parent.is_dir():
                raise ConfigError(f"--out {out}: {parent} is a file, not a folder")
            return


def check_output(out: str | Path, suffixes: tuple[str, ...], command: str) -> Path:
    """An output file checked before any work: a known extension, not a folder, a writable place.
    ``command`` (e.g. 'sample') names what writes it in the message."""
    out = Path(out)
    if out.is_dir():
        raise ConfigError(f"--out {out} is a directory; give a file name ending in {' or '.join(suffixes)}")
    if out.suffix.lower() not in suffixes:
        raise ConfigError(f"--out {out}: unknown file type '{out.suffix}'; `genlab {command}` writes "
                          f"{' or '.join(suffixes)}")
    check_parent(out)
    return out


def name_grid_rows(path: str | Path, names: list[str]) -> None:
    """Put a column with each row's name to the left of a grid PNG (one name per row of images)."""
    import io as _io

    from PIL import Image, ImageDraw, ImageFont

    grid = Image.open(path).convert("RGB")
    font = ImageFont.load_default()
    draw = ImageDraw.Draw(grid)
    width = max(int(draw.textlength(n, font=font)) for n in names) + 8
    out = Image.new("RGB", (grid.width + width, grid.height), "white")
    out.paste(grid, (width, 0))
    pen, row_h = ImageDraw.Draw(out), grid.height / len(names)
    for r, name in enumerate(names):
        pen.text((4, int((r + 0.5) * row_h) - 5), name, fill="black", font=font)
    buf = _io.BytesIO()
    out.save(buf, format="PNG")
    atomic_write_bytes(path, buf.getvalue())
