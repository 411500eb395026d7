"""An exclusive lock on a run directory, so two processes never train into the same run.

The lock is ``fcntl.flock`` on ``RUN/.lock``, which the kernel releases when the holding process
ends in any way (kill -9 included), so a lock left by a dead process is simply taken over. The
holder writes its pid into the file, which is what a refused process names in its message.
Where ``fcntl`` does not exist (Windows) runs are not locked.
"""
from __future__ import annotations

import os
from pathlib import Path

from genlab.errors import CheckpointError

LOCK_FILE = ".lock"

try:
    import fcntl
except ImportError:  # pragma: no cover - not on POSIX
    fcntl = None  # type: ignore[assignment]


class RunLock:
    """Hold the run directory's lock from :meth:`acquire` until :meth:`release` (or process exit)."""

    def __init__(self, run_dir: str | Path):
        self.path = Path(run_dir) / LOCK_FILE
        self._fd: int | None = None

    def acquire(self) -> RunLock:
        if fcntl is None or self._fd is not None:
            return self
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            try:
                holder = os.read(fd, 64).decode(errors="replace").strip() or "unknown"
            finally:
                os.close(fd)
            raise CheckpointError(f"run {self.path.parent} is in use by another genlab process (pid {holder}); "
                                  f"wait for it to finish or stop it first") from None
        os.ftruncate(fd, 0)  # a stale pid from a dead holder is replaced
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            try:
                os.ftruncate(self._fd, 0)
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            finally:
                os.close(self._fd)
                self._fd = None

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()
