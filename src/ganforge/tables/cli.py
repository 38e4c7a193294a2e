"""The tables wing's commands: ``train table`` and ``sample`` of a table run."""

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
    out_console,
    positive,
    progress_callbacks,
    resume_dir,
)
from ganforge.errors import GanforgeError
from ganforge.tables.privacy.cli import (
    AccountantOpt,
    ClipOpt,
    DeltaOpt,
    DpFlag,
    EpsilonOpt,
    NoiseOpt,
)

# options of `train table`
DataOpt = Annotated[Path, typer.Argument(help="A .csv, .tsv or .parquet table.")]
TargetOpt = Annotated[
    str | None, typer.Option(help="Column to predict when evaluating ML efficacy (recorded in the run).")
]
EpochsOpt = Annotated[
    float | None, typer.Option(help="Passes over the table (default: 100, at least 600 steps).")
]
BatchOpt = Annotated[int, typer.Option(help="Rows per batch (a multiple of --pac).")]
PacOpt = Annotated[int, typer.Option(help="Rows the discriminator judges together (PacGAN).")]
MetadataOpt = Annotated[
    Path | None,
    typer.Option(help='JSON overriding detected column kinds, e.g. {"zip": {"kind": "categorical"}}.'),
]
TargetModelOpt = Annotated[
    bool,
    typer.Option(
        "--target-model/--no-target-model",
        help="With a categorical --target: draw each row's target from a gradient-boosted model of it given "
        "the row's other columns (off: the generator's own).",
    ),
]
StreamOpt = Annotated[
    bool, typer.Option("--stream/--no-stream", help="Read a Parquet file by row groups (any size).")
]


def train_table(
    data: DataOpt,
    out: OutOpt = None,
    resume: ResumeOpt = None,
    target: TargetOpt = None,
    target_model: TargetModelOpt = True,
    epochs: EpochsOpt = None,
    minutes: MinutesOpt = None,
    batch: BatchOpt = 500,
    pac: PacOpt = 10,
    metadata: MetadataOpt = None,
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
    stream: StreamOpt = False,
) -> None:
    """Train a tabular GAN on a CSV/Parquet file; Ctrl-C saves a checkpoint and stops cleanly."""
    from ganforge.engine.artifact import was_streamed
    from ganforge.engine.progress import ProgressCallback
    from ganforge.tables.data import infer_metadata, read_metadata_overrides, read_table
    from ganforge.tables.model import TableGAN, resume_table
    from ganforge.tables.privacy.cli import dp_settings, print_privacy
    from ganforge.tables.stream import parquet_columns

    positive("--epochs", epochs)
    positive("--minutes", minutes)
    at_least("--pac", pac, 1)
    at_least("--batch", batch, 2)
    check_seed(seed)
    at_least("--checkpoint-every", checkpoint_every, 1)
    stream = stream or (resume is not None and was_streamed(resume))  # a streamed run resumes streamed
    if stream:  # never load the table: columns and row count come from the Parquet footer
        columns, n_rows = parquet_columns(data)
    else:
        df = read_table(data)
        columns, n_rows = list(df.columns), len(df)
    check_fits(f"batches of {batch:,} rows", batch * len(columns) * 4)  # one float32 per column, at least
    if target is not None and target not in columns:
        raise GanforgeError(f"--target {target!r} is not a column of {data} (columns: {', '.join(columns)})")
    run_dir = resume_dir(out, resume)
    if resume is not None:
        steps = _resume_steps(resume, epochs, n_rows)
        gan = resume_table(resume, steps=steps, device=device, minutes=minutes)
    else:
        overrides = read_metadata_overrides(metadata) if metadata is not None else None
        gan = TableGAN(epochs=epochs, minutes=minutes, batch_size=batch, pac=pac, seed=seed, device=device,
                       metadata=overrides, checkpoint_every=checkpoint_every, target_model=target_model,
                       dp=dp_settings(dp, epsilon, delta, noise_multiplier, max_grad_norm, accountant))  # fmt: skip
    header = [f"[bold]ganforge[/] training on [cyan]{data}[/] ({n_rows:,} rows) -> {run_dir}"]
    if resume is None and not stream:  # a streamed table's metadata is inferred from its sample rows in fit
        header.insert(0, infer_metadata(df, overrides).summary())
    bar = ProgressCallback(console, unit="rows", header=tuple(header))
    gan.fit(data if stream else df, out=run_dir, resume=resume is not None,
            callbacks=progress_callbacks(bar), source=str(Path(data).resolve()), target=target,
            health=check_on_problem(on_problem), stream=stream)  # fmt: skip
    m = gan.metrics
    if gan.layout_note:
        console.print(f"note: {gan.layout_note}", highlight=False)
    finish_training(
        "table", data, run_dir, f"{m['steps']} steps, {m['epochs']} epochs ({m['rows_seen']:,} rows)", m,
        where="", after=lambda: print_privacy(out_console, gan),
        next_cmd=f"ganforge sample {run_dir} -n 100000 --out synthetic.parquet   |   "
        f"ganforge evaluate {run_dir} --real {data} --holdout HELD_OUT.csv",
    )  # fmt: skip


def _resume_steps(run: Path, epochs: float | None, n_rows: int) -> int | None:
    """The step target of ``--resume RUN --epochs E``: epochs in the run's own batch size (--batch is
    for new runs); None keeps the saved target."""
    if epochs is None:
        return None
    from ganforge.engine.artifact import read_config

    run_batch = int(read_config(Path(run))["train"]["batch_size"])
    return max(1, -(-int(epochs * n_rows) // run_batch))


def sample_cli(run: Path, out: Path, options: dict[str, Any]) -> str:
    """``ganforge sample`` of a table run: rows streamed to a Parquet or CSV file in chunks."""
    from ganforge.engine.cli import parse_conditions
    from ganforge.engine.model import load

    if options.get("klass") is not None or options.get("grid"):
        raise GanforgeError("--class and --grid are for image models; use --condition for tables")
    if options.get("engine") != "torch" or options.get("onnx") is not None:
        raise GanforgeError(f"--engine onnx is for image models; {run} is a table model (use --engine torch)")
    model = load(run, device=options["device"])
    rows = options.get("n") or int(model.data_info.get("rows", 1000))
    conditions = parse_conditions(options.get("condition") or [])
    keep = options.get("class_shares", True)
    path = model.sample_to_file(rows, out, options.get("seed"), conditions, keep_class_shares=keep)
    return f"wrote {rows:,} synthetic rows to {path}"


def register(app: typer.Typer, train_app: typer.Typer) -> None:
    """Mount the tables wing's commands."""
    train_app.command("table")(train_table)
