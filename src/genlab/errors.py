"""User-facing errors.

Anything a user can cause (bad path, corrupt file, wrong shape, bad config key, wrong checkpoint)
raises :class:`GenlabError` with a one-line message. The CLI prints it as ``genlab: error: ...``
and exits non-zero without a traceback; library users catch it like any exception.
"""
from __future__ import annotations

from pathlib import Path


class GenlabError(Exception):
    """An error caused by the user's input, reported as one clear line."""


class DataError(GenlabError):
    """A dataset could not be found, read or interpreted."""


class ConfigError(GenlabError):
    """A configuration key or value is invalid."""


class CheckpointError(GenlabError):
    """A run directory or checkpoint is missing, corrupt or of another model."""


class TrainingDiverged(GenlabError):
    """A loss became NaN or infinite; the last good checkpoint is kept."""


class Interrupted(Exception):
    """Training stopped by a signal (after writing a checkpoint when there was a step to save).

    Not a :class:`GenlabError`: the CLI answers it with the resume command and exit status 128 + the
    signal number. It lives here (no torch) so the CLI can catch it without importing the trainer.

    Attributes:
        signal_name: 'SIGINT' or 'SIGTERM'.
        step: the step the run stopped at.
        saved: whether the run has a checkpoint (False: a resume starts from step 0).
        run_dir: the run directory (None when there is none, e.g. stopped before it was created;
            the trainer knows no directories, the run layer fills it in).
        detail: the message, when the default does not fit (it is printed as ``genlab: MESSAGE``).
    """

    def __init__(self, signal_name: str, step: int, saved: bool = True, run_dir: Path | None = None,
                 detail: str | None = None):
        where = f"checkpoint saved at step {step}" if saved else "no checkpoint was written yet"
        super().__init__(detail or f"stopped by {signal_name} at step {step}; {where}")
        self.signal_name, self.step, self.saved, self.run_dir = signal_name, step, saved, run_dir
