"""The image-to-image sub-wing as the registry sees it (kinds "superres" and "translate")."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ganforge.core.protocols import Wing


class ImageToImageWing(Wing):
    name = "image-to-image"
    unit = "images"

    def load(self, run_dir: Path, device: str = "cpu") -> Any:
        from ganforge.images.img2img.model import load_img2img

        return load_img2img(run_dir, device=device)

    def register_cli(self, app: Any, train_app: Any) -> None:
        from ganforge.images.img2img.cli import register_img2img

        register_img2img(app, train_app)

    def sample_cli(self, run: Path, config: dict[str, Any], out: Path, options: dict[str, Any]) -> str:
        from ganforge.errors import ConfigError

        raise ConfigError(f"{run} maps images to images: use `ganforge upscale` or `ganforge translate`")

    def evaluate_cli(self, run: Path, config: dict[str, Any], options: dict[str, Any], console: Any,
                     out_console: Any) -> None:  # fmt: skip
        from ganforge.images.img2img.cli import evaluate_cmd

        evaluate_cmd(run, options["ref"], options["n"], options["extractor"], options["seed"])

    def report_sections(self, run_dir: Path, config: dict[str, Any], real: Path | None) -> list[Any]:
        from ganforge.images.img2img.report import img2img_sections

        return img2img_sections(run_dir, config)


WING = ImageToImageWing()
