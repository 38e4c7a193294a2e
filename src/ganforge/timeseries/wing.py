"""The time-series wing as the registry sees it (kind "series"). Its commands, evaluation and report
parts are found by name in cli.py, evaluate.py and report.py (the Wing defaults)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ganforge.core.protocols import Wing


class SeriesWing(Wing):
    name = "time-series"
    unit = "sequences"
    package = "ganforge.timeseries"
    sample_options = ("length",)

    def load(self, run_dir: Path, device: str = "cpu") -> Any:
        from ganforge.timeseries.model import SeriesGAN

        return SeriesGAN.load(run_dir, device=device)


WING = SeriesWing()
