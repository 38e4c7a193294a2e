"""Rows <-> vectors for a tabular GAN: mode-specific normalisation, point masses, one-hot categories.

Every learned column becomes one or two *spans* of the encoded vector:

- numeric and datetime columns: a ``tanh`` span of width 1 (the value within its mode, ``alpha``) and a
  ``softmax`` span choosing the mode. Modes are (a) *point masses*, decoded exactly: single values that
  carry a large share of the column (``capital-gain == 0`` in UCI Adult is 92 % of rows), every value
  when the column has only a few distinct ones, and the minimum and maximum when they repeat; (b)
  components of a 1-D Gaussian mixture fitted to the remaining values, all columns at once, by
  vectorised EM with BIC choosing the size; (c) a *missing* mode when the column has NaNs.
- categorical and boolean columns: one ``softmax`` span over the categories (plus *missing* when needed).
  Very rare categories of a high-cardinality column share one *other* slot, decoded by drawing from their
  observed distribution.

ID-like and constant columns are not learned: they are re-created on decode.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ganforge.errors import ConfigError
from ganforge.tables.columns import (
    categories_to_column,
    column_to_float,
    float_to_column,
    generate_ids,
    restore_dtypes,
)
from ganforge.tables.data import ColumnMeta, TableMetadata

ALPHA_SCALE = 4.0  # alpha = (x - mu) / (4 sigma), as in mode-specific normalisation


@dataclass
class Span:
    """One slice of the encoded vector: ``activation`` is "tanh" (alpha) or "softmax" (a choice)."""

    column: str
    start: int
    size: int
    activation: str
    role: str  # "alpha" | "mode" | "category"


@dataclass
class ColumnCodec:
    """How one column is encoded; JSON-ready."""

    name: str
    kind: str
    # numeric / datetime
    points: list[float] = field(default_factory=list)  # exact values decoded as themselves
    means: list[float] = field(default_factory=list)  # Gaussian mixture components
    stds: list[float] = field(default_factory=list)
    step: float | None = None  # every value in the data is a multiple of this (0.01 for cents, 3600 s …)
    # categorical / boolean: indices into ColumnMeta.categories kept as their own slot
    kept: list[int] = field(default_factory=list)
    other: list[int] = field(default_factory=list)  # rare categories sharing the "other" slot
    other_p: list[float] = field(default_factory=list)  # their relative frequencies
    missing: bool = False  # a slot for NaN

    @property
    def numeric(self) -> bool:
        return self.kind in ("numeric", "datetime")

    @property
    def n_choices(self) -> int:
        if self.numeric:
            return len(self.points) + len(self.means) + int(self.missing)
        return len(self.kept) + int(bool(self.other)) + int(self.missing)


def _em(x: np.ndarray, valid: np.ndarray, columns: list[np.ndarray], k: int, iters: int):
    """EM for k-component 1-D mixtures on padded (C, N) values; returns means, stds, weights, loglik."""
    qs = np.linspace(0.5 / k, 1 - 0.5 / k, k)
    mu = np.stack([np.quantile(c, qs) if len(c) else np.zeros(k) for c in columns])  # (C, K)
    spread = np.array([max(np.std(c), 1e-6) if len(c) else 1.0 for c in columns])
    floor = (spread * 1e-3)[:, None]
    sd = np.repeat(spread[:, None] / k, k, axis=1)
    w = np.full_like(mu, 1.0 / k)
    xv = x[:, :, None]  # (C, N, 1)
    loglik = np.zeros(len(columns))
    for it in range(iters + 1):
        logp = (
            -0.5 * ((xv - mu[:, None, :]) / sd[:, None, :]) ** 2
            - np.log(sd[:, None, :])
            + np.log(w[:, None, :])
        )
        top = logp.max(axis=2, keepdims=True)
        r = np.exp(logp - top)
        total = r.sum(axis=2, keepdims=True)
        if it == iters:  # log-likelihood of the final parameters
            ll = (np.log(total) + top)[:, :, 0] - 0.5 * np.log(2 * np.pi)
            loglik = (ll * valid).sum(axis=1)
            break
        r = r / total * valid[:, :, None]
        nk = r.sum(axis=1) + 1e-12  # (C, K)
        mu = (r * xv).sum(axis=1) / nk
        sd = np.maximum(np.sqrt((r * (xv - mu[:, None, :]) ** 2).sum(axis=1) / nk), floor)
        w = nk / np.maximum(valid.sum(axis=1, keepdims=True), 1)
    return mu, sd, w, loglik


def fit_gmm(
    columns: list[np.ndarray], max_modes: int, iters: int = 50, min_weight: float = 0.005
) -> list[tuple[np.ndarray, np.ndarray]]:
    """1-D Gaussian mixtures for several columns at once by EM on a padded (columns, values) array.

    The number of components is chosen per column by BIC among a few candidates up to ``max_modes``
    (a unimodal column gets one mode, which keeps relations between columns easy to learn). Returns
    (means, stds) per column, sorted by mean, components with weight below ``min_weight`` dropped.
    """
    if not columns:
        return []
    n = max(len(c) for c in columns)
    x = np.zeros((len(columns), n))
    valid = np.zeros((len(columns), n), dtype=bool)
    for i, c in enumerate(columns):
        x[i, : len(c)], valid[i, : len(c)] = c, True
    counts = np.maximum(valid.sum(axis=1), 1)
    best: list[tuple[float, np.ndarray, np.ndarray, np.ndarray]] = [(np.inf, None, None, None)] * len(columns)  # type: ignore[list-item]
    for k in sorted({1, 2, 3, 5, 7, max_modes} & set(range(1, max_modes + 1))):
        mu, sd, w, loglik = _em(x, valid, columns, k, iters)
        bic = -2 * loglik + (3 * k - 1) * np.log(counts)
        for i in range(len(columns)):
            if bic[i] < best[i][0]:
                best[i] = (bic[i], mu[i], sd[i], w[i])
    out = []
    for _, mu, sd, w in best:
        keep = w >= min_weight
        if not keep.any():
            keep = w == w.max()
        order = np.argsort(mu[keep])
        out.append((mu[keep][order], sd[keep][order]))
    return out


class TableCodec:
    """``TableCodec.fit(df, meta)``; ``encode(df)`` -> float32 array; ``decode(array, rng)`` -> DataFrame."""

    def __init__(self, meta: TableMetadata, columns: list[ColumnCodec]) -> None:
        self.meta = meta
        self.columns = columns
        self.spans: list[Span] = []
        pos = 0
        for col in columns:
            if col.numeric:
                self.spans.append(Span(col.name, pos, 1, "tanh", "alpha"))
                pos += 1
                self.spans.append(Span(col.name, pos, col.n_choices, "softmax", "mode"))
            else:
                self.spans.append(Span(col.name, pos, col.n_choices, "softmax", "category"))
            pos += col.n_choices
        self.dim = pos
        self._by_name = {c.name: c for c in columns}

    # ------------------------------------------------------------------ fitting
    @classmethod
    def fit(
        cls,
        df: pd.DataFrame,
        meta: TableMetadata,
        max_modes: int = 10,
        max_points: int = 12,
        point_share: float = 0.02,
        discrete_max: int = 30,
        max_categories: int = 100,
        min_category_share: float = 1e-3,
        fit_rows: int = 20_000,
        seed: int = 0,
    ) -> TableCodec:
        """Learn the encoding from ``df``; only ``fit_rows`` sampled rows feed the mixture fits."""
        rng = np.random.default_rng(seed)
        codecs: list[ColumnCodec] = []
        gmm_inputs: list[np.ndarray] = []
        gmm_owner: list[ColumnCodec] = []
        for m in meta.columns:
            if m.kind in ("id", "constant"):
                continue
            col = ColumnCodec(m.name, m.kind, missing=m.nan_rate > 0)
            if col.numeric:
                v = column_to_float(df[m.name], m)
                v = v[~np.isnan(v)]
                if m.kind == "datetime":
                    col.step = _time_step(v)
                elif not m.integer:
                    d = _decimals(v)
                    col.step = None if d is None else 10.0**-d
                values, counts = np.unique(v, return_counts=True)
                if len(values) <= discrete_max:
                    col.points = values.tolist()
                else:
                    share = counts / len(v)
                    big = np.argsort(-share)[:max_points]
                    big = big[(share[big] >= point_share) & (counts[big] >= 2)]  # once is no point mass
                    # The extremes, when repeated (top-coded values such as 99999 or 99 hours), are
                    # their own modes too: the range of the data is then reproduced exactly.
                    ends = [i for i in (0, len(values) - 1) if counts[i] >= max(2, 5e-4 * len(v))]
                    big = np.union1d(big, ends).astype(np.int64)
                    col.points = np.sort(values[big]).tolist()
                    rest = v[~np.isin(v, values[big])]
                    if len(rest) > fit_rows:
                        rest = rng.choice(rest, fit_rows, replace=False)
                    gmm_inputs.append(rest)
                    gmm_owner.append(col)
            else:
                freq = np.asarray(m.frequencies or [], dtype=float)
                order = np.argsort(-freq, kind="stable")
                kept = [int(i) for i in order[:max_categories] if freq[i] >= min_category_share]
                if not kept:
                    kept = [int(order[0])]
                other = [int(i) for i in order if int(i) not in set(kept)]
                col.kept, col.other = kept, other
                if other:
                    p = freq[other]
                    col.other_p = (p / p.sum()).tolist()
            codecs.append(col)
        for col, (mu, sd) in zip(gmm_owner, fit_gmm(gmm_inputs, max_modes), strict=True):
            col.means, col.stds = mu.tolist(), sd.tolist()
        if not codecs:
            raise ConfigError("the table has no column to learn (only IDs and constants)")
        return cls(meta, codecs)

    # ------------------------------------------------------------------ encode
    def encode(self, df: pd.DataFrame, seed: int = 0) -> np.ndarray:
        """Rows -> float32 (n, dim). A value inside a mixture is assigned a mode drawn from its posterior."""
        rng = np.random.default_rng(seed)
        n = len(df)
        out = np.zeros((n, self.dim), dtype=np.float32)
        for span, col in self._iter_spans():
            m = self.meta[col.name]
            if col.numeric:
                span_a, span_m = self._numeric_spans(col.name)
                choice, alpha = self._numeric_modes(col, column_to_float(df[col.name], m), rng)
                out[np.arange(n), span_m.start + choice] = 1.0
                out[:, span_a.start] = alpha
            else:
                out[np.arange(n), span.start + self.category_slots(col, df[col.name], m)] = 1.0
        return out

    def _iter_spans(self) -> list[tuple[Span, ColumnCodec]]:
        seen, pairs = set(), []
        for s in self.spans:
            if s.column not in seen:
                seen.add(s.column)
                pairs.append((s, self._by_name[s.column]))
        return pairs

    def _numeric_spans(self, name: str) -> tuple[Span, Span]:
        a, m = (s for s in self.spans if s.column == name)
        return a, m

    def _numeric_modes(
        self, col: ColumnCodec, v: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        n = len(v)
        choice = np.zeros(n, dtype=np.int64)
        alpha = np.zeros(n, dtype=np.float32)
        nan = np.isnan(v)
        n_points, n_gauss = len(col.points), len(col.means)
        if col.missing:
            choice[nan] = n_points + n_gauss
        points = np.asarray(col.points)
        is_point = np.zeros(n, dtype=bool)
        if n_points:
            idx = np.clip(np.searchsorted(points, v), 0, n_points - 1)
            is_point = ~nan & (points[idx] == v)
            choice[is_point] = idx[is_point]
        rest = ~nan & ~is_point
        if rest.any():
            if n_gauss == 0:  # a value unseen at fit time on a purely discrete column: nearest point
                idx = np.abs(v[rest, None] - points[None, :]).argmin(axis=1)
                choice[rest] = idx
            else:
                mu, sd = np.asarray(col.means), np.asarray(col.stds)
                x = v[rest, None]
                logp = -0.5 * ((x - mu) / sd) ** 2 - np.log(sd)
                p = np.exp(logp - logp.max(axis=1, keepdims=True))
                p /= p.sum(axis=1, keepdims=True)
                k = (p.cumsum(axis=1) < rng.random((len(x), 1))).sum(axis=1).clip(0, n_gauss - 1)
                choice[rest] = n_points + k
                alpha[rest] = np.clip((v[rest] - mu[k]) / (ALPHA_SCALE * sd[k]), -0.99, 0.99)
        return choice, alpha

    def category_slots(self, col: ColumnCodec, series: pd.Series, m: ColumnMeta) -> np.ndarray:
        """Slot index per value: kept categories, then "other", then "missing"."""
        cats = m.categories or []
        codes = pd.Categorical(series, categories=cats).codes.astype(np.int64)
        if (codes < 0).any():  # dtypes may differ from the stored categories (e.g. "1" vs 1): match as text
            text = pd.Categorical(series.astype(str), categories=[str(c) for c in cats]).codes
            codes = np.where(codes < 0, text, codes)
        codes = np.where(series.isna().to_numpy(), -2, codes)
        slot_of = np.full(len(cats), len(col.kept), dtype=np.int64)  # rare -> "other"
        slot_of[col.kept] = np.arange(len(col.kept))
        slots = np.where(codes >= 0, slot_of[np.maximum(codes, 0)], len(col.kept))
        if col.missing:
            slots = np.where(codes == -2, col.n_choices - 1, slots)
        return slots

    # ------------------------------------------------------------------ decode
    def choice_slots(self, x: np.ndarray) -> dict[int, np.ndarray]:
        """The chosen slot (argmax) of every choice span of the encoded rows ``x``, by span start."""
        return {
            s.start: x[:, s.start : s.start + s.size].argmax(axis=1)
            for s in self.spans
            if s.activation == "softmax"
        }

    def decode(
        self,
        x: np.ndarray,
        rng: np.random.Generator,
        id_start: int = 0,
        slots: dict[int, np.ndarray] | None = None,
    ) -> pd.DataFrame:
        """Float array (n, dim) -> DataFrame in the original column order and dtypes; ``slots``: the rows'
        ``choice_slots`` when the caller has them already."""
        n = x.shape[0]
        slots = slots if slots is not None else self.choice_slots(x)
        cols = {col.name: self._decode_column(span, col, x, rng, slots) for span, col in self._iter_spans()}
        for m in self.meta.columns:
            if m.kind == "id":
                cols[m.name] = generate_ids(m, n, start=id_start)
            elif m.kind == "constant":
                cols[m.name] = _constant(m, n, rng)
        df = pd.DataFrame({m.name: cols[m.name].reset_index(drop=True) for m in self.meta.columns})
        return restore_dtypes(df, self.meta)

    def numeric_values(
        self, x: np.ndarray, name: str, slots: dict[int, np.ndarray] | None = None
    ) -> np.ndarray:
        """A numeric or datetime column's values (datetimes as epoch seconds, NaN for missing) from the
        encoded rows ``x`` (``slots``: their ``choice_slots``, if known), before clipping to the data's
        range and casting to its dtype."""
        col = self._by_name[name]
        span_a, span_m = self._numeric_spans(name)
        slots = slots if slots is not None else self.choice_slots(x)
        choice = slots[span_m.start]
        alpha = np.clip(x[:, span_a.start].astype(np.float64), -1, 1)
        n_points, n_gauss = len(col.points), len(col.means)
        v = np.full(x.shape[0], np.nan)
        if n_points:
            pt = choice < n_points
            v[pt] = np.asarray(col.points)[choice[pt]]
        if n_gauss:
            g = (choice >= n_points) & (choice < n_points + n_gauss)
            k = choice[g] - n_points
            v[g] = np.asarray(col.means)[k] + alpha[g] * ALPHA_SCALE * np.asarray(col.stds)[k]
        if col.step:
            v = np.round(v / col.step) * col.step
            if col.step < 1:  # 0.1 * 3 is 0.30000000000000004: land on the shortest decimal
                v = np.round(v, int(round(-np.log10(col.step))))
        return v

    def _decode_column(
        self,
        span: Span,
        col: ColumnCodec,
        x: np.ndarray,
        rng: np.random.Generator,
        slots: dict[int, np.ndarray],
    ) -> pd.Series:
        n, m = x.shape[0], self.meta[col.name]
        if col.numeric:
            return float_to_column(self.numeric_values(x, col.name, slots), m)
        slot = slots[span.start]
        codes = np.full(n, -1, dtype=np.int64)
        kept = slot < len(col.kept)
        codes[kept] = np.asarray(col.kept, dtype=np.int64)[slot[kept]]
        if col.other:
            oth = slot == len(col.kept)
            codes[oth] = rng.choice(np.asarray(col.other), size=int(oth.sum()), p=col.other_p)
        return categories_to_column(codes, m)

    # ------------------------------------------------------------------ conditions
    def discrete_spans(self) -> list[tuple[Span, ColumnCodec]]:
        """Spans a conditional vector can fix: every choice — the category of a categorical or boolean
        column, and the mode of a numeric one (so rare modes, such as the non-zero values of a mostly-zero
        column, are trained as often as rare categories)."""
        return [(s, self._by_name[s.column]) for s in self.spans if s.activation == "softmax" and s.size > 1]

    def slot_of_value(self, name: str, value: Any) -> tuple[Span, int]:
        """The (span, slot) that decodes to ``value`` of categorical column ``name``."""
        if name not in self._by_name:
            raise ConfigError(f"cannot condition on {name!r}: not a learned column")
        col, m = self._by_name[name], self.meta[name]
        if col.numeric:
            raise ConfigError(
                f"cannot condition on numeric column {name!r} by value; give a (low, high) range"
            )
        span = next(s for s in self.spans if s.column == name)
        cats = m.categories or []
        matches = [i for i, c in enumerate(cats) if c == value or str(c) == str(value)]
        if not matches:
            shown = ", ".join(repr(c) for c in cats[:8]) + (" …" if len(cats) > 8 else "")
            raise ConfigError(f"unknown value {value!r} for column {name!r} (seen: {shown})")
        i = matches[0]
        if i not in col.kept:
            raise ConfigError(f"value {value!r} of column {name!r} is too rare to condition on")
        return span, col.kept.index(i)

    # ------------------------------------------------------------------ JSON
    def to_dict(self) -> dict[str, Any]:
        return {"meta": self.meta.to_dict(), "columns": [asdict(c) for c in self.columns]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TableCodec:
        return cls(TableMetadata.from_dict(d["meta"]), [ColumnCodec(**c) for c in d["columns"]])


def _decimals(v: np.ndarray, most: int = 6) -> int | None:
    """The fewest decimal places that represent every value exactly (None if more than ``most``)."""
    sample = v[:50_000]
    for d in range(most + 1):
        if np.allclose(np.round(sample, d), sample, rtol=0, atol=1e-9 * np.maximum(1, np.abs(sample))):
            return d
    return None


def _time_step(seconds: np.ndarray) -> float | None:
    """The coarsest of day / hour / minute / second / ms / us that every timestamp is a multiple of."""
    sample = seconds[:50_000]
    for step in (86400.0, 3600.0, 60.0, 1.0, 1e-3, 1e-6):
        if np.allclose(np.round(sample / step) * step, sample, rtol=0, atol=step * 1e-6):
            return step
    return None


def _constant(m: ColumnMeta, n: int, rng: np.random.Generator) -> pd.Series:
    s = pd.Series([m.value] * n, dtype=object)
    if m.nan_rate > 0:
        s[rng.random(n) < m.nan_rate] = None
    return s
