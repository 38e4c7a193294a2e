"""ganforge: train, evaluate and serve generative adversarial networks on your own data.

The public names are resolved on first use, so ``import ganforge`` stays light and optional
dependencies (ONNX, Opacus, FastAPI) are imported only by what needs them.
"""

from __future__ import annotations

import importlib
from typing import Any

from ganforge._version import __version__
from ganforge.errors import GanforgeError

_PUBLIC = {
    "load": "ganforge.engine.model",
    "ImageGAN": "ganforge.images.model",
    "TableGAN": "ganforge.tables.model",
    "SeriesGAN": "ganforge.timeseries.model",
    "AudioGAN": "ganforge.audio.model",
    "Vocoder": "ganforge.audio.vocoder",
    "export_onnx": "ganforge.images.export",
    "OnnxGenerator": "ganforge.images.export",
}

__all__ = ["GanforgeError", "__version__", *_PUBLIC]


def __getattr__(name: str) -> Any:
    if name in _PUBLIC:
        value = getattr(importlib.import_module(_PUBLIC[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'ganforge' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
