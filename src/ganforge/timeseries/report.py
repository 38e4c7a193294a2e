"""The time-series wing's part of ``ganforge report``: sample paths over real ones, real vs synthetic
windows in PCA and t-SNE, autocorrelation per feature, then any stored evaluation figures."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ganforge.errors import GanforgeError
from ganforge.reporting.html import figure, figures, note
from ganforge.reporting.report import Section, evaluation_sections

SHOWN = 500  # windows of each kind in the PCA / t-SNE maps
PATHS = 8  # sample paths drawn per feature


def summary_facts(config: dict[str, Any]) -> dict[str, Any]:
    """Series, windows, features and the networks."""
    data, recipe = config.get("data", {}), config.get("recipe", {})
    return {"series": data.get("series"), "windows": data.get("windows"), "features": data.get("features"),
            "recipe": f"{recipe.get('style', 'direct')}: GRU {recipe.get('layers')} x {recipe.get('hidden')} vs "
                      f"{'a GRU on latents' if recipe.get('style') == 'timegan' else 'conv1d'}, window {recipe.get('window')}"}  # fmt: skip


def _paths_figure(real: np.ndarray, fake: np.ndarray, names: list[str]) -> str:
    from matplotlib.figure import Figure

    from ganforge.reporting.plots import figure_uri

    k = min(len(names), 4)
    fig = Figure(figsize=(3.2 * k, 2.6), layout="constrained")
    for j in range(k):
        ax = fig.add_subplot(1, k, j + 1)
        for i in range(min(PATHS, len(real))):
            ax.plot(real[i, :, j], color="0.6", lw=0.8, label="real" if i == 0 else None)
        for i in range(min(PATHS, len(fake))):
            ax.plot(fake[i, :, j], color="tab:orange", lw=0.8, label="synthetic" if i == 0 else None)
        ax.set_title(names[j], fontsize=9)
        ax.set_ylim(-0.02, 1.02)
    fig.axes[0].legend(fontsize=7)
    return figure_uri(fig)


def _maps_figure(real: np.ndarray, fake: np.ndarray, seed: int = 0) -> str:
    from matplotlib.figure import Figure
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE

    from ganforge.reporting.plots import figure_uri

    # every window averaged over its features (as the TimeGAN paper plots them): (n, steps)
    both = np.concatenate([real.mean(axis=2), fake.mean(axis=2)])
    labels = np.r_[np.zeros(len(real)), np.ones(len(fake))]
    fig = Figure(figsize=(7, 3.2), layout="constrained")
    pca = PCA(2, random_state=seed).fit(both[labels == 0]).transform(both)
    perplexity = float(min(30, max(2, len(both) // 4)))
    tsne = TSNE(2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(both)
    for k, (title, xy) in enumerate((("PCA (fit on real)", pca), ("t-SNE", tsne))):
        ax = fig.add_subplot(1, 2, k + 1)
        ax.scatter(*xy[labels == 0].T, s=4, alpha=0.5, color="0.4", label="real")
        ax.scatter(*xy[labels == 1].T, s=4, alpha=0.5, color="tab:orange", label="synthetic")
        ax.set_title(title, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.axes[0].legend(fontsize=7, markerscale=3)
    return figure_uri(fig)


def _acf_figure(real: np.ndarray, fake: np.ndarray, names: list[str]) -> str:
    from matplotlib.figure import Figure

    from ganforge.reporting.plots import figure_uri
    from ganforge.timeseries.metrics import acf

    a_real, a_fake = acf(real), acf(fake)  # (lags, features)
    k = min(len(names), 4)
    fig = Figure(figsize=(3.2 * k, 2.4), layout="constrained")
    for j in range(k):
        ax = fig.add_subplot(1, k, j + 1)
        ax.plot(a_real[:, j], color="0.4", marker=".", label="real")
        ax.plot(a_fake[:, j], color="tab:orange", marker=".", label="synthetic")
        ax.axhline(0, color="0.8", lw=0.8)
        ax.set_title(f"{names[j]}: autocorrelation", fontsize=9)
        ax.set_xlabel("lag", fontsize=8)
    fig.axes[0].legend(fontsize=7)
    return figure_uri(fig)


def series_section(run_dir: Path, real: Path | None) -> str:
    """Figures of real vs synthetic windows (the run's model, its training data or ``real``)."""
    from ganforge.engine.model import load
    from ganforge.timeseries.evaluate import real_windows

    gan = load(run_dir)
    try:
        windows, source = real_windows(gan, real)
    except GanforgeError as e:
        return note(f"no real windows to compare with: {e}")
    rng = np.random.default_rng(0)
    reals = windows[rng.choice(len(windows), min(SHOWN, len(windows)), replace=False)]
    fake = gan.codec.minmax(gan.generate(len(reals), seed=0))
    codec = gan.codec
    k = len(codec.features) or codec.varying_channels  # the numeric features (else every varying channel)
    reals, fake = reals[..., :k], fake[..., :k]
    names = list(codec.features) or [f"channel {j}" for j in range(k)]
    return note(f"{len(reals):,} real windows of {source} against as many generated ones, min-max scaled.") + figures([
        figure(_paths_figure(reals, fake, names), "sample paths: synthetic over real (first features)"),
        figure(_maps_figure(reals, fake), "real and synthetic windows, mapped to 2-D"),
        figure(_acf_figure(reals, fake, names), "autocorrelation by lag, averaged over windows"),
    ])  # fmt: skip


def report_sections(run_dir: Path, config: dict[str, Any], real: Path | None) -> list[Section]:
    """The sequences section, then any stored evaluation figures (``ganforge evaluate RUN``)."""
    return [("sequences", "Sequences", series_section(run_dir, real))] + evaluation_sections(
        run_dir, config, optional=True
    )
