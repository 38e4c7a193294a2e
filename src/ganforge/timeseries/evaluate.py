"""``ganforge evaluate`` of a series run: the TimeGAN protocol's discriminative and predictive scores,
autocorrelation and cross-correlation errors, marginal distances and the nearest-window memorisation
check, all on windows min-max scaled (timeseries/metrics.py), stored in
config.json and card.md."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ganforge.core.io import rounded
from ganforge.engine import artifact
from ganforge.engine.model import load
from ganforge.errors import ConfigError
from ganforge.timeseries import metrics as tm
from ganforge.timeseries.data import read_series

DEFAULT_WINDOWS = 3000  # real windows compared (all of them when fewer), and as many synthetic ones


def real_windows(gan: Any, real: str | Path | None) -> tuple[np.ndarray, str]:
    """The real windows to compare with: ``real`` or the training data, encoded by the run's codec with
    the numeric features min-max scaled (the protocol's scale, whatever the scaling the model learned in)."""
    source = real or gan.data_info.get("source")
    if source in (None, "DataFrame"):
        raise ConfigError("this run was trained on an in-memory DataFrame; pass --real DATA.csv")
    frame, _, _, _ = read_series(str(source))
    return gan.codec.minmax(gan.codec.windows(frame)), str(source)


def evaluate_series_run(
    run: Path, real: str | Path | None = None, n: int | None = None, seed: int = 0, iterations: int = 2000,
    seeds: int = 5,
) -> dict[str, Any]:  # fmt: skip
    """Figures of ``n`` generated windows against as many real windows (default: up to 3,000, drawn at
    random; every window when fewer)."""
    gan = load(run)
    windows, source = real_windows(gan, real)
    rng = np.random.default_rng(seed)
    n = n or min(len(windows), DEFAULT_WINDOWS)
    if n < 4:
        raise ConfigError(f"-n must be >= 4 (got {n})")
    reals = windows[np.sort(rng.choice(len(windows), min(n, len(windows)), replace=False))]
    fake = gan.codec.minmax(gan.generate(n, seed=seed))
    # The discriminative score and the memorisation check see every channel (categories one-hot, missing-
    # value flags, attributes); the others the numeric features -- the predictive target is the last one
    # (without numeric features: every channel but the attributes).
    k = len(gan.codec.features) or gan.codec.varying_channels
    num_real, num_fake = reals[..., :k], fake[..., :k]
    half = len(reals) // 2  # the predictive score's real reference: train on one half, test on the other
    disc = tm.discriminative_score(reals, fake, seed=seed, seeds=seeds, iterations=iterations)
    pred = tm.predictive_score(num_fake, num_real, seed=seed, iterations=iterations)
    pred_real = tm.predictive_score(num_real[:half], num_real[half:], seed=seed, iterations=iterations)
    marg = tm.marginal_distances(num_real, num_fake)
    near = tm.nearest_window(reals, fake, seed=seed, n_pairs=0)
    result = {
        "discriminative_score": disc["score"],
        "discriminative_std": disc["std"],
        "predictive_mae": pred["mae"],
        "predictive_mae_real": pred_real["mae"],
        "acf_error": tm.autocorrelation_error(num_real, num_fake),
        "cross_correlation_error": tm.cross_correlation_error(num_real, num_fake),
        "marginal_distance_mean": float(np.mean(marg)),
        "marginal_distance_max": float(np.max(marg)),
        "copies_share_p01": near["share_p01"],
        "nearest_median_ratio": near["median_ratio"],
        "memorisation_flagged": near["flagged"],
        "windows": n,
        "real_windows": len(reals),
        "real": source,
    }
    gan.metrics["evaluation"] = rounded(result)
    artifact.update_config(run, metrics=gan.metrics)
    gan.write_card(Path(run))
    return rounded(result)


def evaluate_cli(run: Path, options: dict[str, Any], console: Any, out_console: Any) -> None:
    """``ganforge evaluate`` of a series run: measure, store in the run, print."""
    real = options.get("real")
    console.print(f"evaluating {run}: discriminative and predictive scores (post-hoc GRUs) ...")
    result = evaluate_series_run(run, real=real, n=options.get("n"), seed=options["seed"])
    for key, value in result.items():
        out_console.print(f"{key:>26}  {value}")
