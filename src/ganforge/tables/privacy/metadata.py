"""Table metadata and codec for a DP run: nothing in them may come from the rows without noise.

The ordinary codec learns exact minima and maxima, the list and frequency of every category, point
masses and Gaussian mixtures from the data; all of these can reveal a single person (a unique maximum,
a category held by one row). Here each fact is either *supplied* by the user (``--metadata``: ``min`` and
``max`` for numbers and dates, ``categories`` for categories — treated as public) or released with a DP
mechanism that spends a share of the budget, split evenly over the columns that need one:

- numbers and dates: a Laplace histogram over a fixed, data-independent grid of bins (zero, and
  ±2^(k/4) for k in a wide range); the bounds are the outer edges of the lowest and highest bins whose
  noisy count clears a threshold. The same histogram's noisy zero and missing counts decide (by
  post-processing) whether zero is its own exact mode and whether the column has a missing slot.
- categories: noisy counts of the categories present, kept when above ``1 + ln(1 / 2δ) / ε`` (the
  stability-based histogram), so a category held by one person is released with probability at most δ.
  Rows whose category is not released are encoded as missing.

Column names, kinds and dtypes are treated as public schema. Each row adds one to exactly one bin of
each column's histogram, so a column's release is (ε_col, δ_col)-DP and the columns compose by addition.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from ganforge.tables.codec import ALPHA_SCALE, ColumnCodec, TableCodec
from ganforge.tables.columns import column_to_float
from ganforge.tables.data import ColumnMeta, TableMetadata

_K = np.arange(-40, 161)  # bin edges 2^(k/4): from ~1e-3 to ~1.1e12 (dates in seconds fit)
_EDGES = 2.0 ** (_K / 4.0)
DISCRETE_MAX = 30  # an integer column with at most this many values in its bounds gets exact points


def _needs_release(m: ColumnMeta, given: dict[str, Any]) -> bool:
    if m.kind in ("numeric", "datetime"):
        return not ("min" in given and "max" in given)
    if m.kind in ("categorical", "constant"):
        return "categories" not in given
    if m.kind == "boolean":
        return False  # the categories of a boolean are known without looking at the data
    return m.kind == "id" and m.integer and "value" not in given


def _bins(v: np.ndarray) -> np.ndarray:
    """Bin index on the public grid: 0 = exactly zero, ±(i+1) = magnitude in [2^(k_i/4), 2^(k_{i+1}/4))."""
    mag = np.clip(np.searchsorted(_EDGES, np.abs(v), side="right"), 1, len(_EDGES) - 1)
    out = np.sign(v).astype(np.int64) * mag
    return np.where(np.abs(v) < _EDGES[0], 0, out)


def _bin_edges(b: int) -> tuple[float, float]:
    if b == 0:
        return 0.0, 0.0
    lo, hi = _EDGES[abs(b) - 1], _EDGES[abs(b)]
    return (lo, hi) if b > 0 else (-hi, -lo)


def private_bounds(v: np.ndarray, eps: float, rng: np.random.Generator) -> dict[str, Any]:
    """DP (min, max, zero share, missing share) of a float column (NaN = missing), pure ``eps``-DP."""
    nan = np.isnan(v)
    values = _bins(v[~nan])
    domain = np.arange(-(len(_EDGES) - 1), len(_EDGES))  # every bin, data-independent
    counts = np.zeros(len(domain))
    np.add.at(counts, values + len(_EDGES) - 1, 1)
    noisy = counts + rng.laplace(0, 1 / eps, len(domain))
    noisy_nan = max(0.0, nan.sum() + rng.laplace(0, 1 / eps))
    threshold = math.log(len(domain) / 0.05) / eps  # an empty bin clears it with probability 2.5 %/bins
    hit = domain[noisy > threshold]
    total = max(np.clip(noisy, 0, None).sum() + noisy_nan, 1.0)
    if len(hit) == 0:  # nothing clears the threshold: the widest bin with the largest noisy count
        hit = domain[[int(np.argmax(noisy))]]
    lo, hi = _bin_edges(int(hit.min()))[0], _bin_edges(int(hit.max()))[1]
    zero_share = max(0.0, noisy[len(_EDGES) - 1]) / total
    missing = noisy_nan / total if noisy_nan > threshold else 0.0  # noise alone must not add a missing slot
    return {"min": float(lo), "max": float(hi), "zero_share": float(zero_share),
            "missing_share": float(missing)}  # fmt: skip


def private_categories(s: pd.Series, eps: float, delta: float, rng: np.random.Generator) -> dict[str, Any]:
    """DP categories (noisy count above the stability threshold), their noisy shares and missing share."""
    counts = s.value_counts(dropna=True)
    noisy = counts.to_numpy(dtype=float) + rng.laplace(0, 1 / eps, len(counts))
    threshold = 1 + math.log(1 / (2 * delta)) / eps
    keep = noisy > threshold
    order = np.argsort(-noisy[keep], kind="stable")
    cats = [_scalar(c) for c in counts.index[keep][order]]
    kept = noisy[keep][order]
    noisy_nan = max(0.0, s.isna().sum() + rng.laplace(0, 1 / eps))
    total = max(kept.sum() + noisy_nan, 1.0)
    missing = noisy_nan / total if noisy_nan > threshold else 0.0
    return {"categories": cats, "frequencies": (kept / total).tolist(), "missing_share": float(missing),
            "dropped": bool(len(cats) < len(counts))}  # fmt: skip


def _scalar(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v


def private_codec(
    df: pd.DataFrame, meta: TableMetadata, overrides: dict | None, epsilon: float, delta: float, seed: int
) -> tuple[TableCodec, dict[str, Any]]:
    """A codec whose every data-derived fact is supplied or DP; returns it and a report for the card.

    ``meta`` is the inferred metadata (only its schema is used); ``overrides`` are the user's per-column
    fields; ``epsilon``/``delta`` the metadata share of the budget.
    """
    given = (overrides or {}).get("columns", overrides or {})
    names = [m.name for m in meta.columns if _needs_release(m, given.get(m.name, {}))]
    eps_col = epsilon / max(len(names), 1)
    delta_col = delta / max(len(names), 1)
    rng = np.random.default_rng([seed, 20_26])
    columns, codecs, how = [], [], {}
    for m in meta.columns:
        g = given.get(m.name, {})
        m = ColumnMeta(**{**m.__dict__, "frequencies": None, "nan_rate": float(g.get("nan_rate", 0.0))})
        release = m.name in names
        how[m.name] = "DP" if release else ("supplied" if m.kind != "boolean" else "public (boolean)")
        if m.kind == "id":  # fresh ids start above a DP bound (numbers) or carry no learned prefix (text)
            if release:
                v = column_to_float(df[m.name], ColumnMeta(m.name, "numeric", m.dtype))
                m.value = {"max": math.ceil(private_bounds(v, eps_col, rng)["max"])}
            else:
                m.value = g.get("value", {"prefix": "", "width": 8})
            m.min = m.max = None
            columns.append(m)
        elif m.kind in ("numeric", "datetime"):
            facts = private_bounds(column_to_float(df[m.name], m), eps_col, rng) if release else {}
            lo, hi = (facts["min"], facts["max"]) if release else (g["min"], g["max"])
            if m.integer:
                lo, hi = math.floor(lo), math.ceil(hi)
            m.min, m.max = float(lo), float(hi)
            if release:
                m.nan_rate = facts["missing_share"]
            columns.append(m)
            codecs.append(_numeric_codec(m, facts.get("zero_share", 0.0)))
        else:
            if m.kind == "constant":
                m.kind = "categorical"
            if m.kind == "boolean":  # inferred order is by frequency: use a data-independent one
                m.categories = sorted(m.categories or [], key=str)
            if release:
                facts = private_categories(df[m.name], eps_col, delta_col, rng)
                m.categories, m.frequencies = facts["categories"], facts["frequencies"]
                m.nan_rate = max(facts["missing_share"], 1e-3 if facts["dropped"] else 0.0)
                if not m.categories:
                    m.kind, m.value = "constant", None  # nothing released: the column stays empty
                    columns.append(m)
                    continue
            columns.append(m)
            k = len(m.categories or [])
            # Always a missing slot: it takes missing values and categories outside the list, and whether
            # a column has any of those is itself a fact about the rows.
            codecs.append(ColumnCodec(m.name, m.kind, kept=list(range(k)), missing=True))
    report = {"epsilon": round(epsilon, 6) if names else 0.0, "delta": delta if names else 0.0,
              "released_columns": len(names), "epsilon_per_column": round(eps_col, 6) if names else 0.0,
              "columns": how}  # fmt: skip
    return TableCodec(TableMetadata(columns, meta.n_rows), codecs), report


def _numeric_codec(m: ColumnMeta, zero_share: float) -> ColumnCodec:
    """Min-max scaling within the bounds, with exact points for a short integer range and for zero when
    the noisy histogram says it is a large share (post-processing of the DP release)."""
    col = ColumnCodec(m.name, m.kind, missing=bool(m.nan_rate > 0))
    lo, hi = float(m.min), float(m.max)
    if m.integer and hi - lo + 1 <= DISCRETE_MAX:
        col.points = [float(x) for x in np.arange(lo, hi + 1)]
        return col
    if zero_share >= 0.05 and lo <= 0 <= hi:
        col.points = [0.0]
    col.means, col.stds = [(lo + hi) / 2], [max((hi - lo) / (2 * ALPHA_SCALE), 1e-9)]
    return col
