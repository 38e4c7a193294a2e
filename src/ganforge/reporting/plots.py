"""Figures of the run report, rendered with matplotlib (Agg, no pyplot state) to inline PNG data URIs."""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from PIL import Image

from ganforge.reporting.run_log import GROUPS, Point, metric_group, split_history

DPI = 90
EVENT_COLOUR = "#c0392b"
REAL, SYNTH = "#7f8c8d", "#2f6fdf"
SCALE_RATIO = 30.0  # series whose typical sizes differ more than this get separate panels


def png_uri(data: bytes) -> str:
    """PNG bytes as a data URI."""
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def figure_uri(fig: Figure) -> str:
    """Render a matplotlib figure to a PNG data URI."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)  # every figure uses the constrained layout: no "tight" pass
    return png_uri(buf.getvalue())


def image_file_uri(path: Path, max_side: int = 512) -> tuple[str, tuple[int, int]]:
    """A PNG/JPEG file as a PNG data URI, downscaled to ``max_side`` pixels; also its embedded size."""
    with Image.open(path) as im:
        im = im.convert("RGBA" if im.mode in ("RGBA", "LA", "P") else "RGB" if im.mode != "L" else "L")
        if max(im.size) > max_side:
            im.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
        buf = io.BytesIO()
        im.save(buf, format="PNG")
        return png_uri(buf.getvalue()), im.size


# ---------------------------------------------------------------- training curves


def _magnitude(points: list[Point]) -> float:
    return float(np.median(np.abs([v for _, v in points]))) or 1e-12


def curve_panels(series: dict[str, list[Point]]) -> list[tuple[str, list[str]]]:
    """Keys grouped into panels: one group per panel, split where the keys' scales differ a lot."""
    by_group: dict[str, list[str]] = {}
    for key in series:
        by_group.setdefault(metric_group(key), []).append(key)
    panels: list[tuple[str, list[str]]] = []
    for group in sorted(by_group, key=GROUPS.index):
        keys = sorted(by_group[group], key=lambda k: _magnitude(series[k]))
        cluster = [keys[0]]
        for key in keys[1:]:
            if _magnitude(series[key]) > SCALE_RATIO * _magnitude(series[cluster[0]]):
                panels.append((group, cluster))
                cluster = []
            cluster.append(key)
        panels.append((group, cluster))
    return panels


def _mark_events(ax: Any, events: list[dict[str, Any]], label: bool) -> None:
    for event in events:
        ax.axvline(event["step"], color=EVENT_COLOUR, linestyle="--", linewidth=1, alpha=0.8)
        if label:
            ax.annotate(str(event["event"]), (event["step"], 1.0), xycoords=("data", "axes fraction"),
                        rotation=90, va="top", ha="right", fontsize=7, color=EVENT_COLOUR)  # fmt: skip


def curves_figure(series: dict[str, list[Point]], events: list[dict[str, Any]]) -> str:
    """Every series over training steps, one panel per group; health events as labelled dashed lines and
    stretches abandoned by a rollback dotted and faint."""
    panels = curve_panels(series)
    cols = 2 if len(panels) > 1 else 1
    rows = -(-len(panels) // cols)
    fig = Figure(figsize=(11, 2.7 * rows), layout="constrained")
    for i, (group, keys) in enumerate(panels):
        ax = fig.add_subplot(rows, cols, i + 1)
        for key in keys:
            kept, abandoned = split_history(series[key])
            (line,) = ax.plot(*zip(*kept, strict=True), label=key, linewidth=1.3)
            for stretch in abandoned:
                ax.plot(*zip(*stretch, strict=True), color=line.get_color(), linestyle=":", alpha=0.45)
        values = [v for k in keys for _, v in series[k]]
        if min(values) > 0 and max(values) / min(values) > 100:
            ax.set_yscale("log")
        _mark_events(ax, events, label=i < cols)
        ax.set_title(group if len(keys) > 1 else f"{group}: {keys[0]}", fontsize=10, loc="left")
        ax.set_xlabel("step", fontsize=8)
        ax.tick_params(labelsize=8)
        ax.grid(alpha=0.3)
        if len(keys) > 1:
            ax.legend(fontsize=7, loc="best")
    return figure_uri(fig)


# ---------------------------------------------------------------- table columns


def column_floats(col: pd.Series, kind: str) -> np.ndarray:
    """A numeric or datetime column as floats, NaN where missing (datetimes in days since 1970,
    matplotlib's date unit)."""
    if kind == "datetime":
        stamps = pd.to_datetime(col, errors="coerce")
        if getattr(stamps.dt, "tz", None) is not None:
            stamps = stamps.dt.tz_localize(None)
        days = (stamps - pd.Timestamp("1970-01-01")) / pd.Timedelta(days=1)
        return days.to_numpy(dtype=float, na_value=np.nan)
    return pd.to_numeric(col, errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def _histogram(ax: Any, real: np.ndarray, synth: np.ndarray, kind: str) -> None:
    real, synth = real[np.isfinite(real)], synth[np.isfinite(synth)]
    if len(real) + len(synth) == 0:
        ax.text(0.5, 0.5, "no values", ha="center", va="center", transform=ax.transAxes, fontsize=9)
        return
    # The central 99 % of each side: one extreme value would otherwise squash every bar into one.
    lo = min(np.percentile(x, 0.5) for x in (real, synth) if len(x))
    hi = max(np.percentile(x, 99.5) for x in (real, synth) if len(x))
    bins = np.linspace(lo, hi if hi > lo else lo + 1, 31)
    ax.hist(real, bins=bins, density=True, color=REAL, alpha=0.45, label="real")
    ax.hist(synth, bins=bins, density=True, color=SYNTH, histtype="step", linewidth=1.6, label="synthetic")
    if kind == "datetime":
        ax.xaxis_date()
        for label in ax.get_xticklabels():
            label.set_rotation(30)
    ax.set_yticks([])


def _categories(col: pd.Series) -> pd.Series:
    return col.astype(object).where(col.notna(), "(missing)").astype(str)


def _bars(ax: Any, real: pd.Series, synth: pd.Series, top: int = 10) -> None:
    r = _categories(real).value_counts(normalize=True)
    s = _categories(synth).value_counts(normalize=True)
    names = list(r.index[:top]) + [c for c in s.index if c not in r.index][: max(0, top - len(r))]
    rv, sv = [float(r.get(c, 0.0)) for c in names], [float(s.get(c, 0.0)) for c in names]
    if len(r.index.union(s.index)) > len(names):
        names.append("(other)")
        rv.append(max(0.0, 1 - sum(rv)))
        sv.append(max(0.0, 1 - sum(sv)))
    x = np.arange(len(names))
    ax.bar(x - 0.2, rv, width=0.4, color=REAL, label="real")
    ax.bar(x + 0.2, sv, width=0.4, color=SYNTH, label="synthetic")
    ax.set_xticks(x, [n if len(n) <= 14 else n[:13] + "…" for n in names], rotation=40, ha="right")
    ax.set_ylabel("share", fontsize=8)


def column_figure(name: str, kind: str, real: pd.Series, synth: pd.Series) -> str:
    """Real vs synthetic distribution of one column: a histogram for numbers and dates, bars otherwise."""
    fig = Figure(figsize=(4.2, 2.8), layout="constrained")
    ax = fig.add_subplot()
    if kind in ("numeric", "datetime"):
        _histogram(ax, column_floats(real, kind), column_floats(synth, kind), kind)
    else:
        _bars(ax, real, synth)
    ax.set_title(f"{name} ({kind})", fontsize=10, loc="left")
    ax.tick_params(labelsize=7)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7)
    return figure_uri(fig)


def association_figure(real: np.ndarray, synth: np.ndarray, names: list[str]) -> str:
    """Real and synthetic association matrices side by side, and their absolute difference."""
    size = max(3.2, 0.28 * len(names) + 1.6)
    fig = Figure(figsize=(3 * size, size), layout="constrained")
    short = [n if len(n) <= 14 else n[:13] + "…" for n in names]
    panels = (("real", real, "RdBu_r", -1.0), ("synthetic", synth, "RdBu_r", -1.0),
              ("|real − synthetic|", np.abs(real - synth), "Reds", 0.0))  # fmt: skip
    for i, (title, matrix, cmap, vmin) in enumerate(panels):
        ax = fig.add_subplot(1, 3, i + 1)
        im = ax.imshow(np.nan_to_num(matrix), cmap=cmap, vmin=vmin, vmax=1.0)
        ax.set_title(title, fontsize=10)
        ax.set_xticks(range(len(names)), short, rotation=90, fontsize=7)
        ax.set_yticks(range(len(names)), short if i == 0 else [], fontsize=7)
        fig.colorbar(im, ax=ax, shrink=0.7)
    return figure_uri(fig)


# ---------------------------------------------------------------- privacy


def dcr_figure(histogram: dict[str, list]) -> str:
    """Distances of synthetic rows to their closest training vs held-out row (two overlaid histograms)."""
    edges = np.asarray(histogram["edges"], dtype=float)
    fig = Figure(figsize=(4.6, 3.0), layout="constrained")
    ax = fig.add_subplot()
    centres, width = (edges[:-1] + edges[1:]) / 2, np.diff(edges)
    ax.bar(centres, histogram["holdout"], width=width, color=REAL, alpha=0.5, label="to closest held-out row")
    ax.step(
        centres, histogram["train"], where="mid", color=SYNTH, linewidth=1.6, label="to closest training row"
    )
    ax.set_xlabel("distance (robust-scaled)", fontsize=8)
    ax.set_ylabel("synthetic rows", fontsize=8)
    ax.set_title("Distance to closest record", fontsize=10, loc="left")
    ax.tick_params(labelsize=7)
    ax.legend(fontsize=7)
    return figure_uri(fig)


def roc_figure(roc: dict[str, list], auc: float) -> str:
    """ROC curve of the membership-inference attack, with the diagonal of a blind guess."""
    fig = Figure(figsize=(3.2, 3.0), layout="constrained")
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1], color=REAL, linestyle="--", linewidth=1, label="no leakage (0.5)")
    ax.plot(roc["fpr"], roc["tpr"], color=EVENT_COLOUR, linewidth=1.6, label=f"attack (AUC {auc:.3f})")
    ax.set_xlabel("false positive rate", fontsize=8)
    ax.set_ylabel("true positive rate", fontsize=8)
    ax.set_title("Membership inference", fontsize=10, loc="left")
    ax.tick_params(labelsize=7)
    ax.legend(fontsize=7, loc="lower right")
    return figure_uri(fig)
