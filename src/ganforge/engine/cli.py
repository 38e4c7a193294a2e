"""What every wing's commands share: command-line options declared once (defaults stay with each
command, since they differ: e.g. the batch size of an image GAN and of super-resolution), the consoles,
and the start and end of a train command."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from ganforge.core.config import SEED_MAX
from ganforge.engine.callbacks import Callback
from ganforge.errors import GanforgeError

OutOpt = Annotated[Path | None, typer.Option(help="Run directory to create.")]
ResumeOpt = Annotated[Path | None, typer.Option(help="Continue this run exactly where it stopped.")]
MinutesOpt = Annotated[float | None, typer.Option(help="Stop after this many minutes of training.")]
BatchOpt = Annotated[int, typer.Option(help="Batch size.")]
SeedOpt = Annotated[int, typer.Option(help="Random seed.")]
DeviceOpt = Annotated[str, typer.Option(help="cpu | cuda | auto")]
CheckpointEveryOpt = Annotated[int, typer.Option(help="Steps between checkpoints.")]
OnProblemOpt = Annotated[
    str,
    typer.Option("--on-problem", help="On collapse/divergence/NaN: recover | stop | warn | off."),
]
# The option's earlier name, still accepted (cli/main.py renames it before parsing); left out of --help,
# where its length cut the option column at 80 terminal columns.
OPTION_ALIASES = {"--on-collapse": "--on-problem"}


# ---------------------------------------------------------------------------- shared by train commands
console = Console(stderr=True, soft_wrap=True)  # long paths stay on one line
out_console = Console(soft_wrap=True)
ON_PROBLEM = ("recover", "stop", "warn", "off")


def progress_callbacks(bar: Callback) -> list[Callback]:
    """The progress bar, on rank 0 only under torchrun (the other ranks train quietly)."""
    from ganforge.engine.distributed import is_main

    return [bar] if is_main() else []


def check_on_problem(on_problem: str) -> str:
    if on_problem not in ON_PROBLEM:
        raise GanforgeError(f"--on-problem must be recover, stop, warn or off (got {on_problem!r})")
    return on_problem


def at_least(flag: str, value: float | None, low: float) -> None:
    """One line when a numeric option given is below its lowest meaningful value (0 never means
    "the default": a value is honoured or refused), or not a finite number."""
    _check_finite(flag, value)
    if value is not None and value < low:
        raise GanforgeError(f"{flag} must be at least {low:g} (got {_shown(value)})")


def positive(flag: str, value: float | None) -> None:
    """One line when a numeric option given is not above 0 (e.g. ``--minutes 0`` is not "no limit") or
    not finite."""
    _check_finite(flag, value)
    if value is not None and not value > 0:
        raise GanforgeError(f"{flag} must be greater than 0 (got {_shown(value)})")


def _check_finite(flag: str, value: float | None) -> None:
    if isinstance(value, float) and not math.isfinite(value):  # an int of any size is finite
        raise GanforgeError(f"{flag} must be a finite number (got {value:g})")


def _shown(value: float) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def check_seed(seed: int | None) -> None:
    """One line for a seed torch or numpy cannot take (negative, or over 63 bits)."""
    if seed is not None and not 0 <= seed <= SEED_MAX:
        raise GanforgeError(f"--seed must be between 0 and {SEED_MAX} (got {seed})")


def check_fits(what: str, need: float) -> None:
    """One line, before anything is allocated, when ``what`` needs more than all the memory there is
    (``need``: bytes, a lower bound)."""
    from ganforge.engine.model import memory_budget

    limit = memory_budget()
    if need > limit:
        raise GanforgeError(
            f"{what} need at least {need / 2**30:,.1f} GB of memory; the budget is {limit / 2**30:.1f} GB"
        )


def resume_dir(out: Path | None, resume: Path | None) -> Path:
    """The run directory of a train command: ``--resume RUN`` continues there, else ``--out`` is new."""
    if resume is not None:
        if out is not None and Path(out).resolve() != Path(resume).resolve():
            raise GanforgeError("--resume continues in its own directory; leave out --out")
        return Path(resume)
    if out is None:
        raise GanforgeError("--out is required (the run directory to create)")
    return Path(out)


def finish_training(
    command: str, data: Any, run_dir: Path, done: str, metrics: dict, where: str, next_cmd: str,
    after: Callable[[], None] | None = None,
) -> None:  # fmt: skip
    """The end of a train command: a health stop is an error; Ctrl-C exits 130 with the resume command;
    otherwise the run directory and what to run next. ``command`` is the train sub-command's name."""
    if metrics.get("stopped_by") == "health":
        raise GanforgeError(
            f"training stopped by the health monitor ({metrics.get('stop_reason')}); the last healthy state is "
            f"saved in {run_dir}"
        )
    # the outcome on stdout (progress and warnings went to stderr)
    out_console.print(f"{done} in {metrics['train_seconds']:.0f} s ({metrics['stopped_by']})")
    if after is not None:
        after()
    if metrics["stopped_by"] == "interrupt":
        console.print(
            f"[yellow]interrupted[/]: checkpoint saved; continue with: ganforge train {command} {data} "
            f"--resume {run_dir}"
        )
        raise typer.Exit(130)
    out_console.print(f"run directory: [bold]{run_dir}[/]{where}")
    out_console.print(f"next: {next_cmd}")


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
