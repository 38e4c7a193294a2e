"""Time series: ganforge's SeriesGAN against SDV's PARSynthesizer on Sines, Stocks and Energy, with the
TimeGAN protocol (24-step windows, min-max scaling; discriminative and predictive scores), every model in
the same run and measured by the same code (ganforge.timeseries.metrics).

Per data set: ganforge trains for ``--minutes``; PAR (pip ``sdv``, the bench extra) trains on the same
windows given as a panel of 24-step sequences for ``--par-epochs`` epochs (its wall time is recorded);
each model then makes as many windows as are compared -- ganforge as rows in the data's own layout (its
decoding: categories, integers, copies of equal columns), cut into windows by the same function as the real
rows (``plain_windows``: every feature min-max scaled with the real data's bounds). Every real window is
compared, as in the papers (``--windows N`` draws N at random instead; result files whose ``args``
say ``"windows": 3000`` used 3,000): the post-hoc networks train for a fixed number of iterations, so more
windows cost only ganforge's sampling and the test pass. PAR, which samples a few windows a second, trains
on and makes ``--par-windows`` of them (3,000), scored against as many real ones. Also: the predictive score of real windows (train on
one half, test on the other), ACF / cross-correlation errors, marginal KS, training time and sampling
speed (windows per second).

Published discriminative scores (lower is better): TimeGAN .011 / .102 / .236, Diffusion-TS .006 / .067
/ .122 (sines / stocks / energy; Yoon et al. NeurIPS 2019, Yuan and Qiao ICLR 2024).

    .venv/bin/python benchmarks/timeseries.py --minutes 5 --par-epochs 16
    .venv/bin/python benchmarks/timeseries.py --datasets stocks --minutes 30    # 30 CPU-minutes, the benchmark's budget
    .venv/bin/python benchmarks/timeseries.py --datasets energy --recipes direct --scalings minmax,quantile \
        --par-epochs 0 --out timeseries_scaling.json
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict
from typing import Any

import numpy as np
import pandas as pd
from _common import RESULTS, machine, parse_overrides

from ganforge.core.config import TrainConfig, from_dict
from ganforge.timeseries import metrics as tm
from ganforge.timeseries.data import builtin_frame
from ganforge.timeseries.model import SeriesGAN

WINDOW = 24  # the protocol's window

PUBLISHED = {
    "TimeGAN": {"sines": 0.011, "stocks": 0.102, "energy": 0.236},
    "Diffusion-TS": {"sines": 0.006, "stocks": 0.067, "energy": 0.122},
}


def scores(real: np.ndarray, fake: np.ndarray, seed: int, iterations: int) -> dict[str, Any]:
    """The same figures for every model."""
    disc = tm.discriminative_score(real, fake, seed=seed, seeds=5, iterations=iterations)
    pred = tm.predictive_score(fake, real, seed=seed, iterations=iterations)
    return {
        "discriminative": round(disc["score"], 4),
        "discriminative_std": round(disc["std"], 4),
        "predictive_mae": round(pred["mae"], 4),
        "acf_error": round(tm.autocorrelation_error(real, fake), 4),
        "cross_correlation_error": round(tm.cross_correlation_error(real, fake), 4),
        "marginal_ks_mean": round(float(np.mean(tm.marginal_distances(real, fake))), 4),
    }


def plain_windows(frame: pd.DataFrame, features: list[str], low: np.ndarray, high: np.ndarray,
                  id_col: str | None, window: int) -> np.ndarray:  # fmt: skip
    """The protocol's windows: every feature min-max scaled with the real data's bounds, every window of
    ``window`` steps of every series. Real and synthetic rows go through this same function."""
    x = (frame[features].to_numpy(dtype=np.float64) - low) / np.where(high > low, high - low, 1.0)
    groups = [x] if id_col is None else [x[idx] for idx in frame.groupby(id_col, sort=False).indices.values()]
    out = [np.lib.stride_tricks.sliding_window_view(g, window, axis=0).transpose(0, 2, 1) for g in groups]
    return np.concatenate(out).astype(np.float32)


def draw_windows(windows: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` of ``windows`` drawn at random; every one, in random order, when ``n`` <= 0 or beyond their count."""
    k = len(windows) if n <= 0 else min(n, len(windows))
    return windows[rng.choice(len(windows), k, replace=False)]


def run_ganforge(frame: pd.DataFrame, time_col: str | None, id_col: str | None, minutes: float, n: int,
                 seed: int, scale: Any, recipe: str = "direct", scaling: str = "minmax",
                 overrides: dict[str, Any] | None = None,
                 train: dict[str, Any] | None = None) -> tuple[np.ndarray, dict[str, Any]]:  # fmt: skip
    """Train with ``recipe`` and ``scaling``, then sample ``n`` sequences of one window as rows (the model's own decoding: categories,
    copies of equal columns, integers) and cut them into protocol windows with ``scale``. ``overrides``:
    further SeriesGAN keywords (an ablation row, e.g. learning rates); ``train``: settings of the engine's
    training config (``share_fake``, ``r1_gamma``, ...)."""
    t0 = time.perf_counter()
    gan = SeriesGAN(
        minutes=minutes, seed=seed, device="cpu", recipe=recipe, scaling=scaling, **(overrides or {})
    )
    if train:  # rebuilt, so unknown keys are named and values checked as a saved config's are
        gan.train_config = from_dict(TrainConfig, asdict(gan.train_config) | train, what="training")
    gan.fit(frame, time=time_col, id=id_col)
    fit_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    gan.sample(10_000, length=gan.recipe.window, seed=seed + 1)
    speed = 10_000 / (time.perf_counter() - t0)
    info = {"fit_seconds": round(fit_s, 1), "steps": gan.metrics["steps"],
            "windows_per_second_sampling": round(speed), "channels": gan.recipe.channels,
            "hidden": gan.recipe.hidden}  # fmt: skip
    rows = gan.sample(n, length=gan.recipe.window, seed=seed)
    return scale(rows, gan.codec.id or "sequence"), info


def run_par(windows: np.ndarray, epochs: int, n: int, seed: int) -> tuple[np.ndarray, dict[str, Any]]:
    """PARSynthesizer on the (scaled) windows as a panel: one sequence per window."""
    from sdv.metadata import Metadata
    from sdv.sequential import PARSynthesizer

    k, length, c = len(windows), windows.shape[1], windows.shape[2]
    cols = [f"f{j}" for j in range(c)]
    panel = pd.DataFrame(windows.reshape(k * length, c), columns=cols)
    panel.insert(0, "step", np.tile(np.arange(length), k))
    panel.insert(0, "window", np.repeat(np.arange(k), length))
    columns = {"window": {"sdtype": "id"}, "step": {"sdtype": "numerical"}}
    columns |= {col: {"sdtype": "numerical"} for col in cols}
    metadata = Metadata.load_from_dict({"METADATA_SPEC_VERSION": "V1", "tables": {"windows": {
        "columns": columns, "sequence_key": "window", "sequence_index": "step"}}})  # fmt: skip
    t0 = time.perf_counter()
    par = PARSynthesizer(metadata, epochs=epochs, verbose=False, enforce_min_max_values=True, cuda=False)
    par.fit({"windows": panel})
    fit_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    out = par.sample_sequences(num_sequences=n, sequence_length=length)
    out = next(iter(out.values())) if isinstance(out, dict) else out
    sample_s = time.perf_counter() - t0
    fake = np.stack(
        [g[cols].to_numpy(dtype=np.float64)[:length] for _, g in out.groupby("window", sort=False)]
    )
    return np.clip(fake[:n], 0, 1), {"fit_seconds": round(fit_s, 1), "epochs": epochs,
                                     "windows_per_second_sampling": round(n / sample_s)}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--datasets", default="sines,stocks,energy")
    ap.add_argument("--minutes", type=float, default=5.0, help="ganforge training minutes per data set")
    ap.add_argument("--par-epochs", type=int, default=16, help="PARSynthesizer epochs (0: skip PAR)")
    ap.add_argument(
        "--windows", type=int, default=0, help="real windows compared, drawn at random (0: every one)"
    )
    ap.add_argument("--par-windows", type=int, default=3000, help="windows PAR trains on and makes")
    ap.add_argument("--iterations", type=int, default=2000, help="post-hoc GRU training iterations")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--recipes", default="direct,timegan", help="ganforge recipes trained, each --minutes")
    ap.add_argument("--scalings", default="minmax", help="SeriesGAN scalings tried with every recipe")
    ap.add_argument("--out", default="timeseries.json", help="file name under benchmarks/results")
    ap.add_argument(
        "--set",
        nargs="*",
        default=[],
        metavar="KEY=VALUE",
        help="SeriesGAN keywords for every ganforge run, values as JSON or bare words (--set lr_g=2.5e-4 lr_d=1e-3)",
    )
    ap.add_argument(
        "--train",
        nargs="*",
        default=[],
        metavar="KEY=VALUE",
        help="engine training settings for every ganforge run (--train share_fake=true)",
    )
    args = ap.parse_args()
    overrides, train = parse_overrides(args.set), parse_overrides(args.train)
    results: dict[str, Any] = {
        "machine": machine(),
        "args": vars(args),
        "published_discriminative": PUBLISHED,
    }
    out = RESULTS / args.out
    for name in args.datasets.split(","):
        frame, time_col, id_col = builtin_frame(name)
        print(f"== {name}: {frame.shape}", flush=True)
        features = [c for c in frame.columns if c not in (time_col, id_col)]
        low, high = frame[features].min().to_numpy(float), frame[features].max().to_numpy(float)

        def scale(rows: pd.DataFrame, ids: str | None, features=features, low=low, high=high) -> np.ndarray:
            return plain_windows(rows, features, low, high, ids, WINDOW)

        windows = scale(frame, id_col)
        real = draw_windows(windows, args.windows, np.random.default_rng(args.seed))
        half = len(real) // 2
        row: dict[str, Any] = {"windows_total": len(windows), "windows_compared": len(real),
                               "real_predictive_mae": round(tm.predictive_score(real[:half], real[half:],
                                                            seed=args.seed, iterations=args.iterations)["mae"], 4)}  # fmt: skip
        for recipe, scaling in [(r, s) for r in args.recipes.split(",") for s in args.scalings.split(",")]:
            fake, info = run_ganforge(
                frame,
                time_col,
                id_col,
                args.minutes,
                len(real),
                args.seed,
                scale,
                recipe,
                scaling,
                overrides,
                train,
            )
            key = "ganforge" + (f"-{recipe}" if recipe != "direct" else "")
            key += f"-{scaling}" if scaling != "minmax" else ""
            row[key] = info | scores(real, fake[: len(real)], args.seed, args.iterations)
            print(f"  {key} {row[key]}", flush=True)
            results[name] = row  # saved after every model: a stopped run keeps what it measured
            out.write_text(json.dumps(results, indent=2, default=str) + "\n")
        if args.par_epochs > 0:
            try:
                sub = real[: max(args.par_windows, 2)]  # real is already in random order
                par_fake, par_info = run_par(sub, args.par_epochs, len(sub), args.seed)
                row["PAR"] = par_info | scores(sub, par_fake, args.seed, args.iterations)
            except ImportError as e:
                row["PAR"] = {"skipped": f"sdv not installed ({e})"}
            print(f"  PAR {row['PAR']}", flush=True)
        results[name] = row
        out.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(f"saved {out}")


if __name__ == "__main__":
    main()
