"""User-facing errors.

Anything a user can cause (bad path, corrupt file, wrong shape, bad config key, wrong checkpoint)
raises :class:`GenlabError` with a one-line message. The CLI prints it as ``genlab: error: ...``
and exits non-zero without a traceback; library users catch it like any exception.
"""


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
