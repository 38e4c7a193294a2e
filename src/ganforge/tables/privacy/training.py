"""How ``TableGAN.fit`` becomes a DP run: the budget split, the codec, the wrapped trainer, the record.

The budget (ε, δ) is split by basic composition: ``metadata_share`` of it pays for metadata computed from
the rows (nothing when the user supplies all of it), the rest for DP-SGD on the discriminator.
"""

from __future__ import annotations

from dataclasses import asdict, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import torch

from ganforge.errors import ConfigError
from ganforge.tables.codec import TableCodec
from ganforge.tables.data import infer_metadata
from ganforge.tables.privacy.dp import (
    DPConfig,
    PoissonTableSource,
    PrivacyBudget,
    calibrate_noise,
    epsilon_after,
    make_private,
    max_steps,
    plain_module,
)
from ganforge.tables.privacy.metadata import private_codec

if TYPE_CHECKING:
    from ganforge.engine.trainer import Trainer
    from ganforge.tables.model import TableGAN

MIN_BATCH = 16  # a Poisson batch this small would often be empty or too noisy to learn from


def as_dp_config(dp: DPConfig | dict | bool | None) -> DPConfig | None:
    """``True`` means the default budget; a dict gives DPConfig fields."""
    if dp is None or dp is False:
        return None
    from ganforge.core.extras import require

    require("opacus", "privacy", "Differentially private training")
    if dp is True:
        return DPConfig().validate()
    if isinstance(dp, dict):
        unknown = sorted(set(dp) - set(DPConfig.__dataclass_fields__))
        if unknown:
            raise ConfigError(f"unknown DP setting(s): {', '.join(unknown)}")
        return DPConfig(**dp).validate()
    if isinstance(dp, DPConfig):
        return dp.validate()
    raise ConfigError(f"dp must be True, a dict of settings or a DPConfig (got {type(dp).__name__})")


def private_table_codec(gan: TableGAN, df: pd.DataFrame) -> TableCodec:
    """Resolve the budget for ``df`` and build the codec from supplied or DP metadata."""
    cfg = gan.dp.for_rows(len(df))
    if gan.train_config.batch_size < MIN_BATCH or gan.train_config.batch_size >= len(df):
        raise ConfigError(
            f"with --dp the batch ({gan.train_config.batch_size}) is the expected size of a Poisson sample: "
            f"use a batch between {MIN_BATCH} and the row count ({len(df)})"
        )
    gan.dp = cfg
    meta = infer_metadata(df, gan.metadata_overrides)
    eps_meta, delta_meta = cfg.epsilon * cfg.metadata_share, cfg.delta * cfg.metadata_share
    codec, report = private_codec(
        df, meta, gan.metadata_overrides, eps_meta, delta_meta, gan.train_config.seed
    )
    gan.privacy = {"dp": asdict(cfg), "metadata": report}
    return codec


def private_source(gan: TableGAN, x: np.ndarray) -> PoissonTableSource:
    """The Poisson-sampled training rows."""
    rate = gan.train_config.batch_size / len(x)
    return PoissonTableSource(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)), rate)


def attach_private_training(gan: TableGAN, trainer: Trainer, n_rows: int) -> PrivacyBudget:
    """Calibrate the noise (unless given or resumed), wrap D for DP-SGD and add the budget callback."""
    p = gan.privacy
    cfg = DPConfig(**p["dp"])
    rate = gan.train_config.batch_size / n_rows
    budget = cfg.epsilon - p["metadata"]["epsilon"]
    train_delta = cfg.delta - p["metadata"]["delta"]
    acct = replace(cfg, delta=train_delta)
    if "noise_multiplier" not in p:  # a new run: fixed at the start, kept on resume
        if cfg.noise_multiplier is None and trainer.config.steps >= 10**9:
            raise ConfigError(
                "with --dp the noise is calibrated to the planned steps: give --epochs (or --noise-multiplier "
                "to train until the budget is spent)"
            )
        sigma = cfg.noise_multiplier or calibrate_noise(acct, budget, rate, trainer.config.steps)
        p |= {"noise_multiplier": sigma, "sample_rate": rate, "training_epsilon": budget,
              "training_delta": train_delta}  # fmt: skip
    acct = replace(acct, noise_multiplier=p["noise_multiplier"])
    # counted from step 0 with this run's step target, so a resumed run stops where an uninterrupted one would
    p["steps_allowed"] = max_steps(acct, budget, rate, trainer.config.steps)
    if p["steps_allowed"] == 0:
        raise ConfigError(
            f"--noise-multiplier {p['noise_multiplier']:g} spends more than epsilon {budget:g} in a single "
            "step; raise the noise or the budget"
        )
    make_private(trainer, acct)
    callback = PrivacyBudget(acct, budget, rate, p["steps_allowed"])
    trainer.callbacks.append(callback)
    return callback


def finish_private_training(gan: TableGAN, trainer: Trainer, callback: PrivacyBudget) -> None:
    """Unwrap D for saving and record the spent budget in the metrics (config.json and card.md)."""
    gan.D = plain_module(trainer.D)
    p = gan.privacy
    acct = replace(DPConfig(**p["dp"]), delta=p["training_delta"], noise_multiplier=p["noise_multiplier"])
    spent_train = epsilon_after(acct, p["sample_rate"], trainer.step)
    p["epsilon_spent"] = round(spent_train + p["metadata"]["epsilon"], 4)
    p["training_epsilon_spent"] = round(spent_train, 4)
    p["steps_taken"] = trainer.step
    if callback.spent:
        gan.metrics["stopped_by"] = "privacy_budget"
    gan.metrics["epsilon_spent"] = p["epsilon_spent"]
    gan.metrics["delta"] = p["dp"]["delta"]


def privacy_card(privacy: dict[str, Any] | None) -> dict[str, Any] | str:
    """The card's "Privacy" section."""
    if not privacy:
        return "not differentially private (train with --dp --epsilon E for a guarantee)"
    dp, meta = privacy["dp"], privacy["metadata"]
    supplied = sorted(k for k, v in meta["columns"].items() if v != "DP")
    return {
        "guarantee": f"(epsilon={privacy.get('epsilon_spent', '?')}, delta={dp['delta']:.3g})-DP "
        f"(budget epsilon={dp['epsilon']:g}) for the generator, the discriminator and every sample",
        "mechanism": f"DP-SGD on the discriminator (Opacus): per-sample clipping at {dp['max_grad_norm']:g}, "
        f"noise multiplier {privacy.get('noise_multiplier', 0):.4g}, Poisson sampling at rate "
        f"{privacy.get('sample_rate', 0):.4g}, {privacy.get('steps_taken', '?')} steps, {dp['accountant'].upper()} "
        "accountant; no packing (pac=1), no conditional vector",
        "epsilon split": f"metadata {meta['epsilon']:g} ({meta['released_columns']} columns by DP histograms, "
        f"{meta['epsilon_per_column']:g} each) + training {privacy.get('training_epsilon_spent', '?')}",
        "metadata": "supplied by the user: " + (", ".join(supplied) if supplied else "none")
        + "; every other column's bounds/categories computed with a DP mechanism",
        "not covered": "metrics.jsonl and the progress output (losses on real rows) and column names and kinds "
        "(treated as public schema); share the model, config.json, card.md and samples",
    }  # fmt: skip
