"""One exception family for everything a user can cause and fix.

The CLI prints these as one line and exits non-zero; anything else is a bug and keeps its traceback.
"""


class GanforgeError(Exception):
    """Base of every error ganforge raises on purpose."""


class DataError(GanforgeError):
    """The input data cannot be read or is unusable (empty, corrupt, wrong kind)."""


class ConfigError(GanforgeError):
    """An option or combination of options is invalid."""


class CheckpointError(GanforgeError):
    """A run directory, checkpoint or weight file is missing, corrupt or tampered with."""


class TrainingError(GanforgeError):
    """Training cannot go on (for example the losses became NaN)."""
