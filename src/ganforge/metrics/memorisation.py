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

Tables use the same comparison on their own encoding (tables/memorisation.py: the DCR).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ganforge.errors import ConfigError, DataError
from ganforge.metrics.prdc import distance_blocks

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


def subsample_rows(n: int, max_rows: int | None, rng: np.random.Generator) -> np.ndarray:
    if max_rows is not None and max_rows < 1:
        raise ConfigError(f"max_rows must be >= 1 (got {max_rows})")
    if max_rows is None or n <= max_rows:
        return np.arange(n)
    return np.sort(rng.choice(n, size=max_rows, replace=False))
