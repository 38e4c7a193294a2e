"""Differential privacy for table models: DP-SGD training (Opacus, dp.py) and DP metadata; the package
itself imports nothing heavy, so the command line starts without torch."""

from typing import Any


def __getattr__(name: str) -> Any:  # ``from ganforge.tables.privacy import DPConfig``, imported when asked
    if name == "DPConfig":
        from ganforge.tables.privacy.dp import DPConfig

        return DPConfig
    raise AttributeError(name)


__all__ = ["DPConfig"]
