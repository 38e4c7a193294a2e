"""Precision, recall, density and coverage of generated samples (Naeem et al., 2020).

All four are built from k-nearest-neighbour balls in a feature space. The ball around a real example
reaches its k-th nearest real neighbour (k=5 by default), and likewise for a generated one:

- precision: share of generated samples inside some real ball (fidelity; ~1 for good samples);
- recall: share of real examples inside some generated ball (diversity; falls when modes are missing);
- density: how many real balls hold a generated sample on average, divided by k (~1 when the two
  distributions match, above 1 when samples crowd into dense real regions; not bounded by 1);
- coverage: share of real examples whose ball holds at least one generated sample (diversity, and more
  robust to outliers than recall).

Distances come from row chunks of squared-norm expansions, so 2,000 x 2,000 sets of 2,048-d features
need about 2 s and under 200 MB.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from ganforge.errors import ConfigError, DataError

DEFAULT_K = 5
_BLOCK_ELEMENTS = 1 << 22  # distances per block (32 MB of float64): rows per block = this / len(b)


def _as_features(x: np.ndarray, what: str) -> np.ndarray:
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 2 or len(arr) == 0:
        raise DataError(f"{what} must be (N, d) features with N > 0, got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise DataError(f"{what} contain NaN or inf")
    return arr


def distance_blocks(a: np.ndarray, b: np.ndarray) -> Iterator[tuple[int, np.ndarray]]:
    """Euclidean distances from rows of ``a`` to all rows of ``b``, as (first row, block) pairs.

    Blocks hold about 4M distances whatever the sizes, so memory stays bounded for large sets.
    """
    b_sq = np.einsum("ij,ij->i", b, b)
    chunk = max(1, _BLOCK_ELEMENTS // max(len(b), 1))
    for start in range(0, len(a), chunk):
        x = a[start : start + chunk]
        sq = np.einsum("ij,ij->i", x, x)[:, None] + b_sq[None, :] - 2.0 * (x @ b.T)
        yield start, np.sqrt(np.clip(sq, 0.0, None))


def knn_radii(x: np.ndarray, k: int = DEFAULT_K) -> np.ndarray:
    """Distance from each row of ``x`` to its k-th nearest other row (the row itself is left out)."""
    x = _as_features(x, "features")
    if not 1 <= k < len(x):
        raise ConfigError(f"k must be in 1..{len(x) - 1} for {len(x)} points, got {k}")
    out = np.empty(len(x))
    for start, d in distance_blocks(x, x):
        # Index k of the sorted row: index 0 is the point itself at distance 0.
        out[start : start + len(d)] = np.partition(d, k, axis=1)[:, k]
    return out


def prdc(real: np.ndarray, fake: np.ndarray, k: int = DEFAULT_K) -> dict[str, float | int]:
    """Precision, recall, density and coverage of ``fake`` against ``real`` (both (N, d) features)."""
    real, fake = _as_features(real, "real features"), _as_features(fake, "generated features")
    if real.shape[1] != fake.shape[1]:
        raise DataError(f"feature sizes differ: real {real.shape[1]}, generated {fake.shape[1]}")
    if min(len(real), len(fake)) <= k:
        raise DataError(f"PRDC with k={k} needs more than {k} real and generated samples")
    real_radii, fake_radii = knn_radii(real, k), knn_radii(fake, k)
    balls_per_fake = np.zeros(len(fake))  # how many real balls hold each generated sample
    recalled = np.zeros(len(real), dtype=bool)
    covered = np.zeros(len(real), dtype=bool)
    for start, d in distance_blocks(real, fake):
        inside_real = d <= real_radii[start : start + len(d), None]
        balls_per_fake += inside_real.sum(axis=0)
        covered[start : start + len(d)] = inside_real.any(axis=1)
        recalled[start : start + len(d)] = (d <= fake_radii[None, :]).any(axis=1)
    return {
        "precision": float((balls_per_fake > 0).mean()),
        "recall": float(recalled.mean()),
        "density": float(balls_per_fake.sum() / (k * len(fake))),
        "coverage": float(covered.mean()),
        "k": k,
        "n_real": len(real),
        "n_fake": len(fake),
    }


def coverage(real: np.ndarray, fake: np.ndarray, k: int = DEFAULT_K) -> float:
    """Share of real examples with a generated sample inside their k-nearest-real-neighbour ball."""
    real, fake = _as_features(real, "real features"), _as_features(fake, "generated features")
    radii = knn_radii(real, k)
    covered = np.zeros(len(real), dtype=bool)
    for start, d in distance_blocks(real, fake):
        covered[start : start + len(d)] = d.min(axis=1) <= radii[start : start + len(d)]
    return float(covered.mean())
