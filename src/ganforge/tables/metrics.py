"""Fidelity, utility and privacy metrics for synthetic tables, defined as SDMetrics defines them.

Column shapes, column pair trends and their mean reproduce SDMetrics' single-table ``QualityReport``
(KSComplement / TVComplement, CorrelationSimilarity / ContingencySimilarity), and :func:`detection`
reproduces ``LogisticDetection``, so scores compare with published CTGAN/SDV figures. Each function
takes ``kinds``, column name -> one of :data:`KINDS`; "id" and "constant" columns are skipped,
datetimes count as numbers (epoch seconds) and booleans as categories.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pandas as pd

from ganforge.tables.metric_columns import KINDS, ColumnSpec, column_specs, prepare_frames
from ganforge.tables.metric_utility import (
    c2st,
    check_target,
    class_rates,
    detection,
    identical_rows,
    missing_rates,
    ml_efficacy,
    out_of_bounds,
)

__all__ = [
    "KINDS",
    "c2st",
    "class_rates",
    "column_pair_trends",
    "column_shapes",
    "detection",
    "evaluate_table",
    "identical_rows",
    "missing_rates",
    "ml_efficacy",
    "out_of_bounds",
    "quality",
]

_KS_DECIMALS = 14  # KSComplement rounds to sys.float_info.dig - 1 decimals before the test
_TV_REGULARISER = 1e-6  # TVComplement's pseudo-count for categories only the synthetic data has
_N_BINS = 10  # the report bins continuous columns with np.histogram_bin_edges' default


def _nanmean(values: list[float]) -> float:
    finite = [v for v in values if not np.isnan(v)]
    return float(np.mean(finite)) if finite else float("nan")


# ---------------------------------------------------------------- column shapes


def _ks_complement(r: np.ndarray, s: np.ndarray) -> float:
    """SDMetrics KSComplement: 1 - two-sample KS statistic, NaNs dropped."""
    r = np.sort(np.round(r[~np.isnan(r)], _KS_DECIMALS))
    s = np.sort(np.round(s[~np.isnan(s)], _KS_DECIMALS))
    if len(r) == 0 or len(s) == 0:
        return float("nan")
    grid = np.concatenate([r, s])
    gap = np.searchsorted(r, grid, side="right") / len(r) - np.searchsorted(s, grid, side="right") / len(s)
    return float(1.0 - np.abs(gap).max())


def _tv_complement(col: ColumnSpec) -> float:
    """SDMetrics TVComplement: 1 - total variation distance of the category frequencies, NaNs dropped."""
    rc = np.bincount(col.real[col.real >= 0], minlength=col.n_categories).astype(np.float64)
    sc = np.bincount(col.synth[col.synth >= 0], minlength=col.n_categories).astype(np.float64)
    if rc.sum() == 0 or sc.sum() == 0:
        return float("nan")
    rc += _TV_REGULARISER * ((rc == 0) & (sc > 0))
    return float(1.0 - 0.5 * np.abs(sc / sc.sum() - rc / rc.sum()).sum())


def _shapes(cols: list[ColumnSpec]) -> dict:
    scores = {c.name: _ks_complement(c.real, c.synth) if c.continuous else _tv_complement(c) for c in cols}
    return {"score": _nanmean(list(scores.values())), "columns": scores}


def column_shapes(real: pd.DataFrame, synth: pd.DataFrame, kinds: dict[str, str]) -> dict:
    """SDMetrics' Column Shapes: KSComplement per numeric/datetime column, TVComplement per
    categorical/boolean column, and their mean (incomputable columns, e.g. all-NaN, are left out)."""
    return _shapes(prepare_frames(real, synth, kinds))


# ---------------------------------------------------------------- column pair trends


def _bin_codes(x: np.ndarray) -> np.ndarray | None:
    """The report's discretisation: 10 equal-width bins over this table's own range (real and
    synthetic are binned separately), np.digitize codes 1..11, where the maximum and NaN share 11."""
    try:
        edges = np.histogram_bin_edges(x[~np.isnan(x)], bins=_N_BINS)
    except ValueError:  # infinite values: SDMetrics marks these pairs as failed
        return None
    return np.digitize(x, edges)


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    keep = ~(np.isnan(x) | np.isnan(y))
    if keep.sum() < 2:
        return float("nan")
    x, y = x[keep] - x[keep].mean(), y[keep] - y[keep].mean()
    denom = np.sqrt((x @ x) * (y @ y))
    return float(x @ y / denom) if denom > 0 else float("nan")


def _correlation_pair(a: ColumnSpec, b: ColumnSpec, threshold: float) -> tuple[float, bool]:
    """SDMetrics CorrelationSimilarity (Pearson): 1 - |r_real - r_synth| / 2 on rows without NaN."""
    for x in (a.real, b.real, a.synth, b.synth):
        if len(np.unique(x[~np.isnan(x)])) == 1:  # SDMetrics refuses constant columns
            return float("nan"), False
    r_real, r_synth = _pearson(a.real, b.real), _pearson(a.synth, b.synth)
    score = 1.0 - abs(r_real - r_synth) / 2
    return score, bool(not np.isnan(score) and (threshold <= 0 or abs(r_real) > threshold))


def _cramers_v(a: np.ndarray, b: np.ndarray) -> float:
    """Cramér's V of the real pair, over the categories present (as the report's unstacked table)."""
    from scipy.stats.contingency import association

    (ua, ia), (ub, ib) = (np.unique(x, return_inverse=True) for x in (a, b))
    if min(len(ua), len(ub)) < 2:
        return float("nan")
    counts = np.bincount(ia * len(ub) + ib, minlength=len(ua) * len(ub)).reshape(len(ua), len(ub))
    return float(association(counts, method="cramer"))


def _contingency_pair(
    ra: np.ndarray, rb: np.ndarray, sa: np.ndarray, sb: np.ndarray, kb: int, threshold: float
) -> tuple[float, bool]:
    """SDMetrics ContingencySimilarity: 1 - TVD of the joint frequency tables (NaN is a category)."""
    if len(ra) == 0 or len(sa) == 0:
        return float("nan"), False
    # Only the cells that occur are counted, so two wide columns cost no more than two narrow ones.
    cells, index = np.unique(np.concatenate([ra * kb + rb, sa * kb + sb]), return_inverse=True)
    real = np.bincount(index[: len(ra)], minlength=len(cells)) / len(ra)
    synth = np.bincount(index[len(ra) :], minlength=len(cells)) / len(sa)
    score = float(1.0 - 0.5 * np.abs(real - synth).sum())
    if threshold <= 0:
        return score, True
    v = _cramers_v(ra, rb)
    return score, bool(not np.isnan(v) and v > threshold)


def _pair_codes(col: ColumnSpec) -> tuple[np.ndarray, np.ndarray, int] | None:
    if col.continuous:
        r, s = _bin_codes(col.real), _bin_codes(col.synth)
        return None if r is None or s is None else (r, s, _N_BINS + 2)
    k = col.n_categories  # missing values become one more category
    return np.where(col.real < 0, k, col.real), np.where(col.synth < 0, k, col.synth), k + 1


def _trends(cols: list[ColumnSpec], corr_threshold: float, assoc_threshold: float) -> dict:
    codes = {c.name: _pair_codes(c) for c in cols}
    pairs, counted = {}, []
    for a, b in itertools.combinations(cols, 2):
        if a.continuous and b.continuous:
            score, counts = _correlation_pair(a, b, corr_threshold)
        elif codes[a.name] is None or codes[b.name] is None:
            score, counts = float("nan"), False
        else:
            (ra, sa, _), (rb, sb, kb) = codes[a.name], codes[b.name]
            score, counts = _contingency_pair(ra, rb, sa, sb, kb, assoc_threshold)
        pairs[f"{a.name}|{b.name}"] = score
        if counts:
            counted.append(score)
    return {"score": _nanmean(counted), "pairs": pairs, "counted": len(counted)}


def column_pair_trends(
    real: pd.DataFrame,
    synth: pd.DataFrame,
    kinds: dict[str, str],
    *,
    real_correlation_threshold: float = 0.0,
    real_association_threshold: float = 0.0,
) -> dict:
    """SDMetrics' Column Pair Trends: CorrelationSimilarity for numeric pairs, ContingencySimilarity
    (numeric sides binned as the report bins them) for every pair with a categorical, and the mean.

    With the thresholds at 0 every pair counts, as in SDMetrics before 0.32 and in published figures;
    SDMetrics 0.32's report uses 0.5 and 0.3, counting only pairs whose real |Pearson r| or Cramér's V
    exceeds them. ``counted`` says how many pairs the mean covers. One deviation: SDMetrics subsamples
    50,000 rows for ContingencySimilarity on bigger tables (unseeded); all rows are used here.
    """
    return _trends(prepare_frames(real, synth, kinds), real_correlation_threshold, real_association_threshold)


def quality(
    real: pd.DataFrame,
    synth: pd.DataFrame,
    kinds: dict[str, str],
    *,
    real_correlation_threshold: float = 0.0,
    real_association_threshold: float = 0.0,
) -> dict:
    """SDMetrics' QualityReport overall score: the mean of column shapes and column pair trends."""
    cols = prepare_frames(real, synth, kinds)
    shapes = _shapes(cols)
    trends = _trends(cols, real_correlation_threshold, real_association_threshold)
    return {
        "score": _nanmean([shapes["score"], trends["score"]]),
        "column_shapes": shapes,
        "column_pair_trends": trends,
    }


# ---------------------------------------------------------------- everything at once


def _sample(df: pd.DataFrame, max_rows: int | None, seed: int) -> pd.DataFrame:
    return df if max_rows is None or len(df) <= max_rows else df.sample(n=max_rows, random_state=seed)


def _jsonable(x: Any) -> Any:
    """Plain Python numbers in nested dicts; NaN becomes None."""
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    if isinstance(x, (int, np.integer)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        return None if np.isnan(x) else float(x)
    return x


def evaluate_table(
    real: pd.DataFrame,
    synth: pd.DataFrame,
    kinds: dict[str, str],
    holdout: pd.DataFrame | None = None,
    target: str | None = None,
    max_rows: int | None = None,
    seed: int = 0,
) -> dict:
    """All the metrics above as one JSON-ready dict.

    ``max_rows`` bounds the rows (seeded sample of real and synthetic) that quality, detection and
    model training see; identical rows and out-of-bounds values are counted on the full tables.
    ML efficacy runs when ``target`` is given, tested on ``holdout`` or else on a seeded 30% of
    ``real`` (then TRTR trains on the other 70%; a generator fitted on all of ``real`` has seen the
    test rows, which flatters TSTR, so pass a true holdout where there is one).
    """
    column_specs(kinds, real, synth)
    if target is not None:
        check_target(target, kinds, real, synth, *([holdout] if holdout is not None else []))
    real_s, synth_s = _sample(real, max_rows, seed), _sample(synth, max_rows, seed + 1)
    out: dict[str, Any] = {
        "rows": {
            "real": len(real),
            "synth": len(synth),
            "evaluated_real": len(real_s),
            "evaluated_synth": len(synth_s),
        },
        "quality": quality(real_s, synth_s, kinds),
        "detection": detection(real_s, synth_s, kinds, seed=seed),
        "c2st": c2st(real_s, synth_s, kinds, seed=seed),
        "identical_rows": identical_rows(real, synth),
        "out_of_bounds": out_of_bounds(synth, real, kinds),
        "missing_rates": missing_rates(real, synth, kinds),
    }
    if target is not None and kinds[target] in ("categorical", "boolean"):
        out["target_rates"] = class_rates(real, synth, target)
    if target is not None:
        if holdout is None:
            order = np.random.default_rng(seed).permutation(len(real))
            test, train_real = (
                real.iloc[order[: int(0.3 * len(real))]],
                real.iloc[order[int(0.3 * len(real)) :]],
            )
        else:
            test, train_real = holdout, real
        out["ml_efficacy"] = ml_efficacy(
            synth_s, test, target, kinds, real=_sample(train_real, max_rows, seed), seed=seed
        )
    return _jsonable(out)
