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


def warn_caller(message: str, category: type[Warning] = UserWarning) -> None:
    """``warnings.warn`` attributed to the first frame outside the package (the user's own line), however
    deep inside ganforge it was raised; what Python 3.12's ``skip_file_prefixes`` does, for 3.11."""
    import os
    import sys
    import warnings

    root = os.path.dirname(os.path.abspath(__file__)) + os.sep
    frame, level = sys._getframe(1), 2  # stacklevel 2: this function's caller
    while frame is not None and frame.f_code.co_filename.startswith(root):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level)
