"""Differential privacy for table models: DP-SGD training (Opacus) and DP metadata."""

from ganforge.tables.privacy.dp import DPConfig

__all__ = ["DPConfig"]
