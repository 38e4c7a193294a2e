"""The image-to-image sub-wing as the registry sees it (kinds "superres" and "translate")."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ganforge.core.protocols import Wing


class ImageToImageWing(Wing):
    name = "image-to-image"
    package = "ganforge.images.img2img"
    unit = "images"

    def load(self, run_dir: Path, device: str = "cpu") -> Any:
        from ganforge.images.img2img.model import load_img2img

        return load_img2img(run_dir, device=device)

    def sample_cli(self, run: Path, config: dict[str, Any], out: Path, options: dict[str, Any]) -> str:
        from ganforge.errors import ConfigError

        raise ConfigError(f"{run} maps images to images: use `ganforge upscale` or `ganforge translate`")

    def evaluate_cli(self, run: Path, config: dict[str, Any], options: dict[str, Any], console: Any,
                     out_console: Any) -> None:  # fmt: skip
        from ganforge.images.img2img.cli import evaluate_cmd

        evaluate_cmd(run, options["ref"], options["n"], options["extractor"], options["seed"])


WING = ImageToImageWing()
