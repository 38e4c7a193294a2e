"""The tables wing as the registry sees it (kind "table")."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ganforge.core.protocols import Wing


class TablesWing(Wing):
    name = "table"
    package = "ganforge.tables"
    unit = "rows"
    shard_suffix = "parquet"
    sample_options = ("class_shares",)

    def load(self, run_dir: Path, device: str = "cpu") -> Any:
        from ganforge.tables.model import load_table

        return load_table(run_dir, device=device)

    def sampler(self, run_dir: Path, device: str, engine: str, onnx: Path | None) -> Any:
        from ganforge.errors import ConfigError

        if engine != "torch":
            raise ConfigError(
                f"--engine onnx is for image models; {run_dir} is a table model (use --engine torch)"
            )
        return self.load(run_dir, device=device)

    def export_onnx(self, run: Path, path: Path | None) -> str:
        from ganforge.errors import ConfigError

        raise ConfigError(
            f"{run} is a table model: ONNX export covers image models only (a table's sampling and "
            "decoding live in Python); sample it with: ganforge sample RUN --out rows.parquet"
        )

    def shard_default_n(self, model: Any) -> int:
        return int(model.data_info.get("rows", 1000))

    def shard_check(self, model: Any, options: dict[str, Any]) -> None:
        from ganforge.errors import ConfigError

        if options.get("klass") is not None:
            raise ConfigError("--class is for image models; use --condition for tables")
        model.check_conditions(options.get("conditions"))

    def write_shard(self, task: Any, model: Any, fh: Any) -> int:
        from ganforge.tables.sampling import write_parquet_shard

        return write_parquet_shard(task, model, fh)

    def finish_shard(self, path: Path, model: Any, count: int, task: Any) -> None:
        from ganforge.safety.provenance import write_table_sidecar

        write_table_sidecar(
            path,
            model,
            count,
            task.seed,
            task.conditions,
            model.shares_kept_of(task.conditions, task.class_shares),
        )

    def shard_complete(self, path: Path) -> bool:
        return path.with_name(path.name + ".provenance.json").is_file()


WING = TablesWing()
