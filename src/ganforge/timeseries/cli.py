"""The time-series wing's commands: ``train series`` and ``sample`` of a series run."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from ganforge.engine.cli import (
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
    positive,
    progress_callbacks,
    resume_dir,
)
from ganforge.errors import GanforgeError


def train_series(
    data: Annotated[
        str,
        typer.Argument(help="A .csv/.parquet file (rows = time steps) or a built-in: sines, stocks, energy."),
    ],
    out: OutOpt = None,
    resume: ResumeOpt = None,
    time: Annotated[
        str | None, typer.Option("--time", help="The time column (continued on sampling).")
    ] = None,
    id: Annotated[
        str | None, typer.Option("--id", help="The column telling series apart (a panel of many series).")
    ] = None,
    window: Annotated[int, typer.Option(help="Steps per training window.")] = 24,
    steps: Annotated[int | None, typer.Option(help="Generator updates (default 3,000).")] = None,
    minutes: MinutesOpt = None,
    batch: Annotated[int, typer.Option(help="Windows per batch.")] = 128,
    hidden: Annotated[
        int | None,
        typer.Option(
            help="Width of the generator's GRU (default: 4 per channel, to the nearest power of two, 64-128)."
        ),
    ] = None,
    recipe: Annotated[
        str,
        typer.Option(
            help="direct: a GRU generator against a convolutional discriminator; timegan: "
            "autoencoder, supervisor and the adversarial game in the latent space."
        ),
    ] = "direct",
    warmup_steps: Annotated[
        int | None,
        typer.Option(
            "--warmup-steps", help="timegan: steps the autoencoder and supervisor learn alone (default 500)."
        ),
    ] = None,
    scaling: Annotated[
        str,
        typer.Option(
            help="How numeric features become channels: minmax (range onto [0, 1]), quantile (each "
            "through its own distribution function) or auto (quantile for heavy-tailed features only)."
        ),
    ] = "minmax",
    seed: SeedOpt = 0,
    device: DeviceOpt = "auto",
    checkpoint_every: CheckpointEveryOpt = 500,
    on_problem: OnProblemOpt = "warn",
) -> None:
    """Train a GAN on time series; Ctrl-C saves a checkpoint and stops cleanly."""
    from ganforge.engine.progress import ProgressCallback
    from ganforge.timeseries.model import SeriesGAN

    at_least("--steps", steps, 1)
    positive("--minutes", minutes)
    at_least("--window", window, 2)
    at_least("--batch", batch, 2)
    at_least("--hidden", hidden, 1)
    at_least("--warmup-steps", warmup_steps, 0)
    at_least("--checkpoint-every", checkpoint_every, 1)
    check_seed(seed)
    check_fits(f"batches of {batch:,} windows of {window:,} steps", batch * window * (hidden or 64) * 4)
    run_dir = resume_dir(out, resume)
    if resume is not None:
        gan = SeriesGAN.resume(resume, steps=steps, device=device, minutes=minutes)
    else:
        gan = SeriesGAN(window=window, steps=steps, minutes=minutes, batch_size=batch, hidden=hidden, seed=seed,
                        device=device, checkpoint_every=checkpoint_every, recipe=recipe,
                        warmup_steps=warmup_steps, scaling=scaling)  # fmt: skip
    header = (f"[bold]ganforge[/] training on [cyan]{data}[/] -> {run_dir}",)
    gan.fit(data, out=run_dir, resume=resume is not None, time=time, id=id, health=check_on_problem(on_problem),
            callbacks=progress_callbacks(ProgressCallback(console, unit="windows", header=header)))  # fmt: skip
    m = gan.metrics
    finish_training("series", data, run_dir, f"{m['steps']} steps, {m['windows_seen']:,} windows", m, where="",
                    next_cmd=f"ganforge sample {run_dir} -n 100 --out synthetic.csv   |   "
                    f"ganforge evaluate {run_dir}")  # fmt: skip


def sample_cli(run: Path, out: Path, options: dict[str, Any]) -> str:
    """``ganforge sample`` of a series run: ``-n`` sequences of ``--length`` steps to a .csv or .parquet."""
    from ganforge.engine.model import load

    for flag, given in (("--class", options.get("klass") is not None), ("--grid", options.get("grid")),
                        ("--engine onnx", options.get("engine", "torch") != "torch")):  # fmt: skip
        if given:
            raise GanforgeError(f"{flag} is not an option of time-series models")
    suffix = Path(out).suffix.lower()
    if suffix not in (".csv", ".parquet", ".pq"):
        raise GanforgeError(f"--out must end in .csv or .parquet (got {Path(out).name!r})")
    from ganforge.engine.cli import parse_conditions

    conditions = parse_conditions(options.get("condition") or [])
    model = load(run, device=options["device"])
    n = options.get("n") or 100
    frame = model.sample(n, length=options.get("length"), seed=options.get("seed"), conditions=conditions)
    from ganforge.core.io import atomic_file

    with atomic_file(Path(out)) as tmp:
        if suffix == ".csv":
            frame.to_csv(tmp, index=False)
        else:
            frame.to_parquet(tmp, index=False)
    from ganforge.timeseries.data import SEQUENCE

    sizes = frame.groupby(model.codec.id or SEQUENCE, sort=False).size()
    length = int(sizes.max())
    from ganforge.safety.provenance import write_sidecar

    write_sidecar(out, model, "time-series GAN", {"sequences": n, "length": length, "rows": len(frame),
                                                  "seed": options.get("seed"), "conditions": conditions})  # fmt: skip
    steps = f"{length:,} steps" if sizes.min() == length else f"{sizes.min():,}-{length:,} steps"
    return f"wrote {n:,} synthetic sequences of {steps} ({len(frame):,} rows) to {out}"


def register(app: typer.Typer, train_app: typer.Typer) -> None:
    """Mount the time-series wing's commands."""
    train_app.command("series")(train_series)
