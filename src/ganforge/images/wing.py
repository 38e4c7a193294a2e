"""The images wing as the registry sees it (kind "image")."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ganforge.core.protocols import Wing


class ImagesWing(Wing):
    name = "image"
    package = "ganforge.images"
    unit = "images"
    shard_suffix = "tar"

    def load(self, run_dir: Path, device: str = "cpu") -> Any:
        from ganforge.images.model import load_image

        return load_image(run_dir, device=device)

    def sampler(self, run_dir: Path, device: str, engine: str, onnx: Path | None) -> Any:
        from ganforge.images.cli_export import load_sampler

        return load_sampler(run_dir, device, engine, onnx)

    def export_onnx(self, run: Path, path: Path | None) -> str:
        from ganforge.images.cli_export import export_message

        return export_message(run, path)

    verify_suffixes = (".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp", ".tif", ".tiff")

    def marked_runs(self, root: Path) -> dict[str, str]:
        from ganforge.images.cli_safety import find_runs

        return find_runs(root)

    def verify_file(self, path: Path, known: dict[str, str], named_runs: bool) -> tuple[str, int]:
        from ganforge.images.cli_safety import verify_file

        return verify_file(path, known, named_runs)

    def shard_check(self, model: Any, options: dict[str, Any]) -> None:
        from ganforge.errors import ConfigError

        if options.get("conditions"):
            raise ConfigError("--condition is for table models; use --class for images")
        model.sample(1, labels=options.get("klass"), seed=0, watermark=False)

    def write_shard(self, task: Any, model: Any, fh: Any) -> int:
        from ganforge.images.cli_safety import write_tar_shard

        return write_tar_shard(task, model, fh)


WING = ImagesWing()
