"""The vectors wing as the registry sees it (kind "vector"): the smallest complete wing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ganforge.core.protocols import Wing


class VectorsWing(Wing):
    name = "vector"
    unit = "vectors"

    def load(self, run_dir: Path, device: str = "cpu") -> Any:
        from ganforge.vectors.model import load_vectors

        return load_vectors(run_dir, device=device)

    def register_cli(self, app: Any, train_app: Any) -> None:
        from ganforge.vectors.cli import register

        register(app, train_app)

    def sample_cli(self, run: Path, config: dict[str, Any], out: Path, options: dict[str, Any]) -> str:
        from ganforge.vectors.cli import sample_cli

        return sample_cli(run, out, options)

    def evaluate_cli(self, run: Path, config: dict[str, Any], options: dict[str, Any], console: Any,
                     out_console: Any) -> None:  # fmt: skip
        from ganforge.vectors.evaluate import evaluate_cli

        evaluate_cli(run, options, out_console)

    def summary_facts(self, config: dict[str, Any]) -> dict[str, Any]:
        data, recipe = config.get("data", {}), config.get("recipe", {})
        return {"vectors": data.get("vectors"), "dimensions": data.get("dim"),
                "recipe": f"MLP {recipe.get('depth')} x {recipe.get('hidden')}"}  # fmt: skip

    def report_sections(self, run_dir: Path, config: dict[str, Any], real: Path | None) -> list[Any]:
        from ganforge.reporting.report import evaluation_sections

        return evaluation_sections(run_dir, config, optional=True)


WING = VectorsWing()
