"""The images wing's commands: ``train images``, ``sample`` of an image run, ``interpolate``,
``datasets``; ``detect`` and ``train detector`` come from cli_export.py. (``verify`` and ``export`` are
generic commands in cli/ that reach this wing through its hooks in wing.py.)"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any

import typer

from ganforge.engine.cli import (
    BatchOpt,
    CheckpointEveryOpt,
    DeviceOpt,
    MinutesOpt,
    OnProblemOpt,
    OutOpt,
    ResumeOpt,
    SeedOpt,
    at_least,
    check_fits,
    check_on_problem,
    check_seed,
    console,
    finish_training,
    out_console,
    positive,
    progress_callbacks,
    resume_dir,
)
from ganforge.errors import GanforgeError

# options of `train images`
DataOpt = Annotated[str, typer.Argument(help="Image folder (class sub-folders = labels) or built-in name.")]
ResolutionOpt = Annotated[int, typer.Option(help="Image size: 16, 28, 32, 56, 64 or 128.")]
StepsOpt = Annotated[int | None, typer.Option(help="Generator updates to train for.")]
KimgOpt = Annotated[
    float | None, typer.Option(help="Thousands of real images to show (alternative to --steps).")
]
PresetOpt = Annotated[
    str,
    typer.Option(
        help="auto | default | small-data | r3gan | dcgan (auto: small-data below 10,000 images, else default)."
    ),
]
ArchOpt = Annotated[str | None, typer.Option(help="resnet | dcgan (default: from the preset).")]
WidthOpt = Annotated[int, typer.Option(help="Network width (channels at full resolution).")]
CondOpt = Annotated[
    bool | None,
    typer.Option(
        "--cond/--no-cond", help="Class-conditional (default: when the data has class sub-folders)."
    ),
]
ChannelsOpt = Annotated[int | None, typer.Option(help="1 (grey) or 3 (RGB); default: from the data.")]
LrGOpt = Annotated[float | None, typer.Option(help="Generator learning rate (default: from the preset).")]
LrDOpt = Annotated[
    float | None, typer.Option(help="Discriminator learning rate (TTUR: may differ from G's).")
]
SpectralNormOpt = Annotated[bool, typer.Option(help="Spectral normalisation in the discriminator.")]
SampleEveryOpt = Annotated[int, typer.Option(help="Steps between sample grids.")]
MonitorEveryOpt = Annotated[int, typer.Option(help="Steps between fast feature-distance checks (0 = off).")]
StreamOpt = Annotated[
    bool, typer.Option("--stream/--no-stream", help="Decode the folder batch by batch (any size).")
]
PrecisionOpt = Annotated[
    str, typer.Option(help="fp32 | bf16 (autocast; for GPUs with bfloat16, docs/scaling.md).")
]
ChannelsLastOpt = Annotated[
    bool, typer.Option("--channels-last", help="NHWC memory layout (faster convolutions on GPUs).")
]


def train_images(
    data: DataOpt,
    out: OutOpt = None,
    resume: ResumeOpt = None,
    resolution: ResolutionOpt = 32,
    steps: StepsOpt = None,
    kimg: KimgOpt = None,
    minutes: MinutesOpt = None,
    batch: BatchOpt = 64,
    preset: PresetOpt = "auto",
    arch: ArchOpt = None,
    width: WidthOpt = 32,
    cond: CondOpt = None,
    channels: ChannelsOpt = None,
    seed: SeedOpt = 0,
    device: DeviceOpt = "auto",
    lr_g: LrGOpt = None,
    lr_d: LrDOpt = None,
    spectral_norm: SpectralNormOpt = False,
    sample_every: SampleEveryOpt = 500,
    checkpoint_every: CheckpointEveryOpt = 500,
    monitor_every: MonitorEveryOpt = 0,
    on_problem: OnProblemOpt = "recover",
    stream: StreamOpt = False,
    precision: PrecisionOpt = "fp32",
    channels_last: ChannelsLastOpt = False,
) -> None:
    """Train an image GAN; Ctrl-C saves a checkpoint and stops cleanly."""
    from ganforge.engine.progress import ProgressCallback
    from ganforge.images.model import ImageGAN, resume_model

    if kimg is not None and steps is not None:
        raise GanforgeError("give --steps or --kimg, not both")
    at_least("--steps", steps, 1)
    at_least("--batch", batch, 2)
    positive("--kimg", kimg)
    positive("--minutes", minutes)
    at_least("--sample-every", sample_every, 1)
    at_least("--checkpoint-every", checkpoint_every, 1)
    at_least("--monitor-every", monitor_every, 0)
    check_seed(seed)
    for flag, rate in (("--lr-g", lr_g), ("--lr-d", lr_d)):
        if rate is not None and not 0 <= rate <= 1:  # NaN too; a rate past float32 broke Adam's step
            raise GanforgeError(f"{flag} must be between 0 and 1 (got {rate:g})")
    check_fits(f"batches of {batch:,} images", batch * resolution**2 * 4)  # one grey batch as float32
    if kimg is not None:
        if not math.isfinite(kimg * 1000 / batch):
            raise GanforgeError(f"--kimg must be a finite number of thousands of images (got {kimg:g})")
        steps = max(1, round(kimg * 1000 / batch))
    run_dir = resume_dir(out, resume)
    if resume is not None:
        gan = resume_model(resume, steps=steps, device=device, minutes=minutes)
    else:
        gan = ImageGAN(
            resolution=resolution, conditional=cond, preset_name=preset, arch=arch, steps=steps if steps is not None else 2000,
            batch_size=batch, seed=seed, device=device, width=width, channels=channels,
            max_seconds=minutes * 60 if minutes else None, checkpoint_every=checkpoint_every,
            spectral_norm=spectral_norm, precision=precision, channels_last=channels_last, lr_g=lr_g, lr_d=lr_d,
        )  # fmt: skip
    header = (f"[bold]ganforge[/] training on [cyan]{data}[/] -> {run_dir}",)
    gan.fit(data, out=run_dir, resume=resume is not None, callbacks=progress_callbacks(ProgressCallback(console, header=header)),
            sample_every=sample_every, monitor_every=monitor_every, health=check_on_problem(on_problem),
            stream=stream)  # fmt: skip
    m = gan.metrics
    finish_training(
        "images", data, run_dir, f"{m['steps']} steps, {m['images_seen']:,} images, preset {gan.preset_name}", m,
        where=f"  (samples in {Path(run_dir) / 'samples'})",
        next_cmd=f"ganforge sample {run_dir} -n 64 --out samples/ --grid   |   ganforge evaluate {run_dir}",
    )  # fmt: skip


def interpolate(
    run: Annotated[Path, typer.Argument(help="Run directory.")],
    out: Annotated[Path, typer.Option(help="Output .gif file.")],
    frames: Annotated[int, typer.Option(help="Frames between two key latents.")] = 24,
    points: Annotated[int, typer.Option(help="Key latents in the loop.")] = 4,
    klass: Annotated[int | None, typer.Option("--class", help="Class index for conditional models.")] = None,
    seed: SeedOpt = 0,
    scale: Annotated[int, typer.Option(help="Enlarge frames by this factor.")] = 4,
    watermark: Annotated[bool, typer.Option(help="Invisible watermark in every frame.")] = True,
) -> None:
    """Write a looping latent-space walk as an animated GIF."""
    from ganforge.images.data import to_pil
    from ganforge.images.model import load_image

    if out.suffix.lower() != ".gif":
        raise GanforgeError("--out must end in .gif")
    at_least("--frames", frames, 1)
    at_least("--points", points, 2)
    at_least("--scale", scale, 1)
    check_seed(seed)
    gan = load_image(run)  # a run of another kind is refused in one line
    side = gan.recipe_config.resolution * scale
    check_fits(f"{points * frames:,} frames of {side:,}x{side:,} pixels", points * frames * side**2)
    images = gan.interpolate(steps=frames, label=klass, seed=seed, points=points, watermark=watermark)
    pil = [to_pil(im).resize((im.shape[1] * scale, im.shape[0] * scale), 0) for im in images]
    out.parent.mkdir(parents=True, exist_ok=True)
    label = {"comment": f"synthetic (ganforge model {gan.model_id})"} if watermark else {}
    pil[0].save(out, save_all=True, append_images=pil[1:], duration=60, loop=0, **label)
    out_console.print(f"wrote {len(pil)} frames to {out}")


def datasets() -> None:
    """List the built-in datasets and whether they are installed."""
    from rich.table import Table

    from ganforge.images.builtin import BUILTINS

    table = Table("name", "installed", "images", "description")
    for info in BUILTINS.values():
        ok = info.installed()
        table.add_row(info.name, "[green]yes[/]" if ok else f"[red]no[/] ({info.how_to_install})",
                      f"{info.native_resolution}px x{info.channels}", info.description)  # fmt: skip
    out_console.print(table)


def sample_cli(run: Path, out: Path, options: dict[str, Any]) -> str:
    """``ganforge sample`` of an image run: PNG files (or one grid), watermarked unless told otherwise."""
    from ganforge.images.cli_export import load_sampler
    from ganforge.images.cli_safety import write_images

    if options.get("condition"):
        raise GanforgeError("--condition is for table models; use --class for images")
    n = options.get("n") or 64
    model = load_sampler(run, options["device"], options["engine"], options.get("onnx"))
    rc = model.recipe_config
    check_fits(f"{n:,} images held at once (--shards writes any number)", n * rc.resolution**2 * rc.channels)
    watermark = options["watermark"]
    images = model.sample(n, labels=options.get("klass"), seed=options.get("seed"), watermark=watermark)
    path = write_images(images, out, options["grid"], model.model_id if watermark else None)
    return f"wrote {n} images to {path}"


def register(app: typer.Typer, train_app: typer.Typer) -> None:
    """Mount the images wing's commands."""
    from ganforge.images.cli_export import register as register_export

    train_app.command("images")(train_images)
    app.command()(interpolate)
    app.command()(datasets)
    register_export(app, train_app)
