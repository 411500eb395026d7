"""``npz:FILE``: images in a NumPy .npz archive (``x``, optional ``y``, ``x_val``/``y_val``,
``x_test``/``y_test``); :func:`read_npz` reads any .npz without pickled objects."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from genlab.config import DataConfig
from genlab.data.base import ArrayDataset, Splits, split_off, tail_split
from genlab.data.images import existing_path, images_from_array, labels_from_array, unreadable_reason
from genlab.errors import DataError


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
        raise DataError(f"cannot read {file} as {what}: it is not a valid .npz ({unreadable_reason(e)})") from None
    except Exception as e:  # noqa: BLE001 - BadZipFile, OSError, zlib.error ...
        raise DataError(f"cannot read {file} as {what}: it is not a valid .npz ({unreadable_reason(e)})") from None


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
    file = existing_path(path, "npz", want_dir=False)
    arrays = read_npz(file)
    if "x" not in arrays:
        raise DataError(f"{file} has no array 'x' (found: {', '.join(sorted(arrays)) or 'none'})")

    def split(suffix: str) -> ArrayDataset | None:
        xk, yk = "x" + suffix, "y" + suffix
        if xk not in arrays:
            return None
        x = images_from_array(arrays[xk], f"{file}: '{xk}'")
        return ArrayDataset(x, labels_from_array(arrays.get(yk), len(x), f"{file}: '{yk}'"), cfg.dataset)

    train, val, test = split(""), split("_val"), split("_test")
    assert train is not None  # 'x' is there
    for other in (val, test):
        if other is not None and (other.shape != train.shape or (other.y is None) != (train.y is None)):
            raise DataError(f"{file}: the validation/test arrays must match 'x' in image shape "
                            f"{train.shape} and in having labels")
    if val is None and test is None:
        return split_off(train, (cfg.validation_fraction, cfg.test_fraction))
    if val is None:
        train, val = tail_split(train, cfg.validation_fraction)
    elif test is None:
        train, test = tail_split(train, cfg.test_fraction)
    assert val is not None and test is not None  # one was given, the other split off
    return Splits(train, val, test)
