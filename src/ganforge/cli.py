"""The ``ganforge`` command line: train, sample, interpolate, datasets, report (evaluate, verify, serve,
export, detect, upscale and translate live in the cli_*.py modules and are registered here).

Errors a user can fix print as one red line and exit with status 1 — never a traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from .cli_options import (
    BatchOpt,
    CheckpointEveryOpt,
    DeviceOpt,
    MinutesOpt,
    OnProblemOpt,
    OutOpt,
    ResumeOpt,
    SeedOpt,
)
from .cli_privacy import (
    AccountantOpt,
    ClipOpt,
    DeltaOpt,
    DpFlag,
    EpsilonOpt,
    NoiseOpt,
)
from .engine.callbacks import Callback
from .errors import GanforgeError

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Train, sample and evaluate GANs.")
train_app = typer.Typer(no_args_is_help=True, help="Train a GAN on your data.")
app.add_typer(train_app, name="train")
console = Console(stderr=True, soft_wrap=True)  # long paths stay on one line
out_console = Console(soft_wrap=True)


@train_app.command("images")
def train_images(
    data: Annotated[str, typer.Argument(help="Image folder (class sub-folders = labels) or built-in name.")],
    out: OutOpt = None,
    resume: ResumeOpt = None,
    resolution: Annotated[int, typer.Option(help="Image size: 16, 28, 32, 56, 64 or 128.")] = 32,
    steps: Annotated[int | None, typer.Option(help="Generator updates to train for.")] = None,
    kimg: Annotated[
        float | None, typer.Option(help="Thousands of real images to show (alternative to --steps).")
    ] = None,
    minutes: MinutesOpt = None,
    batch: BatchOpt = 64,
    preset: Annotated[str, typer.Option(help="default | small-data | r3gan | dcgan")] = "default",
    arch: Annotated[str | None, typer.Option(help="resnet | dcgan (default: from the preset).")] = None,
    width: Annotated[int, typer.Option(help="Network width (channels at full resolution).")] = 32,
    cond: Annotated[
        bool, typer.Option("--cond/--no-cond", help="Class-conditional when the data has classes.")
    ] = True,
    channels: Annotated[int | None, typer.Option(help="1 (grey) or 3 (RGB); default: from the data.")] = None,
    seed: SeedOpt = 0,
    device: DeviceOpt = "auto",
    lr_g: Annotated[
        float | None, typer.Option(help="Generator learning rate (default: from the preset).")
    ] = None,
    lr_d: Annotated[
        float | None, typer.Option(help="Discriminator learning rate (TTUR: may differ from G's).")
    ] = None,
    spectral_norm: Annotated[bool, typer.Option(help="Spectral normalisation in the discriminator.")] = False,
    sample_every: Annotated[int, typer.Option(help="Steps between sample grids.")] = 500,
    checkpoint_every: CheckpointEveryOpt = 500,
    monitor_every: Annotated[
        int, typer.Option(help="Steps between fast feature-distance checks (0 = off).")
    ] = 0,
    on_problem: OnProblemOpt = "recover",
    stream: Annotated[
        bool, typer.Option("--stream/--no-stream", help="Decode the folder batch by batch (any size).")
    ] = False,
    precision: Annotated[
        str, typer.Option(help="fp32 | bf16 (autocast; for GPUs with bfloat16, docs/scaling.md).")
    ] = "fp32",
    channels_last: Annotated[
        bool, typer.Option("--channels-last", help="NHWC memory layout (faster convolutions on GPUs).")
    ] = False,
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
            spectral_norm=spectral_norm, precision=precision, channels_last=channels_last,
            **{k: v for k, v in (("lr_g", lr_g), ("lr_d", lr_d)) if v is not None},
        )  # fmt: skip
        run_dir = out
    console.print(f"[bold]ganforge[/] training on [cyan]{data}[/] -> {run_dir}")
    gan.fit(data, out=run_dir, resume=resume is not None, callbacks=_progress(ProgressCallback(console)),
            sample_every=sample_every, monitor_every=monitor_every, health=_health(on_problem),
            stream=stream)  # fmt: skip
    m = gan.metrics
    _finish_training(
        "images", data, run_dir, f"{m['steps']} steps, {m['images_seen']:,} images", m,
        where=f"  (samples in {Path(run_dir) / 'samples'})",
        next_cmd=f"ganforge sample {run_dir} -n 64 --out samples/ --grid   |   ganforge evaluate {run_dir}",
    )  # fmt: skip


@train_app.command("table")
def train_table(
    data: Annotated[Path, typer.Argument(help="A .csv, .tsv or .parquet table.")],
    out: OutOpt = None,
    resume: ResumeOpt = None,
    target: Annotated[
        str | None, typer.Option(help="Column to predict when evaluating ML efficacy (recorded in the run).")
    ] = None,
    epochs: Annotated[
        float | None, typer.Option(help="Passes over the table (default: 100, at least 2,000 steps).")
    ] = None,
    minutes: MinutesOpt = None,
    batch: Annotated[int, typer.Option(help="Rows per batch (a multiple of --pac).")] = 500,
    pac: Annotated[int, typer.Option(help="Rows the discriminator judges together (PacGAN).")] = 10,
    metadata: Annotated[
        Path | None,
        typer.Option(help='JSON overriding detected column kinds, e.g. {"zip": {"kind": "categorical"}}.'),
    ] = None,
    seed: SeedOpt = 0,
    device: DeviceOpt = "auto",
    checkpoint_every: CheckpointEveryOpt = 500,
    on_problem: OnProblemOpt = "recover",
    dp: DpFlag = False,
    epsilon: EpsilonOpt = 3.0,
    delta: DeltaOpt = None,
    noise_multiplier: NoiseOpt = None,
    max_grad_norm: ClipOpt = 1.0,
    accountant: AccountantOpt = "rdp",
    stream: Annotated[
        bool, typer.Option("--stream/--no-stream", help="Read a Parquet file by row groups (any size).")
    ] = False,
) -> None:
    """Train a tabular GAN on a CSV/Parquet file; Ctrl-C saves a checkpoint and stops cleanly."""
    from .api import was_streamed
    from .cli_privacy import dp_settings, print_privacy
    from .data.table_stream import parquet_columns
    from .data.tables import infer_metadata, read_metadata_overrides, read_table
    from .engine.progress import ProgressCallback
    from .tabular import TableGAN, resume_table

    stream = stream or (resume is not None and was_streamed(resume))  # a streamed run resumes streamed
    if stream:  # never load the table: columns and row count come from the Parquet footer
        columns, n_rows = parquet_columns(data)
    else:
        df = read_table(data)
        columns, n_rows = list(df.columns), len(df)
    if target is not None and target not in columns:
        raise GanforgeError(f"--target {target!r} is not a column of {data} (columns: {', '.join(columns)})")
    if resume is not None:
        if out is not None and Path(out).resolve() != Path(resume).resolve():
            raise GanforgeError("--resume continues in its own directory; leave out --out")
        steps = None
        if epochs is not None:  # epochs in the run's own batch size (--batch is for new runs)
            from .artifact import read_config

            run_batch = int(read_config(Path(resume))["train"]["batch_size"])
            steps = max(1, -(-int(epochs * n_rows) // run_batch))
        gan = resume_table(resume, steps=steps, device=device, minutes=minutes)
        run_dir = Path(resume)
    else:
        if out is None:
            raise GanforgeError("--out is required (the run directory to create)")
        overrides = read_metadata_overrides(metadata) if metadata is not None else None
        gan = TableGAN(epochs=epochs, minutes=minutes, batch_size=batch, pac=pac, seed=seed, device=device,
                       metadata=overrides, checkpoint_every=checkpoint_every,
                       dp=dp_settings(dp, epsilon, delta, noise_multiplier, max_grad_norm, accountant))  # fmt: skip
        if not stream:  # a streamed table's metadata is inferred from its sample rows inside fit
            console.print(infer_metadata(df, overrides).summary(), highlight=False)
        run_dir = out
    console.print(f"[bold]ganforge[/] training on [cyan]{data}[/] ({n_rows:,} rows) -> {run_dir}")
    gan.fit(data if stream else df, out=run_dir, resume=resume is not None,
            callbacks=_progress(ProgressCallback(console, unit="rows")), source=str(Path(data).resolve()), target=target,
            health=_health(on_problem), stream=stream)  # fmt: skip
    m = gan.metrics
    _finish_training(
        "table", data, run_dir, f"{m['steps']} steps, {m['epochs']} epochs ({m['rows_seen']:,} rows)", m,
        where="", after=lambda: print_privacy(console, gan),
        next_cmd=f"ganforge sample {run_dir} -n 100000 --out synthetic.parquet   |   "
        f"ganforge evaluate {run_dir} --real {data}",
    )  # fmt: skip


def _finish_training(
    kind: str, data: Path, run_dir: Path, done: str, metrics: dict, where: str, next_cmd: str,
    after: Callable[[], None] | None = None,
) -> None:  # fmt: skip
    """The end of `train images|table`: a health stop is an error; Ctrl-C exits 130 with the resume
    command; otherwise the run directory and what to run next."""
    _stopped_by_health(metrics, run_dir)
    console.print(f"{done} in {metrics['train_seconds']:.0f} s ({metrics['stopped_by']})")
    if after is not None:
        after()
    if metrics["stopped_by"] == "interrupt":
        console.print(
            f"[yellow]interrupted[/]: checkpoint saved; continue with: ganforge train {kind} {data} --resume {run_dir}"
        )
        raise typer.Exit(130)
    console.print(f"run directory: [bold]{run_dir}[/]{where}")
    console.print(f"next: {next_cmd}")


def _progress(bar: Callback) -> list[Callback]:
    """The progress bar, on rank 0 only under torchrun (the other ranks train quietly)."""
    from .engine.distributed import is_main

    return [bar] if is_main() else []


def _health(on_problem: str) -> str:
    if on_problem not in ("recover", "stop", "warn", "off"):
        raise GanforgeError(f"--on-problem must be recover, stop, warn or off (got {on_problem!r})")
    return on_problem


def _stopped_by_health(metrics: dict, run_dir: Path) -> None:
    if metrics.get("stopped_by") == "health":
        raise GanforgeError(
            f"training stopped by the health monitor ({metrics.get('stop_reason')}); the last healthy state is "
            f"saved in {run_dir}"
        )


@app.command()
def sample(
    run: Annotated[Path, typer.Argument(help="Run directory.")],
    out: Annotated[
        Path, typer.Option(help="Images: a folder (or .png with --grid). Tables: a .parquet or .csv file.")
    ],
    n: Annotated[
        int | None,
        typer.Option("-n", help="How many (default: 64 images / as many rows as the training table)."),
    ] = None,
    klass: Annotated[int | None, typer.Option("--class", help="Class index for conditional models.")] = None,
    condition: Annotated[
        list[str] | None,
        typer.Option("--condition", "-c", help="Tables: COLUMN=VALUE or COLUMN=LOW..HIGH (repeatable)."),
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed (same seed, same output).")] = None,
    grid: Annotated[bool, typer.Option(help="Write one grid image instead of separate files.")] = False,
    device: DeviceOpt = "cpu",
    watermark: Annotated[
        bool, typer.Option(help="Images: invisible watermark + synthetic label (docs/responsible-use.md).")
    ] = True,
    engine: Annotated[
        str, typer.Option(help="Images: torch | onnx (ONNX Runtime; exports RUN/model.onnx if needed).")
    ] = "torch",
    onnx: Annotated[Path | None, typer.Option(help="With --engine onnx: this ONNX file.")] = None,
    shards: Annotated[
        int | None,
        typer.Option(help="Write --out as this many resumable shard files (docs/sampling-at-scale.md)."),
    ] = None,
    workers: Annotated[int, typer.Option(help="With --shards: processes making shards in parallel.")] = 1,
) -> None:
    """Generate images or table rows from a trained run (tables stream to disk in chunks)."""
    from . import artifact
    from .cli_export import load_sampler
    from .cli_safety import write_images

    if n is not None and n < 1:
        raise GanforgeError(f"-n must be >= 1 (got {n})")
    if shards is not None:
        from .sharded import sample_shards

        if grid:
            raise GanforgeError("--grid cannot be sharded; drop --grid or --shards")
        summary = sample_shards(run, n, out, shards, workers=workers, seed=seed, klass=klass, watermark=watermark,
                                conditions=parse_conditions(condition or []), engine=engine, onnx=onnx, device=device,
                                report=lambda line: console.print(line, highlight=False))  # fmt: skip
        out_console.print(summary["message"], highlight=False, soft_wrap=True)
        return
    kind = artifact.read_config(run).get("kind")
    model = load_sampler(run, kind, device, engine, onnx)
    if kind == "table":
        if klass is not None or grid:
            raise GanforgeError("--class and --grid are for image models; use --condition for tables")
        rows = n or int(model.data_info.get("rows", 1000))
        path = model.sample_to_file(rows, out, seed=seed, conditions=parse_conditions(condition or []))
        out_console.print(f"wrote {rows:,} synthetic rows to {path}")
        return
    if condition:
        raise GanforgeError("--condition is for table models; use --class for images")
    n = n or 64
    images = model.sample(n, labels=klass, seed=seed, watermark=watermark)
    path = write_images(images, out, grid, model.model_id if watermark else None)
    out_console.print(f"wrote {n} images to {path}")


def parse_conditions(items: list[str]) -> dict[str, object]:
    """``["income=>50K", "age=30..40"]`` -> ``{"income": ">50K", "age": (30.0, 40.0)}``."""
    out: dict[str, object] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise GanforgeError(f"--condition must be COLUMN=VALUE or COLUMN=LOW..HIGH (got {item!r})")
        if ".." in value:
            lo, _, hi = value.partition("..")
            try:
                out[name] = (float(lo) if lo else None, float(hi) if hi else None)
            except ValueError:
                raise GanforgeError(f"range bounds must be numbers (got {value!r})") from None
        else:
            out[name] = _number_or_text(value)
    return out


def _number_or_text(value: str) -> object:
    try:
        return int(value)
    except ValueError:
        pass
    try:
        return float(value)
    except ValueError:
        return value


@app.command()
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
    from .api import load
    from .data.images import to_pil

    if out.suffix.lower() != ".gif":
        raise GanforgeError("--out must end in .gif")
    gan = load(run)
    images = gan.interpolate(steps=frames, label=klass, seed=seed, points=points, watermark=watermark)
    pil = [to_pil(im).resize((im.shape[1] * scale, im.shape[0] * scale), 0) for im in images]
    out.parent.mkdir(parents=True, exist_ok=True)
    label = {"comment": f"synthetic (ganforge model {gan.model_id})"} if watermark else {}
    pil[0].save(out, save_all=True, append_images=pil[1:], duration=60, loop=0, **label)
    out_console.print(f"wrote {len(pil)} frames to {out}")


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


@app.command()
def report(
    run: Annotated[Path, typer.Argument(help="Run directory.")],
    out: Annotated[Path | None, typer.Option(help="HTML file to write (default: RUN/report.html).")] = None,
    real: Annotated[
        Path | None, typer.Option(help="Tables: the real table to compare with (default: the training file).")
    ] = None,
) -> None:
    """Write one self-contained HTML report: curves, health events, samples, evaluation figures."""
    from .report import write_report

    path = write_report(run, out=out, real=real)
    out_console.print(f"wrote {path}  (open it in a browser)")


from .cli_evaluate import evaluate  # noqa: E402

app.command()(evaluate)

from .cli_safety import verify  # noqa: E402

app.command()(verify)


from .cli_serve import serve  # noqa: E402

app.command()(serve)


from .cli_export import register as _register_export  # noqa: E402

_register_export(app, train_app)


from .cli_img2img import register_img2img  # noqa: E402

register_img2img(app, train_app)


def main() -> None:
    """Entry point: run the app, turning GanforgeErrors into one line and exit status 1."""
    import warnings

    from .engine import distributed

    warnings.formatwarning = lambda message, category, *args, **kwargs: f"warning: {message}\n"
    rank = distributed.world().rank
    if rank:  # under torchrun only rank 0 reports; errors still print, marked with their rank
        console.quiet = out_console.quiet = True
    try:
        app(standalone_mode=True)
    except GanforgeError as e:
        where = f"(rank {rank}) " if rank else ""
        Console(stderr=True).print(f"[bold red]error:[/] {where}{e}", highlight=False, soft_wrap=True)
        sys.exit(1)
    except SystemExit as e:  # Click ends every command with SystemExit
        if e.code in (0, None):
            distributed.shutdown()  # leave torchrun's process group together (no-op in one process)
        raise
