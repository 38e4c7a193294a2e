"""Does a table generator copy its training rows? The DCR (distance to closest record), the
nearest-neighbour memorisation check of metrics/memorisation.py on a normalised encoding: numbers and
datetimes centred on the training median and divided by the interquartile range (a missing value is
the median plus a 0/1 missing indicator), categories one-hot (missing is a category of its own) scaled
so that a differing category counts 1, as a difference of one interquartile range does.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ganforge.errors import DataError
from ganforge.metrics.memorisation import BASELINE_QUANTILE, memorisation, subsample_rows
from ganforge.tables.metric_columns import CONTINUOUS, as_float, column_specs


def _robust_scale(train: np.ndarray) -> tuple[float, float]:
    """Median and a spread that is never 0: the IQR, else the range, else 1."""
    seen = train[~np.isnan(train)]
    if len(seen) == 0:
        return 0.0, 1.0
    q25, median, q75 = np.quantile(seen, [0.25, 0.5, 0.75])
    spread = q75 - q25 if q75 > q25 else seen.max() - seen.min()
    return float(median), float(spread) if spread > 0 else 1.0


def _category_labels(s: pd.Series) -> np.ndarray:
    """Category values as strings with missing as its own label (None is not a string a row can hold)."""
    obj = s.astype(object)
    return np.where(obj.notna().to_numpy(), obj.astype(str).to_numpy(), "\x00missing")


def encode_rows(
    train: pd.DataFrame, tables: list[pd.DataFrame], kinds: dict[str, str]
) -> tuple[np.ndarray, list[np.ndarray]]:
    """``train`` and each of ``tables`` as float matrices for distances, with the scaling fit on ``train``.

    Numeric and datetime columns: (x - median) / IQR, missing values at 0 plus a missing-indicator
    column; categorical and boolean columns: one-hot over the training categories (missing is one)
    times 1/sqrt(2), so a differing category adds 1 to the squared distance; categories that training
    lacks encode as all zeros. ID and constant columns are left out.
    """
    cols = column_specs(kinds, train, *tables)
    blocks: list[list[np.ndarray]] = [[] for _ in range(1 + len(tables))]
    for c in cols:
        if kinds[c] in CONTINUOUS:
            values = [as_float(t[c], kinds[c]) for t in (train, *tables)]
            centre, spread = _robust_scale(values[0])
            has_missing = any(np.isnan(v).any() for v in values)
            for out, v in zip(blocks, values, strict=True):
                out.append(np.nan_to_num((v - centre) / spread, nan=0.0)[:, None])
                if has_missing:
                    out.append(np.isnan(v).astype(np.float64)[:, None])
        else:
            labels = [_category_labels(t[c]) for t in (train, *tables)]
            vocab = np.unique(labels[0])
            for out, v in zip(blocks, labels, strict=True):
                out.append((v[:, None] == vocab[None, :]).astype(np.float64) / np.sqrt(2.0))
    matrices = [np.hstack(b) for b in blocks]
    return matrices[0], matrices[1:]


def table_memorisation(
    train: pd.DataFrame,
    synth: pd.DataFrame,
    kinds: dict[str, str],
    holdout: pd.DataFrame | None = None,
    max_rows: int | None = 5000,
    quantile: float = BASELINE_QUANTILE,
    n_pairs: int = 16,
    seed: int = 0,
) -> dict[str, Any]:
    """DCR: :func:`memorisation` of synthetic rows against the training table on :func:`encode_rows`.

    ``holdout``: real rows the model never saw; without it, training rows are compared leave-one-out.
    At most ``max_rows`` synthetic (and held-out) rows are compared, chosen at random with ``seed``;
    every training row is searched. ``closest`` pairs index rows of ``synth`` and ``train`` as given.
    """
    if len(train) < 3 or len(synth) == 0:
        raise DataError(
            f"DCR needs at least 3 training rows and 1 synthetic row, got {len(train)}, {len(synth)}"
        )
    rng = np.random.default_rng(seed)
    synth_pick = subsample_rows(len(synth), max_rows, rng)
    others = [synth.iloc[synth_pick]]
    if holdout is not None:
        if len(holdout) == 0:
            raise DataError("the held-out table is empty")
        others.append(holdout.iloc[subsample_rows(len(holdout), max_rows, rng)])
    train_x, (synth_x, *rest) = encode_rows(train, others, kinds)
    n_baseline = min(max_rows or len(train), len(train))
    result = memorisation(synth_x, train_x, rest[0] if rest else None, quantile, n_baseline, n_pairs, seed)
    for pair in result["closest"]:
        pair["sample"] = int(synth_pick[pair["sample"]])
    return result | {
        "encoding": "median/IQR-scaled numbers, one-hot categories",
        "encoded_width": train_x.shape[1],
    }
