"""Does a generator copy its training data? Nearest-training-example distances against a real baseline.

Each generated sample gets its nearest training example (index and distance). On their own these
distances mean little, so they are compared with the same distances for *real* examples the model never
had to reproduce: a held-out set, or else a random subset of the training set with every example
compared against the rest of the training set (leave-one-out; for i.i.d. data this is a held-out set
against N-1 references).

The threshold is a low quantile (1st percentile by default) of those real-vs-real distances: only 1 % of
real examples lie that close to a training example. The *memorised share* is the share of samples at or
below it; a generator that only draws new examples from the data distribution has a share near the
real baseline (~1 %), one that reproduces training examples has many samples near distance 0.
``flagged`` is set when the share exceeds max(5 x the baseline share, 5 %).

For tables the same comparison is the DCR (distance to closest record) on a normalised encoding: numbers
and datetimes centred on the training median and divided by the interquartile range (a missing value is
the median plus a 0/1 missing indicator), categories one-hot (missing is a category of its own) scaled
so that a differing category counts 1, as a difference of one interquartile range does.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ganforge.errors import ConfigError, DataError

from .prdc import distance_blocks
from .tabular_columns import _CONTINUOUS, _as_float, _columns

BASELINE_QUANTILE = 0.01  # threshold: this quantile of the real-vs-real nearest distances
FLAG_FACTOR = 5.0  # flagged when the memorised share exceeds FLAG_FACTOR x the real baseline share ...
FLAG_MIN_SHARE = 0.05  # ... and this share
_REPORTED_QUANTILES = (0.0, 0.01, 0.05, 0.25, 0.5, 0.75, 1.0)


def nearest_neighbours(
    queries: np.ndarray, reference: np.ndarray, exclude: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Index into ``reference`` and Euclidean distance of each query's nearest reference row.

    ``exclude[i]`` (optional) is a reference index query i may not match: the query itself when it is
    a reference row, for leave-one-out distances.
    """
    q = _as_matrix(queries, "queries")
    ref = _as_matrix(reference, "reference")
    if q.shape[1] != ref.shape[1]:
        raise DataError(f"queries have {q.shape[1]} values per row but the reference has {ref.shape[1]}")
    if exclude is not None and len(ref) < 2:
        raise DataError("leave-one-out distances need at least 2 reference rows")
    index = np.empty(len(q), dtype=np.int64)
    for start, d in distance_blocks(q, ref):
        if exclude is not None:
            d[np.arange(len(d)), exclude[start : start + len(d)]] = np.inf
        index[start : start + len(d)] = d.argmin(axis=1)
    # Recomputed directly: the blocks' |a|^2 + |b|^2 - 2ab form leaves round-off where a copy is at 0.
    return index, np.linalg.norm(q - ref[index], axis=1)


def _as_matrix(x: np.ndarray, what: str) -> np.ndarray:
    arr = np.asarray(x)
    if arr.ndim < 2 or len(arr) == 0:
        raise DataError(f"{what} must be a non-empty (N, ...) array, got shape {np.shape(x)}")
    arr = np.asarray(arr.reshape(len(arr), -1), dtype=np.float64)  # no copy when already (N, d) float64
    if not np.isfinite(arr).all():
        raise DataError(f"{what} contain NaN or inf")
    return arr


def distance_quantiles(distances: np.ndarray) -> dict[str, float]:
    """Min, 1st/5th/25th percentile, median, 75th percentile and max of a set of distances."""
    names = ("min", "p01", "p05", "p25", "median", "p75", "max")
    values = np.quantile(distances, _REPORTED_QUANTILES)
    return {name: float(v) for name, v in zip(names, values, strict=True)}


def memorisation(
    samples: np.ndarray,
    train: np.ndarray,
    holdout: np.ndarray | None = None,
    quantile: float = BASELINE_QUANTILE,
    n_baseline: int = 1000,
    n_pairs: int = 16,
    seed: int = 0,
) -> dict[str, Any]:
    """Compare each sample's distance to its nearest ``train`` row with real-vs-real distances.

    Rows may be feature vectors, flattened pixels or encoded table rows (any trailing shape is
    flattened). ``holdout``: real rows not in ``train``; when None, up to ``n_baseline`` random training
    rows are each compared with the rest of ``train``. Returns the threshold, the memorised and baseline
    shares, their ratio, ``flagged``, distance quantiles and the ``n_pairs`` closest (sample, train) pairs.
    """
    if not 0.0 < quantile < 0.5:
        raise ConfigError(f"quantile must be in (0, 0.5), got {quantile}")
    if n_pairs < 0 or n_baseline < 2:
        raise ConfigError(f"need n_pairs >= 0 and n_baseline >= 2, got {n_pairs} and {n_baseline}")
    train = _as_matrix(train, "training rows")
    sample_index, sample_dist = nearest_neighbours(samples, train)
    if holdout is not None:
        _, real_dist = nearest_neighbours(holdout, train)
        baseline = "held-out rows"
    else:
        if len(train) < 3:
            raise DataError(f"a leave-one-out baseline needs at least 3 training rows, got {len(train)}")
        rng = np.random.default_rng(seed)
        pick = np.sort(rng.choice(len(train), size=min(n_baseline, len(train)), replace=False))
        _, real_dist = nearest_neighbours(train[pick], train, exclude=pick)
        baseline = "training rows, leave-one-out"
    threshold = float(np.quantile(real_dist, quantile))
    share = float((sample_dist <= threshold).mean())
    base_share = float((real_dist <= threshold).mean())
    closest = np.argsort(sample_dist, kind="stable")[:n_pairs]
    return {
        "threshold": threshold,
        "quantile": quantile,
        "memorised_share": share,
        "baseline_share": base_share,
        # The share of real rows under the threshold is at least 1/n: never divide by zero.
        "share_ratio": share / max(base_share, 1.0 / len(real_dist)),
        "median_distance_ratio": float(np.median(sample_dist) / max(np.median(real_dist), 1e-12)),
        "flagged": bool(share > max(FLAG_FACTOR * base_share, FLAG_MIN_SHARE)),
        "sample_distances": distance_quantiles(sample_dist),
        "baseline_distances": distance_quantiles(real_dist),
        "baseline": baseline,
        "n_samples": len(sample_dist),
        "n_train": len(train),
        "n_baseline": len(real_dist),
        "closest": [
            {"sample": int(i), "train": int(sample_index[i]), "distance": float(sample_dist[i])}
            for i in closest
        ],
    }


# ---------------------------------------------------------------- tables: distance to closest record


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
    cols = _columns(kinds, train, *tables)
    blocks: list[list[np.ndarray]] = [[] for _ in range(1 + len(tables))]
    for c in cols:
        if kinds[c] in _CONTINUOUS:
            values = [_as_float(t[c], kinds[c]) for t in (train, *tables)]
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
    synth_pick = _subsample(len(synth), max_rows, rng)
    others = [synth.iloc[synth_pick]]
    if holdout is not None:
        if len(holdout) == 0:
            raise DataError("the held-out table is empty")
        others.append(holdout.iloc[_subsample(len(holdout), max_rows, rng)])
    train_x, (synth_x, *rest) = encode_rows(train, others, kinds)
    n_baseline = min(max_rows or len(train), len(train))
    result = memorisation(synth_x, train_x, rest[0] if rest else None, quantile, n_baseline, n_pairs, seed)
    for pair in result["closest"]:
        pair["sample"] = int(synth_pick[pair["sample"]])
    return result | {
        "encoding": "median/IQR-scaled numbers, one-hot categories",
        "encoded_width": train_x.shape[1],
    }


def _subsample(n: int, max_rows: int | None, rng: np.random.Generator) -> np.ndarray:
    if max_rows is not None and max_rows < 1:
        raise ConfigError(f"max_rows must be >= 1 (got {max_rows})")
    if max_rows is None or n <= max_rows:
        return np.arange(n)
    return np.sort(rng.choice(n, size=max_rows, replace=False))
