"""The ``ganforge`` command line. The generic verbs live here (``sample``, ``evaluate``, ``report``,
``serve``) and find the wing of a run through the registry; each wing mounts its own commands
(``train images``, ``train table``, ``upscale`` ...).

Errors a user can fix print as one red line and exit with status 1 — never a traceback.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from ganforge.cli.evaluate import evaluate
from ganforge.cli.serve import serve
from ganforge.cli.verify import verify
from ganforge.core import registry
from ganforge.engine.cli import DeviceOpt, console, out_console
from ganforge.errors import GanforgeError

try:  # typer >= 0.20 raises its own copy of click's errors, all TyperExceptions
    from typer import TyperException as UsageProblem
except ImportError:  # older typer raises click's
    from click import ClickException as UsageProblem

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Train, sample and evaluate GANs.")
train_app = typer.Typer(no_args_is_help=True, help="Train a GAN on your data.")
app.add_typer(train_app, name="train")


@app.command()
def sample(
    run: Annotated[Path, typer.Argument(help="Run directory.")],
    out: Annotated[
        Path,
        typer.Option(
            help="Images: a folder (or .png with --grid). Tables: a .parquet or .csv file. Audio: a folder."
        ),
    ],
    n: Annotated[
        int | None,
        typer.Option(
            "-n",
            help="How many (default: 64 images, 16 clips, 100 sequences, as many rows as the training table).",
        ),
    ] = None,
    klass: Annotated[
        str | None, typer.Option("--class", help="Conditional models: a class index or name (e.g. seven).")
    ] = None,
    condition: Annotated[
        list[str] | None,
        typer.Option(
            "--condition",
            "-c",
            help="Tables: COLUMN=VALUE or COLUMN=LOW..HIGH; time series: ATTRIBUTE=VALUE (repeatable).",
        ),
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed (same seed, same output).")] = None,
    grid: Annotated[bool, typer.Option(help="Write one grid image instead of separate files.")] = False,
    device: DeviceOpt = "cpu",
    watermark: Annotated[
        bool, typer.Option(help="Images: invisible watermark + synthetic label (docs/responsible-use.md).")
    ] = True,
    engine: Annotated[
        str,
        typer.Option(help="Images and audio: torch | onnx (ONNX Runtime; exports RUN/model.onnx if needed)."),
    ] = "torch",
    onnx: Annotated[Path | None, typer.Option(help="With --engine onnx: this ONNX file.")] = None,
    shards: Annotated[
        int | None,
        typer.Option(help="Write --out as this many resumable shard files (docs/sampling-at-scale.md)."),
    ] = None,
    workers: Annotated[int, typer.Option(help="With --shards: processes making shards in parallel.")] = 1,
    length: Annotated[
        int | None, typer.Option(help="Sequences: steps per sequence (default: the training window).")
    ] = None,
    class_shares: Annotated[
        bool,
        typer.Option(
            "--keep-class-shares/--generator-mix",
            help="Tables fitted with --target: rows keep the target's real class shares, or the mix sampling makes "
            "(the target model's draws, or the generator's own).",
        ),
    ] = True,
) -> None:
    """Generate images, table rows, points or sequences from a trained run (tables stream to disk in chunks)."""
    from ganforge.engine.cli import at_least, check_seed, parse_conditions

    if n is not None and n < 1:
        raise GanforgeError(f"-n must be >= 1 (got {n})")
    check_seed(seed)
    klass = _class_option(klass)
    config, wing = _sample_run(run, engine, onnx, class_shares)
    if shards is not None:
        from ganforge.sampling.sharded import sample_shards

        if grid:
            raise GanforgeError("--grid cannot be sharded; drop --grid or --shards")
        summary = sample_shards(run, n, out, shards, workers=workers, seed=seed, klass=klass, watermark=watermark,
                                conditions=parse_conditions(condition or []), engine=engine, onnx=onnx, device=device,
                                class_shares=class_shares, report=lambda line: console.print(line, highlight=False))  # fmt: skip
        out_console.print(summary["message"], highlight=False, soft_wrap=True)
        return
    if length is not None and "length" not in wing.sample_options:
        raise wing.unsupported("--length")
    at_least("--length", length, 1)
    options = {"n": n, "klass": klass, "condition": condition, "seed": seed, "grid": grid, "device": device,
               "watermark": watermark, "engine": engine, "onnx": onnx, "length": length,
               "class_shares": class_shares}  # fmt: skip
    message = wing.sample_cli(run, config, out, options)
    out_console.print(message)


def _sample_run(run: Path, engine: str, onnx: Path | None, class_shares: bool) -> tuple[dict, Any]:
    """``sample``'s run: its config and wing, once the engine options and those only some kinds take are
    checked."""
    from ganforge.engine import artifact

    if engine not in ("torch", "onnx"):
        raise GanforgeError(f"--engine must be torch or onnx (got {engine!r})")
    if engine == "torch" and onnx is not None:
        raise GanforgeError("--onnx needs --engine onnx")
    config = artifact.read_config(run)
    wing = registry.wing(config.get("kind"))
    if not class_shares and "class_shares" not in wing.sample_options:
        raise wing.unsupported("--generator-mix")
    return config, wing


def _class_option(klass: str | None) -> int | str | None:
    """``--class``: digits are an index, anything else a class name (checked by the model)."""
    if klass is None:
        return None
    text = klass.strip()
    if re.fullmatch(r"-?[0-9]+", text):
        if len(text.lstrip("-0")) > 18:
            raise GanforgeError(f"--class {text[:20]}...: not a class index")
        return int(text)
    return text


@app.command()
def report(
    run: Annotated[Path, typer.Argument(help="Run directory.")],
    out: Annotated[Path | None, typer.Option(help="HTML file to write (default: RUN/report.html).")] = None,
    real: Annotated[
        Path | None, typer.Option(help="Tables: the real table to compare with (default: the training file).")
    ] = None,
) -> None:
    """Write one self-contained HTML report: curves, health events, samples, evaluation figures."""
    from ganforge.core.extras import require

    require("matplotlib", "report", "ganforge report")
    from ganforge.reporting.report import write_report

    path = write_report(run, out=out, real=real)
    out_console.print(f"wrote {path}  (open it in a browser)")


@app.command()
def export(
    run: Annotated[Path, typer.Argument(help="Run directory.")],
    onnx: Annotated[
        Path | None, typer.Option("--onnx", help="ONNX file to write (default: RUN/model.onnx).")
    ] = None,
) -> None:
    """Export the generator to ONNX (dynamic batch; class input for conditional models), checked with
    ONNX Runtime against PyTorch."""
    from ganforge.engine import artifact

    config = artifact.read_config(run)
    out_console.print(registry.wing(config.get("kind")).export_onnx(run, onnx), markup=False, highlight=False)


app.command()(evaluate)
app.command()(serve)
app.command()(verify)
for _wing in registry.wings():
    _wing.register_cli(app, train_app)


def _os_error(e: OSError) -> str:
    """``PATH: reason`` for an OSError (a read-only folder, a file where a folder should be, a full disk)."""
    return f"{e.filename}: {e.strerror or e}" if e.filename else f"{e.strerror or e}"


def _usage_error(e: Exception) -> str:
    """A command-line usage error (a flag value that is no number, an unknown option, a missing
    argument) in one line, naming the command whose --help explains it."""
    ctx, words = getattr(e, "ctx", None), []
    while ctx is not None and ctx.parent is not None:  # the root's name is however Python was started
        words.insert(0, ctx.info_name)
        ctx = ctx.parent
    message = " ".join(e.format_message().split())  # type: ignore[attr-defined]
    return f"{message} (see: {' '.join(['ganforge', *words])} --help)"


def _alias(arg: str, aliases: dict[str, str]) -> str:
    """An option's earlier name (``--on-collapse`` or ``--on-collapse=stop``) as its present one."""
    name, eq, value = arg.partition("=")
    return aliases[name] + eq + value if name in aliases else arg


def main() -> None:
    """Entry point: run the app, turning GanforgeErrors and usage errors into one line (exit status 1
    and 2) instead of a traceback or a usage panel."""
    import os
    import warnings

    warnings.formatwarning = lambda message, category, *args, **kwargs: f"warning: {message}\n"
    if not (sys.stdout.isatty() or sys.stderr.isatty()) and "COLUMNS" not in os.environ:
        os.environ["COLUMNS"] = "100"  # piped help: rich's 80 columns cut long option names ("--on-colla…")
    # torchrun's variable, not torch.distributed: the command line starts without importing torch
    rank = int(os.environ.get("RANK", "0")) if int(os.environ.get("WORLD_SIZE", "1")) > 1 else 0
    if rank:  # under torchrun only rank 0 reports; errors still print, marked with their rank
        console.quiet = out_console.quiet = True
    where = f"(rank {rank}) " if rank else ""
    from ganforge.engine.cli import OPTION_ALIASES

    args = [_alias(a, OPTION_ALIASES) for a in sys.argv[1:]]
    try:
        code = app(args=args, standalone_mode=False)  # usage errors are raised here, not as a panel
        sys.exit(code if isinstance(code, int) else 0)  # typer.Exit(CODE) comes back as CODE
    except UsageProblem as e:
        if type(e).__name__ == "NoArgsIsHelpError":  # the help is already printed
            sys.exit(2)
        text = escape(f"{where}{_usage_error(e)}")
        Console(stderr=True).print(f"[bold red]error:[/] {text}", highlight=False, soft_wrap=True)
        sys.exit(getattr(e, "exit_code", 2))
    except typer.Abort:
        Console(stderr=True).print(f"[bold red]error:[/] {where}aborted", highlight=False)
        sys.exit(1)
    except (GanforgeError, OSError) as e:  # OSError: a file system refusal nothing above turned into words
        text = str(e) if isinstance(e, GanforgeError) else _os_error(e)
        message = escape(f"{where}{text}")  # a message's own [brackets] are text, not markup
        Console(stderr=True).print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
        sys.exit(1)
    except SystemExit as e:  # every command ends with SystemExit (the sys.exit above)
        if e.code in (0, None) and "ganforge.engine.distributed" in sys.modules:
            # leave torchrun's process group together (no-op in one process)
            sys.modules["ganforge.engine.distributed"].shutdown()
        raise
