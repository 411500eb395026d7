"""``cifar10:DIR``: the python version of CIFAR-10 (``cifar-10-batches-py``), read through the
restricted unpickler (:mod:`genlab.data.safe_pickle`)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from genlab.config import DataConfig
from genlab.data import safe_pickle
from genlab.data.base import ArrayDataset, Splits, tail_split
from genlab.data.images import existing_path
from genlab.errors import DataError

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
    root = existing_path(path, "cifar10", want_dir=True)
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
