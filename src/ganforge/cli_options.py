"""Command-line options shared by several ``ganforge`` commands, declared once (defaults stay with each
command, since they differ: e.g. the batch size of an image GAN and of super-resolution)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

OutOpt = Annotated[Path | None, typer.Option(help="Run directory to create.")]
ResumeOpt = Annotated[Path | None, typer.Option(help="Continue this run exactly where it stopped.")]
MinutesOpt = Annotated[float | None, typer.Option(help="Stop after this many minutes of training.")]
BatchOpt = Annotated[int, typer.Option(help="Batch size.")]
SeedOpt = Annotated[int, typer.Option(help="Random seed.")]
DeviceOpt = Annotated[str, typer.Option(help="cpu | cuda | auto")]
CheckpointEveryOpt = Annotated[int, typer.Option(help="Steps between checkpoints.")]
OnProblemOpt = Annotated[
    str,
    typer.Option(
        "--on-problem", "--on-collapse", help="On collapse/divergence/NaN: recover | stop | warn | off."
    ),
]
