"""The vectors wing as the registry sees it (kind "vector"): the smallest complete wing. Its commands,
evaluation and report parts are found by name in cli.py, evaluate.py and report.py (the Wing defaults)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ganforge.core.protocols import Wing


class VectorsWing(Wing):
    name = "vector"
    unit = "vectors"
    package = "ganforge.vectors"

    def load(self, run_dir: Path, device: str = "cpu") -> Any:
        from ganforge.vectors.model import VectorGAN

        return VectorGAN.load(run_dir, device=device)


WING = VectorsWing()
