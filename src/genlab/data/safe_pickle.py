"""A restricted unpickler for dataset files (the MNIST pickle, CIFAR-10 batches).

A pickle can name any importable callable and have it called while loading, so an ordinary
``pickle.load`` of a downloaded file can run arbitrary code. :class:`SafeUnpickler` resolves only
the few globals numpy needs to rebuild arrays plus harmless builtin containers; anything else
stops the load with a :class:`~genlab.errors.DataError`.
"""
from __future__ import annotations

import importlib
import pickle
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from genlab.errors import DataError

# (module, name) pairs a data pickle may reference. numpy moved numpy.core to numpy._core in 2.0;
# both spellings are accepted and resolved against whichever this numpy provides.
ALLOWED = frozenset({
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"),
    ("_codecs", "encode"),  # protocol-2 pickles store bytes as encode(str, 'latin1')
    *(("builtins", name) for name in ("set", "frozenset", "bytearray", "complex", "slice", "range")),
})
_NUMPY_CORE = "numpy._core" if int(np.__version__.split(".")[0]) >= 2 else "numpy.core"


class BinaryReader(Protocol):
    """What an unpickler reads: a binary file object, plain or e.g. a ``gzip.GzipFile``."""

    def read(self, n: int, /) -> bytes: ...

    def readline(self) -> bytes: ...


class SafeUnpickler(pickle.Unpickler):
    """An Unpickler that refuses every global outside :data:`ALLOWED`.

    Args:
        file: binary file object to read.
        source: path shown in error messages.
        encoding: how to decode Python 2 ``str`` objects ('latin1' for numpy arrays,
            'bytes' to keep them as bytes, as the CIFAR-10 batches expect).
    """

    def __init__(self, file: BinaryReader, source: str | Path, encoding: str = "ASCII"):
        super().__init__(file, encoding=encoding)
        self.source = source

    def find_class(self, module: str, name: str) -> Any:
        module = {"__builtin__": "builtins"}.get(module, module)  # Python 2 spelling
        if module.startswith("numpy._core"):
            module = "numpy.core" + module[len("numpy._core"):]
        if (module, name) not in ALLOWED:
            raise DataError(f"refusing to unpickle {module}.{name} from {self.source}: "
                            "only numpy arrays and plain Python data are allowed")
        if module.startswith("numpy.core"):
            module = _NUMPY_CORE + module[len("numpy.core"):]
        return getattr(importlib.import_module(module), name)


def load(file: BinaryReader, source: str | Path, encoding: str = "ASCII") -> Any:
    """Unpickle one object from ``file`` with :class:`SafeUnpickler`.

    Args:
        file: binary file object (plain or e.g. a ``gzip.GzipFile``).
        source: path shown in error messages.
        encoding: see :class:`SafeUnpickler`.

    Returns:
        The unpickled object.

    Raises:
        DataError: the pickle names a forbidden global, or is corrupt or truncated.
    """
    try:
        return SafeUnpickler(file, source, encoding).load()
    except DataError:
        raise
    except Exception as e:  # noqa: BLE001 - any failure to parse is a bad user file
        raise DataError(f"cannot unpickle {source}: {type(e).__name__}: {e}") from None


def load_file(path: Path, encoding: str = "ASCII") -> Any:
    """:func:`load` the pickle stored at ``path`` (a missing/unreadable file is a DataError)."""
    try:
        with open(path, "rb") as f:
            return load(f, path, encoding)
    except OSError as e:
        raise DataError(f"cannot read {path}: {e.strerror or e}") from None
