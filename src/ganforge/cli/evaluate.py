"""``ganforge evaluate RUN``: one command for every kind of run; the run's wing does the measuring."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from ganforge.tables.privacy.cli import PrivacyFlag, SensitiveOpt

console = Console(stderr=True, soft_wrap=True)  # long paths stay on one line
out_console = Console(soft_wrap=True)


# options of `evaluate`
RefOpt = Annotated[
    str | None, typer.Option(help="Images: reference folder or built-in name (default: training data).")
]
SplitOpt = Annotated[str, typer.Option(help="Split of a built-in reference: train | test.")]
NOpt = Annotated[
    int | None, typer.Option("-n", help="Generated items (default: 2000 images / the real row count).")
]
ExtractorOpt = Annotated[str, typer.Option(help="inception (FID/KID) | effnet-lite0 (fast, for trends).")]
PrdcOpt = Annotated[
    bool, typer.Option("--prdc/--no-prdc", help="Images: precision, recall, density, coverage.")
]
PerClassOpt = Annotated[
    bool | None,
    typer.Option("--per-class/--no-per-class", help="Images: FID/KID per class (default: if conditional)."),
]
PerClassNOpt = Annotated[
    int | None,
    typer.Option(help="Images: images per class and side for per-class FID/KID (default: ~n/classes)."),
]
MemorisationOpt = Annotated[
    bool,
    typer.Option(
        "--memorisation/--no-memorisation",
        help="Nearest training example of each sample (DCR for tables).",
    ),
]
MemorisationSpaceOpt = Annotated[
    str,
    typer.Option(
        help="Images: search in pixels (fast: the whole training set; finds near-verbatim copies) "
        "| features (effnet-lite0: also finds shifted or re-coloured copies; ~25 images/s, use "
        "--memorisation-n 10000)."
    ),
]
MemorisationNOpt = Annotated[
    int,
    typer.Option(help="Images: training images searched for nearest neighbours (a fixed random subset)."),
]
AugmentUtilityOpt = Annotated[
    bool, typer.Option(help="Images: does adding class-conditional samples help a small-data classifier?")
]
RealPerClassOpt = Annotated[int, typer.Option(help="Augment utility: real training images per class.")]
SyntheticPerClassOpt = Annotated[int, typer.Option(help="Augment utility: generated images added per class.")]
RealOpt = Annotated[Path | None, typer.Option(help="Tables: the real table (default: the training file).")]
HoldoutOpt = Annotated[
    Path | None, typer.Option(help="Tables: held-out real rows to test ML efficacy and DCR on.")
]
TargetOpt = Annotated[str | None, typer.Option(help="Tables: column to predict for ML efficacy.")]
SeedOpt = Annotated[int, typer.Option(help="Seed for the generated data.")]


def evaluate(
    run: Annotated[Path, typer.Argument(help="Run directory.")],
    ref: RefOpt = None,
    split: SplitOpt = "train",
    n: NOpt = None,
    extractor: ExtractorOpt = "inception",
    prdc: PrdcOpt = True,
    per_class: PerClassOpt = None,
    per_class_n: PerClassNOpt = None,
    memorisation: MemorisationOpt = True,
    memorisation_space: MemorisationSpaceOpt = "pixels",
    memorisation_n: MemorisationNOpt = 100_000,
    augment_utility: AugmentUtilityOpt = False,
    real_per_class: RealPerClassOpt = 20,
    synthetic_per_class: SyntheticPerClassOpt = 200,
    real: RealOpt = None,
    holdout: HoldoutOpt = None,
    target: TargetOpt = None,
    seed: SeedOpt = 0,
    privacy: PrivacyFlag = False,
    sensitive: SensitiveOpt = None,
) -> None:
    """Images: FID/KID, precision/recall/density/coverage, per-class FID, memorisation. Tables: quality,
    ML efficacy, detection, copies, DCR. See docs/evaluation.md."""
    options = {k: v for k, v in locals().items() if k != "run"}  # every option, for the run's wing
    from ganforge.core import registry
    from ganforge.engine import artifact
    from ganforge.engine.cli import at_least, check_seed

    at_least("-n", n, 1)
    check_seed(seed)
    config = artifact.read_config(run)
    registry.wing(config.get("kind")).evaluate_cli(run, config, options, console, out_console)
