"""Columns of a real and a synthetic table made ready for the table metrics.

Numeric and datetime columns become float64 (datetimes as epoch seconds, NaN for missing); categorical
and boolean columns become codes over the values of both tables (-1 for missing).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ganforge.errors import ConfigError

KINDS = ("numeric", "categorical", "boolean", "datetime", "id", "constant")
CONTINUOUS = ("numeric", "datetime")
DISCRETE = ("categorical", "boolean")


@dataclass
class ColumnSpec:
    """One column ready for the metrics: floats for continuous kinds, codes (-1 = missing) otherwise."""

    name: str
    kind: str
    real: np.ndarray
    synth: np.ndarray
    n_categories: int = 0

    @property
    def continuous(self) -> bool:
        return self.kind in CONTINUOUS


def check_kinds(kinds: dict[str, str]) -> None:
    bad = {c: k for c, k in kinds.items() if k not in KINDS}
    if bad:
        raise ConfigError(f"unknown column kind(s) {bad}; allowed: {', '.join(KINDS)}")


def column_specs(kinds: dict[str, str], *tables: pd.DataFrame) -> list[str]:
    """The columns the fidelity metrics use, in ``kinds`` order; ConfigError when there are none."""
    check_kinds(kinds)
    missing = sorted({c for c in kinds for t in tables if c not in t.columns}, key=str)
    if missing:
        raise ConfigError(f"column(s) {missing} named in kinds are missing from a table")
    cols = [c for c, k in kinds.items() if k in CONTINUOUS + DISCRETE]
    if not cols:
        raise ConfigError("the tables share no numeric, datetime, categorical or boolean columns")
    return cols


def as_float(s: pd.Series, kind: str) -> np.ndarray:
    """Numbers as float64 with NaN for missing; datetimes as epoch seconds."""
    if kind == "datetime" and not pd.api.types.is_numeric_dtype(s):
        t = s if pd.api.types.is_datetime64_any_dtype(s) else pd.to_datetime(s, errors="coerce")
        if getattr(t.dt, "tz", None) is not None:
            t = t.dt.tz_convert("UTC").dt.tz_localize(None)
        ns = t.to_numpy(dtype="datetime64[ns]").astype(np.int64).astype(np.float64)
        ns[t.isna().to_numpy()] = np.nan
        return ns / 1e9
    return pd.to_numeric(s, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)


def category_codes(a: pd.Series, b: pd.Series) -> tuple[np.ndarray, np.ndarray, int]:
    """Codes of both columns over their joint set of values (equal values share a code; NaN -> -1)."""
    both = pd.concat([a.astype(object), b.astype(object)], ignore_index=True)
    codes, uniques = pd.factorize(both, use_na_sentinel=True)
    return codes[: len(a)], codes[len(a) :], len(uniques)


def prepare_frames(real: pd.DataFrame, synth: pd.DataFrame, kinds: dict[str, str]) -> list[ColumnSpec]:
    out = []
    for c in column_specs(kinds, real, synth):
        k = kinds[c]
        if k in CONTINUOUS:
            out.append(ColumnSpec(c, k, as_float(real[c], k), as_float(synth[c], k)))
        else:
            out.append(ColumnSpec(c, k, *category_codes(real[c], synth[c])))
    return out
