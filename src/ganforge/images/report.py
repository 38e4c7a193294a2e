"""The images wing's part of ``ganforge report``: the run's facts, sample grids and evaluation figures."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ganforge.reporting.html import fmt
from ganforge.reporting.report import Section, evaluation_sections, samples_section


def summary_facts(config: dict[str, Any]) -> dict[str, Any]:
    """Data size, recipe, resolution and classes of an image run."""
    recipe, data = config.get("recipe", {}), config.get("data", {})
    classes = recipe.get("class_names") or []
    return {
        "images": data.get("images"),
        "recipe": f"{recipe.get('arch')}, preset {config.get('preset', 'default')}",
        "resolution": f"{recipe.get('resolution')} px, {recipe.get('channels')} channel(s)",
        "classes": fmt(list(classes)) if classes else "unconditional",
    }


def report_sections(run_dir: Path, config: dict[str, Any], real: Path | None = None) -> list[Section]:
    """Samples, evaluation figures, nearest training images and per-class figures of an image run."""
    return [("samples", "Samples over training", samples_section(run_dir))] + evaluation_sections(
        run_dir, config, optional=False
    )
