"""The ``ganforge`` command line: train, sample, interpolate, evaluate, datasets.

Errors a user can fix print as one red line and exit with status 1 — never a traceback.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from .errors import GanforgeError

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Train, sample and evaluate GANs.")
train_app = typer.Typer(no_args_is_help=True, help="Train a GAN on your data.")
app.add_typer(train_app, name="train")
console = Console(stderr=True)
out_console = Console()


@train_app.command("images")
def train_images(
    data: Annotated[str, typer.Argument(help="Image folder (class sub-folders = labels) or built-in name.")],
    out: Annotated[Path | None, typer.Option(help="Run directory to create.")] = None,
    resume: Annotated[Path | None, typer.Option(help="Continue this run exactly where it stopped.")] = None,
    resolution: Annotated[int, typer.Option(help="Image size: 16, 28, 32, 56, 64 or 128.")] = 32,
    steps: Annotated[int | None, typer.Option(help="Generator updates to train for.")] = None,
    kimg: Annotated[
        float | None, typer.Option(help="Thousands of real images to show (alternative to --steps).")
    ] = None,
    minutes: Annotated[float | None, typer.Option(help="Stop after this many minutes of training.")] = None,
    batch: Annotated[int, typer.Option(help="Batch size.")] = 64,
    preset: Annotated[str, typer.Option(help="default | small-data | r3gan | dcgan")] = "default",
    arch: Annotated[str | None, typer.Option(help="resnet | dcgan (default: from the preset).")] = None,
    width: Annotated[int, typer.Option(help="Network width (channels at full resolution).")] = 32,
    cond: Annotated[
        bool, typer.Option("--cond/--no-cond", help="Class-conditional when the data has classes.")
    ] = True,
    channels: Annotated[int | None, typer.Option(help="1 (grey) or 3 (RGB); default: from the data.")] = None,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    device: Annotated[str, typer.Option(help="cpu | cuda | auto")] = "auto",
    lr_g: Annotated[
        float | None, typer.Option(help="Generator learning rate (default: from the preset).")
    ] = None,
    lr_d: Annotated[
        float | None, typer.Option(help="Discriminator learning rate (TTUR: may differ from G's).")
    ] = None,
    spectral_norm: Annotated[bool, typer.Option(help="Spectral normalisation in the discriminator.")] = False,
    sample_every: Annotated[int, typer.Option(help="Steps between sample grids.")] = 500,
    checkpoint_every: Annotated[int, typer.Option(help="Steps between checkpoints.")] = 500,
    monitor_every: Annotated[
        int, typer.Option(help="Steps between fast feature-distance checks (0 = off).")
    ] = 0,
) -> None:
    """Train an image GAN; Ctrl-C saves a checkpoint and stops cleanly."""
    from .api import ImageGAN, resume_model
    from .engine.progress import ProgressCallback

    if kimg is not None and steps is not None:
        raise GanforgeError("give --steps or --kimg, not both")
    if kimg is not None:
        steps = max(1, round(kimg * 1000 / batch))
    if resume is not None:
        if out is not None and Path(out).resolve() != Path(resume).resolve():
            raise GanforgeError("--resume continues in its own directory; leave out --out")
        gan = resume_model(resume, steps=steps, device=device, minutes=minutes)
        run_dir = Path(resume)
    else:
        if out is None:
            raise GanforgeError("--out is required (the run directory to create)")
        gan = ImageGAN(
            resolution=resolution, conditional=cond, preset_name=preset, arch=arch, steps=steps or 2000,
            batch_size=batch, seed=seed, device=device, width=width, channels=channels,
            max_seconds=minutes * 60 if minutes else None, checkpoint_every=checkpoint_every,
            spectral_norm=spectral_norm,
            **{k: v for k, v in (("lr_g", lr_g), ("lr_d", lr_d)) if v is not None},
        )  # fmt: skip
        run_dir = out
    console.print(f"[bold]ganforge[/] training on [cyan]{data}[/] -> {run_dir}")
    gan.fit(data, out=run_dir, resume=resume is not None, callbacks=[ProgressCallback(console)],
            sample_every=sample_every, monitor_every=monitor_every)  # fmt: skip
    m = gan.metrics
    console.print(
        f"{m['steps']} steps, {m['images_seen']:,} images in {m['train_seconds']:.0f} s ({m['stopped_by']})"
    )
    if m["stopped_by"] == "interrupt":
        console.print(
            f"[yellow]interrupted[/]: checkpoint saved; continue with: ganforge train images {data} --resume {run_dir}"
        )
        raise typer.Exit(130)
    console.print(f"run directory: [bold]{run_dir}[/]  (samples in {Path(run_dir) / 'samples'})")
    console.print(
        f"next: ganforge sample {run_dir} -n 64 --out samples/ --grid   |   ganforge evaluate {run_dir}"
    )


@app.command()
def sample(
    run: Annotated[Path, typer.Argument(help="Run directory.")],
    out: Annotated[Path, typer.Option(help="Output folder (or .png file with --grid).")],
    n: Annotated[int, typer.Option("-n", help="Number of images.")] = 64,
    klass: Annotated[int | None, typer.Option("--class", help="Class index for conditional models.")] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed (same seed, same images).")] = None,
    grid: Annotated[bool, typer.Option(help="Write one grid image instead of separate files.")] = False,
    device: Annotated[str, typer.Option(help="cpu | cuda | auto")] = "cpu",
) -> None:
    """Generate images from a trained run."""
    from .api import load
    from .data.images import save_grid, to_pil

    gan = load(run, device=device)
    images = gan.sample(n, labels=klass, seed=seed)
    if grid:
        path = out if out.suffix.lower() == ".png" else out / "grid.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        save_grid(images, path)
    else:
        out.mkdir(parents=True, exist_ok=True)
        for i, im in enumerate(images):
            to_pil(im).save(out / f"{i:06d}.png")
        path = out
    out_console.print(f"wrote {n} images to {path}")


@app.command()
def interpolate(
    run: Annotated[Path, typer.Argument(help="Run directory.")],
    out: Annotated[Path, typer.Option(help="Output .gif file.")],
    frames: Annotated[int, typer.Option(help="Frames between two key latents.")] = 24,
    points: Annotated[int, typer.Option(help="Key latents in the loop.")] = 4,
    klass: Annotated[int | None, typer.Option("--class", help="Class index for conditional models.")] = None,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    scale: Annotated[int, typer.Option(help="Enlarge frames by this factor.")] = 4,
) -> None:
    """Write a looping latent-space walk as an animated GIF."""
    from .api import load
    from .data.images import to_pil

    if out.suffix.lower() != ".gif":
        raise GanforgeError("--out must end in .gif")
    gan = load(run)
    images = gan.interpolate(steps=frames, label=klass, seed=seed, points=points)
    pil = [to_pil(im).resize((im.shape[1] * scale, im.shape[0] * scale), 0) for im in images]
    out.parent.mkdir(parents=True, exist_ok=True)
    pil[0].save(out, save_all=True, append_images=pil[1:], duration=60, loop=0)
    out_console.print(f"wrote {len(pil)} frames to {out}")


@app.command()
def evaluate(
    run: Annotated[Path, typer.Argument(help="Run directory.")],
    ref: Annotated[
        str | None, typer.Option(help="Reference images: folder or built-in name (default: training data).")
    ] = None,
    split: Annotated[str, typer.Option(help="Split of a built-in reference: train | test.")] = "train",
    n: Annotated[int, typer.Option("-n", help="Generated and reference images to compare.")] = 2000,
    extractor: Annotated[
        str, typer.Option(help="inception (FID/KID) | effnet-lite0 (fast, for trends).")
    ] = "inception",
    seed: Annotated[int, typer.Option(help="Seed for the generated images.")] = 0,
) -> None:
    """FID and KID of generated images against real ones."""
    from .evaluate import evaluate_run

    result = evaluate_run(run, ref=ref, split=split, n=n, extractor=extractor, seed=seed, console=console)
    out_console.print(
        f"FID {result['fid']:.2f}   KID {result['kid'] * 1000:.2f} ± {result['kid_std'] * 1000:.2f} (x1e-3)   "
        f"[{result['extractor']}, {result['n_fake']} generated vs {result['n_real']} real]"
    )


@app.command()
def datasets() -> None:
    """List the built-in datasets and whether they are installed."""
    from rich.table import Table

    from .data.builtin import BUILTINS

    table = Table("name", "installed", "images", "description")
    for info in BUILTINS.values():
        ok = info.installed()
        table.add_row(info.name, "[green]yes[/]" if ok else f"[red]no[/] ({info.how_to_install})",
                      f"{info.native_resolution}px x{info.channels}", info.description)  # fmt: skip
    out_console.print(table)


def main() -> None:
    """Entry point: run the app, turning GanforgeErrors into one line and exit status 1."""
    import warnings

    warnings.formatwarning = lambda message, category, *args, **kwargs: f"warning: {message}\n"
    try:
        app(standalone_mode=True)
    except GanforgeError as e:
        console.print(f"[bold red]error:[/] {e}", highlight=False, soft_wrap=True)
        sys.exit(1)
