"""The vectors wing's commands: ``train vectors`` and ``sample`` of a vector run."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from ganforge.engine.cli import (
    BatchOpt,
    CheckpointEveryOpt,
    DeviceOpt,
    MinutesOpt,
    OutOpt,
    ResumeOpt,
    SeedOpt,
    at_least,
    check_fits,
    check_seed,
    console,
    finish_training,
    positive,
    progress_callbacks,
    resume_dir,
)
from ganforge.errors import GanforgeError


def train_vectors(
    data: Annotated[Path, typer.Argument(help="A .csv of numbers (header row) or a .npy (N, d) array.")],
    out: OutOpt = None,
    resume: ResumeOpt = None,
    steps: Annotated[int, typer.Option(help="Generator updates to train for.")] = 2000,
    minutes: MinutesOpt = None,
    batch: BatchOpt = 256,
    hidden: Annotated[int, typer.Option(help="Width of the hidden layers.")] = 128,
    seed: SeedOpt = 0,
    device: DeviceOpt = "auto",
    checkpoint_every: CheckpointEveryOpt = 500,
) -> None:
    """Train a GAN on points (rows of numbers); Ctrl-C saves a checkpoint and stops cleanly."""
    from ganforge.engine.progress import ProgressCallback
    from ganforge.vectors.model import VectorGAN

    at_least("--steps", steps, 1)
    positive("--minutes", minutes)
    at_least("--batch", batch, 2)
    check_seed(seed)
    check_fits(f"batches of {batch:,} vectors", batch * hidden * 4)
    run_dir = resume_dir(out, resume)
    if resume is not None:
        gan = VectorGAN.resume(resume, steps=steps, device=device, minutes=minutes)
    else:
        gan = VectorGAN(steps=steps, batch_size=batch, hidden=hidden, seed=seed, device=device,
                        max_seconds=minutes * 60 if minutes else None, checkpoint_every=checkpoint_every)  # fmt: skip
    header = (f"[bold]ganforge[/] training on [cyan]{data}[/] -> {run_dir}",)
    gan.fit(data, out=run_dir, resume=resume is not None,
            callbacks=progress_callbacks(ProgressCallback(console, unit="vectors", header=header)))  # fmt: skip
    m = gan.metrics
    finish_training("vectors", data, run_dir, f"{m['steps']} steps, {m['vectors_seen']:,} vectors", m,
                    where="", next_cmd=f"ganforge sample {run_dir} -n 1000 --out points.csv")  # fmt: skip


def sample_cli(run: Path, out: Path, options: dict[str, Any]) -> str:
    """``ganforge sample`` of a vector run: a .csv or .npy file of points."""
    from ganforge.engine.model import load
    from ganforge.vectors.data import write_vectors

    for flag, given in (("--class", options.get("klass") is not None), ("--grid", options.get("grid")),
                        ("--condition", bool(options.get("condition")))):  # fmt: skip
        if given:
            raise GanforgeError(f"{flag} is not an option of vector models")
    model = load(run, device=options["device"])
    n = options.get("n") or int(model.data_info.get("vectors", 1000))
    path = write_vectors(model.sample(n, seed=options.get("seed")), model.codec.names, out)
    return f"wrote {n:,} vectors to {path}"


def register(app: typer.Typer, train_app: typer.Typer) -> None:
    """Mount the vectors wing's commands."""
    train_app.command("vectors")(train_vectors)
