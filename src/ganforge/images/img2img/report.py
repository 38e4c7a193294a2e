"""Report sections for super-resolution and translation runs: before/after panels, zoomed crops and
the evaluation figures (written by ``ganforge evaluate``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ganforge.reporting.html import figure, figures, kv_table, not_computed, note
from ganforge.reporting.plots import image_file_uri

PANELS = "img2img_panels.png"  # written by evaluate_img2img (kept here so reports import no torch)
ZOOM = "img2img_zoom.png"


def _captions(config: dict[str, Any]) -> tuple[str, str]:
    recipe = config.get("recipe", {})
    if config.get("kind") == "superres":
        base = "bicubic" if recipe.get("scale", 1) > 1 else "degraded input"
        return f"left to right: {base}, model, original", f"central crops x4: {base}, model, original"
    if recipe.get("mode") == "unpaired":
        return "left to right: A, A->B, B, B->A", ""
    return "left to right: input A, model output, target B", ""


def report_sections(
    run_dir: Path, config: dict[str, Any], real: Path | None = None
) -> list[tuple[str, str, str]]:
    """ "Before / after" (panels + zoomed crops) and "Evaluation" sections of an image-to-image run."""
    command = f"ganforge evaluate {run_dir}"
    folder = Path(run_dir) / "evaluation"
    caption, zoom_caption = _captions(config)
    items = []
    for name, text in ((PANELS, caption), (ZOOM, zoom_caption)):
        if (folder / name).is_file():
            uri, _ = image_file_uri(folder / name, max_side=1024)
            items.append(figure(uri, text, alt=text, pixels=name == ZOOM))
    panels = figures(items) if items else not_computed("Before/after panels", command)
    evaluation = config.get("metrics", {}).get("evaluation")
    body = (
        kv_table(evaluation)
        if isinstance(evaluation, dict) and evaluation
        else not_computed("PSNR/SSIM (super-resolution) or FID/KID (translation)", command)
    )
    if config.get("kind") == "superres" and isinstance(evaluation, dict):
        body = note("Reference images degraded as in training (fixed seed), then upscaled.") + body
    return [("before-after", "Before / after", panels), ("evaluation", "Evaluation", body)]
