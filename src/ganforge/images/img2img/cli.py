"""Command-line parts for image-to-image GANs: ``train superres``, ``train translate``, ``upscale``,
``translate`` and the evaluation printout. ``register`` adds them to the main Typer app."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.console import Console

from ganforge.engine.cli import (
    BatchOpt,
    CheckpointEveryOpt,
    DeviceOpt,
    MinutesOpt,
    OutOpt,
    ResumeOpt,
    SeedOpt,
    at_least,
    positive,
)
from ganforge.errors import ConfigError, DataError, GanforgeError

console = Console(stderr=True, soft_wrap=True)  # long paths stay on one line
out_console = Console(soft_wrap=True)


def _progress() -> list:
    from ganforge.engine.progress import ProgressCallback

    return [ProgressCallback(console)]


def _finish(model, run_dir: Path, command: str) -> None:
    m = model.metrics
    console.print(
        f"{m['steps']} steps, {m['images_seen']:,} images in {m['train_seconds']:.0f} s ({m['stopped_by']})"
    )
    if m["stopped_by"] == "interrupt":
        console.print(
            f"[yellow]interrupted[/]: checkpoint saved; continue with: ganforge train {command} --resume {run_dir}"
        )
        raise typer.Exit(130)
    console.print(f"run directory: [bold]{run_dir}[/]   next: ganforge evaluate {run_dir}")


def train_superres_cmd(
    data: Annotated[
        str | None, typer.Argument(help="Folder of high-resolution images, 'photos' or a built-in name.")
    ] = None,
    out: OutOpt = None,
    resume: ResumeOpt = None,
    scale: Annotated[int, typer.Option(help="Upscaling factor: 2, 3 or 4 (1 = restoration).")] = 4,
    restore: Annotated[
        bool, typer.Option(help="Restoration (denoise / deblock) without upscaling: scale 1.")
    ] = False,
    crop: Annotated[int | None, typer.Option(help="High-resolution crop side for training.")] = None,
    degradation: Annotated[str, typer.Option(help="realistic | light | bicubic")] = "realistic",
    steps: Annotated[int | None, typer.Option(help="Generator updates (default 2000).")] = None,
    minutes: MinutesOpt = None,
    batch: BatchOpt = 16,
    width: Annotated[int, typer.Option(help="Generator width.")] = 32,
    blocks: Annotated[int, typer.Option(help="Residual-in-residual dense blocks.")] = 2,
    perceptual_weight: Annotated[float, typer.Option(help="Weight of the perceptual (feature) loss.")] = 5.0,
    seed: SeedOpt = 0,
    device: DeviceOpt = "auto",
    checkpoint_every: CheckpointEveryOpt = 500,
) -> None:
    """Train a super-resolution (or, with --restore, restoration) GAN from high-resolution images alone."""
    from ganforge.images.img2img.model import resume_img2img, train_superres

    at_least("--steps", steps, 1)
    positive("--minutes", minutes)
    if resume is not None:
        model = resume_img2img(resume, steps=steps, minutes=minutes, device=device, callbacks=_progress())
        return _finish(model, resume, "superres")
    if data is None or out is None:
        raise GanforgeError("give DATA and --out (or --resume RUN)")
    if restore and scale not in (1, 4):
        raise GanforgeError("--restore means scale 1; leave out --scale")
    console.print(
        f"[bold]ganforge[/] super-resolution x{1 if restore else scale} on [cyan]{data}[/] -> {out}"
    )
    model = train_superres(data, out, scale=1 if restore else scale, crop=crop, steps=steps if steps is not None else 2000,
                           callbacks=_progress(), degradation=degradation, width=width, blocks=blocks,
                           perceptual_weight=perceptual_weight, batch_size=batch, seed=seed, device=device,
                           max_seconds=minutes * 60 if minutes else None, checkpoint_every=checkpoint_every)  # fmt: skip
    _finish(model, out, "superres")


def train_translate_cmd(
    paired: Annotated[
        tuple[Path, Path] | None, typer.Option(help="A_DIR B_DIR with matching file names (pix2pix).")
    ] = None,
    unpaired: Annotated[
        tuple[Path, Path] | None, typer.Option(help="A_DIR B_DIR, unrelated images (CycleGAN).")
    ] = None,
    out: OutOpt = None,
    resume: ResumeOpt = None,
    resolution: Annotated[int, typer.Option(help="Training image size (a multiple of 16).")] = 64,
    steps: Annotated[int | None, typer.Option(help="Generator updates (default 2000).")] = None,
    minutes: MinutesOpt = None,
    batch: BatchOpt = 8,
    width: Annotated[int, typer.Option(help="Network width.")] = 32,
    seed: SeedOpt = 0,
    device: DeviceOpt = "auto",
    checkpoint_every: CheckpointEveryOpt = 500,
) -> None:
    """Train pix2pix (--paired A_DIR B_DIR) or CycleGAN (--unpaired A_DIR B_DIR) to map A to B."""
    from ganforge.images.img2img.model import resume_img2img, train_translate

    at_least("--steps", steps, 1)
    positive("--minutes", minutes)
    if resume is not None:
        model = resume_img2img(resume, steps=steps, minutes=minutes, device=device, callbacks=_progress())
        return _finish(model, resume, "translate")
    if (paired is None) == (unpaired is None):
        raise GanforgeError("give exactly one of --paired A_DIR B_DIR or --unpaired A_DIR B_DIR")
    if out is None:
        raise GanforgeError("--out is required (the run directory to create)")
    mode, (a, b) = ("paired", paired) if paired is not None else ("unpaired", unpaired)
    console.print(f"[bold]ganforge[/] {'pix2pix' if mode == 'paired' else 'CycleGAN'} {a} -> {b} -> {out}")
    model = train_translate(a, b, mode, out, resolution=resolution, steps=steps if steps is not None else 2000, callbacks=_progress(),
                            width=width, batch_size=batch, seed=seed, device=device, checkpoint_every=checkpoint_every,
                            max_seconds=minutes * 60 if minutes else None)  # fmt: skip
    _finish(model, out, "translate")


def _inputs_outputs(src: Path, out: Path) -> list[tuple[Path, Path]]:
    from ganforge.images.img2img.paired import list_images

    if src.is_dir():
        out.mkdir(parents=True, exist_ok=True)
        return [(p, out / (p.stem + ".png")) for p in list_images(src)]
    if not src.exists():
        raise DataError(f"input not found: {src}")
    if out.suffix.lower() not in (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff"):
        raise ConfigError(f"--out must be an image file name (e.g. out.png) for one input image (got {out})")
    out.parent.mkdir(parents=True, exist_ok=True)
    return [(src, out)]


def _label_id(run: Path) -> str | None:
    """The id a PNG output is labelled with: derived from the run's weights checksum."""
    from ganforge.engine import artifact
    from ganforge.safety.payload import saved_model_id

    return saved_model_id(artifact.read_config(run))


def _save(image: np.ndarray, path: Path, label_id: str | None) -> None:
    """PNG outputs carry the synthetic-content label (text chunks, as generated images do); the invisible
    mark is made for small generated images and is not embedded in these (docs/responsible-use.md)."""
    from ganforge.images.data import to_pil
    from ganforge.images.watermark import save_png

    if label_id and path.suffix.lower() == ".png":
        save_png(image, path, label_id)
    else:
        to_pil(image).save(path)


def upscale_cmd(
    run: Annotated[Path, typer.Argument(help="A super-resolution or restoration run.")],
    src: Annotated[Path, typer.Argument(metavar="IN", help="An image or a folder of images.")],
    out: Annotated[Path, typer.Option(help="Output image (or folder, for a folder IN).")],
    tile: Annotated[
        int, typer.Option(help="Input pixels per tile side (memory grows with its square).")
    ] = 128,
    overlap: Annotated[int, typer.Option(help="Pixels neighbouring tiles share and blend.")] = 16,
    device: DeviceOpt = "cpu",
) -> None:
    """Upscale (or restore) images of any size, tile by tile with blended seams."""
    from ganforge.images.img2img.model import load_img2img
    from ganforge.images.img2img.paired import read_image

    model = load_img2img(run, device=device)
    if model.kind != "superres":
        raise GanforgeError(f"{run} is a translation run; use: ganforge translate {run} IN --out OUT")
    jobs, label_id = _inputs_outputs(src, out), _label_id(run)
    for path_in, path_out in jobs:
        result = model.upscale(read_image(path_in), tile=tile, overlap=overlap)
        _save(result, path_out, label_id)
    out_console.print(f"wrote {len(jobs)} image(s) to {out} (x{model.recipe_config.scale})")


def translate_cmd(
    run: Annotated[Path, typer.Argument(help="A pix2pix or CycleGAN run.")],
    src: Annotated[Path, typer.Argument(metavar="IN", help="An image or a folder of images.")],
    out: Annotated[Path, typer.Option(help="Output image (or folder, for a folder IN).")],
    direction: Annotated[str, typer.Option(help="a2b | b2a (b2a: CycleGAN only).")] = "a2b",
    device: DeviceOpt = "cpu",
) -> None:
    """Translate images from domain A to B (or B to A)."""
    from ganforge.images.img2img.model import load_img2img
    from ganforge.images.img2img.paired import read_image

    model = load_img2img(run, device=device)
    if model.kind != "translate":
        raise GanforgeError(f"{run} is a super-resolution run; use: ganforge upscale {run} IN --out OUT")
    jobs, label_id = _inputs_outputs(src, out), _label_id(run)
    for path_in, path_out in jobs:
        _save(model.translate(read_image(path_in), direction), path_out, label_id)
    out_console.print(f"wrote {len(jobs)} translated image(s) ({direction}) to {out}")


def evaluate_cmd(run: Path, ref: str | None, n: int | None, extractor: str, seed: int) -> None:
    """The ``ganforge evaluate`` branch for super-resolution and translation runs."""
    from ganforge.images.img2img.evaluate import evaluate_img2img_run
    from ganforge.reporting.html import flatten

    result = evaluate_img2img_run(run, ref=ref, n=n, extractor=extractor, seed=seed)
    for key, value in flatten(result):
        out_console.print(f"{key:>28}  {value}")
    out_console.print(
        f"panels in {Path(run) / 'evaluation'}; figures recorded in {Path(run) / 'config.json'}"
    )


def register(app: typer.Typer, train_app: typer.Typer) -> None:
    """Add the image-to-image commands to the ``ganforge`` app."""
    train_app.command("superres")(train_superres_cmd)
    train_app.command("translate")(train_translate_cmd)
    app.command("upscale")(upscale_cmd)
    app.command("translate")(translate_cmd)
