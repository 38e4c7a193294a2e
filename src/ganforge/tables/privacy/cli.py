"""Command-line options for differential privacy and privacy evaluation of table models.

The options are declared here once and used by ``ganforge train table`` and ``ganforge evaluate``.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.console import Console

DpFlag = Annotated[
    bool, typer.Option("--dp", help="Differentially private training (DP-SGD on the discriminator, Opacus).")
]
EpsilonOpt = Annotated[
    float, typer.Option(help="With --dp: the privacy budget epsilon (smaller = more private).")
]
DeltaOpt = Annotated[
    float | None, typer.Option(help="With --dp: delta, below 1/rows (default: 1 / (10 rows)).")
]
NoiseOpt = Annotated[
    float | None,
    typer.Option(help="With --dp: fix the noise multiplier and train until the budget is spent (default: "
                 "calibrated so the planned epochs spend it)."),
]  # fmt: skip
ClipOpt = Annotated[float, typer.Option(help="With --dp: per-example gradient clipping norm.")]
AccountantOpt = Annotated[str, typer.Option(help="With --dp: privacy accountant, rdp | prv.")]
PrivacyFlag = Annotated[
    bool,
    typer.Option(
        "--privacy", help="Tables: DCR vs holdout, NNDR, copies, membership-inference AUC (needs --holdout)."
    ),
]
SensitiveOpt = Annotated[
    str | None, typer.Option(help="Tables, with --privacy: column for the attribute-inference attack.")
]


def dp_settings(
    dp: bool, epsilon: float, delta: float | None, noise_multiplier: float | None, max_grad_norm: float,
    accountant: str,
) -> dict[str, Any] | None:  # fmt: skip
    """The ``dp=`` argument of TableGAN for the command-line options (None without --dp)."""
    from ganforge.tables.privacy.training import as_dp_config

    if not dp:
        return None
    settings = {"epsilon": epsilon, "delta": delta, "noise_multiplier": noise_multiplier,
                "max_grad_norm": max_grad_norm, "accountant": accountant}  # fmt: skip
    as_dp_config(settings)  # bad values fail here, before the table is read
    return settings


def print_privacy(console: Console, gan: Any) -> None:
    """The spent budget at the end of a DP run."""
    p = getattr(gan, "privacy", None)
    if not p or "epsilon_spent" not in p:
        return
    console.print(
        f"[bold green]privacy[/]: spent epsilon = {p['epsilon_spent']:.3f} of {p['dp']['epsilon']:g} "
        f"(delta = {p['dp']['delta']:.3g}; metadata {p['metadata']['epsilon']:g} + training "
        f"{p['training_epsilon_spent']:.3f}, noise multiplier {p['noise_multiplier']:.3f}, "
        f"{p['steps_taken']} steps)",
        highlight=False,
    )
