"""The vectors wing's part of ``ganforge report``: the run's facts, then any stored evaluation figures."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ganforge.reporting.report import Section, evaluation_sections


def summary_facts(config: dict[str, Any]) -> dict[str, Any]:
    """How many vectors of how many dimensions, and the networks."""
    data, recipe = config.get("data", {}), config.get("recipe", {})
    return {"vectors": data.get("vectors"), "dimensions": data.get("dim"),
            "recipe": f"MLP {recipe.get('depth')} x {recipe.get('hidden')}"}  # fmt: skip


def report_sections(run_dir: Path, config: dict[str, Any], real: Path | None = None) -> list[Section]:
    """The evaluation figures (``ganforge evaluate RUN``), when there are any."""
    return evaluation_sections(run_dir, config, optional=True)
