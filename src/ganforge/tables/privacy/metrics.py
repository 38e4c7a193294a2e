"""Does a synthetic table reveal who was in the training data? Distances and attacks against a holdout.

Every figure compares the *training* rows with *held-out* rows of the same population that the model
never saw: a model that leaks nothing treats both alike.

- DCR (distance to closest record): each synthetic row's distance to the nearest training row and to the
  nearest held-out row (the training side subsampled to the holdout's size), and the share of synthetic
  rows closer to training than to holdout — 50 % is ideal, much more means the rows hug the training data.
- NNDR: nearest / second-nearest training distance of each synthetic row; near 0 means one training row
  stands out as the source.
- exact copies: synthetic rows equal to a training row in every learned column (with the same count
  for the holdout as a baseline: on a table with few distinct rows, copies happen by chance).
- membership inference (distance attack): the attacker scores each real row by how close the nearest
  synthetic row lies, and guesses "member" for close ones. AUC over training (members) vs held-out rows
  (non-members): 0.5 means the synthetic table gives no clue, 1.0 means it gives membership away.
- attribute inference: an attacker who knows every other column of a person predicts the sensitive
  column from the nearest synthetic rows; accuracy (or R² for numbers) on training rows against held-out
  rows — the gap is what being in the training data costs a person.

Rows are encoded as in :func:`ganforge.metrics.memorisation.encode_rows` (robust-scaled numbers, one-hot
categories), fitted on the training and held-out rows together so both sides are encoded alike.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score, roc_curve
from sklearn.neighbors import NearestNeighbors

from ganforge.errors import ConfigError, DataError
from ganforge.metrics.memorisation import distance_quantiles, subsample_rows
from ganforge.tables.memorisation import encode_rows

ATTRIBUTE_NEIGHBOURS = 1  # the closest synthetic row: the strongest guess against a model that copies
ROC_POINTS = 50


def _learned(kinds: dict[str, str]) -> dict[str, str]:
    return {c: k for c, k in kinds.items() if k not in ("id", "constant")}


def _nn(reference: np.ndarray, queries: np.ndarray, k: int = 1) -> tuple[np.ndarray, np.ndarray]:
    nn = NearestNeighbors(n_neighbors=min(k, len(reference))).fit(reference)
    return nn.kneighbors(queries)


def exact_copies(synth: pd.DataFrame, real: pd.DataFrame, columns: list[str]) -> int:
    """Synthetic rows equal to some row of ``real`` in every one of ``columns`` (missing equals missing)."""
    key = [c for c in columns if c in synth.columns and c in real.columns]

    def rows(df: pd.DataFrame) -> pd.Series:
        return df[key].astype(object).where(df[key].notna(), "\x00").astype(str).agg("\x1f".join, axis=1)

    return int(rows(synth).isin(set(rows(real))).sum())


def membership_auc(train_x: np.ndarray, hold_x: np.ndarray, synth_x: np.ndarray) -> dict[str, Any]:
    """Distance attack: score = minus the distance to the nearest synthetic row; AUC members vs not."""
    d_train = _nn(synth_x, train_x)[0][:, 0]
    d_hold = _nn(synth_x, hold_x)[0][:, 0]
    labels = np.r_[np.ones(len(d_train)), np.zeros(len(d_hold))]
    scores = -np.r_[d_train, d_hold]
    fpr, tpr, _ = roc_curve(labels, scores)
    keep = np.unique(np.linspace(0, len(fpr) - 1, min(ROC_POINTS, len(fpr))).astype(int))
    # TPR at a low false-positive rate: what the attacker gets when it must rarely be wrong
    tpr_at = float(np.interp(0.01, fpr, tpr))
    return {"auc": float(roc_auc_score(labels, scores)), "tpr_at_1pct_fpr": tpr_at,
            "roc": {"fpr": fpr[keep].round(4).tolist(), "tpr": tpr[keep].round(4).tolist()},
            "members": len(d_train), "non_members": len(d_hold)}  # fmt: skip


def attribute_inference(
    train: pd.DataFrame, holdout: pd.DataFrame, synth: pd.DataFrame, kinds: dict[str, str], sensitive: str
) -> dict[str, Any]:
    """Predict ``sensitive`` of real rows from the nearest synthetic rows on the other columns."""
    if sensitive not in kinds:
        raise ConfigError(f"--sensitive {sensitive!r} is not a column of the model ({', '.join(kinds)})")
    kind = kinds[sensitive]
    if kind in ("id", "constant"):
        raise ConfigError(f"--sensitive {sensitive!r} is an {kind} column; name a learned column")
    known = {c: k for c, k in _learned(kinds).items() if c != sensitive}
    if not known:
        raise ConfigError("attribute inference needs at least one column besides the sensitive one")
    synth_x, (train_x, hold_x) = encode_rows(synth, [train, holdout], known)
    index = _nn(synth_x, np.vstack([train_x, hold_x]), ATTRIBUTE_NEIGHBOURS)[1]
    values = synth[sensitive].reset_index(drop=True)
    truth = pd.concat([train[sensitive], holdout[sensitive]], ignore_index=True)
    n_train = len(train)
    out: dict[str, Any] = {"column": sensitive, "kind": kind, "neighbours": ATTRIBUTE_NEIGHBOURS}
    if kind in ("numeric",):
        guess = np.nanmean(pd.to_numeric(values, errors="coerce").to_numpy(float)[index], axis=1)
        y = pd.to_numeric(truth, errors="coerce").to_numpy(float)

        def score(part: slice) -> float:
            t, g = y[part], guess[part]
            ok = np.isfinite(t) & np.isfinite(g)
            var = np.var(t[ok])
            return (
                float(1 - np.mean((t[ok] - g[ok]) ** 2) / var) if ok.sum() > 1 and var > 0 else float("nan")
            )

        out |= {"metric": "r2", "train": score(slice(0, n_train)), "holdout": score(slice(n_train, None))}
    else:
        labels = values.astype(object).where(values.notna(), "\x00").astype(str).to_numpy()
        votes = labels[index]
        guess = np.array([pd.Series(v).mode().iloc[0] for v in votes])
        y = truth.astype(object).where(truth.notna(), "\x00").astype(str).to_numpy()
        majority = pd.Series(y[:n_train]).value_counts(normalize=True).iloc[0]
        out |= {"metric": "accuracy", "train": float((guess[:n_train] == y[:n_train]).mean()),
                "holdout": float((guess[n_train:] == y[n_train:]).mean()), "majority_baseline": float(majority)}  # fmt: skip
    out["advantage"] = out["train"] - out["holdout"]
    return out


def privacy_metrics(
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    synth: pd.DataFrame,
    kinds: dict[str, str],
    sensitive: str | None = None,
    max_rows: int = 5000,
    seed: int = 0,
) -> dict[str, Any]:
    """DCR, NNDR, exact copies, membership and (with ``sensitive``) attribute inference; see the module."""
    if len(holdout) < 10 or len(train) < 10 or len(synth) < 10:
        raise DataError(
            f"privacy metrics need at least 10 training, held-out and synthetic rows "
            f"(got {len(train)}, {len(holdout)}, {len(synth)})"
        )
    kinds = _learned(kinds)
    rng = np.random.default_rng(seed)
    n = min(len(train), len(holdout), max_rows)  # equal sizes: then 50 % closer-to-train is the ideal
    tr = train.iloc[subsample_rows(len(train), n, rng)].reset_index(drop=True)
    ho = holdout.iloc[subsample_rows(len(holdout), n, rng)].reset_index(drop=True)
    sy = synth.iloc[subsample_rows(len(synth), max_rows, rng)].reset_index(drop=True)
    # Scaling and category lists from training and held-out rows together: members and non-members must
    # be encoded alike (a category only the holdout has would otherwise encode as all zeros, near everything)
    _, (train_x, hold_x, synth_x) = encode_rows(pd.concat([tr, ho], ignore_index=True), [tr, ho, sy], kinds)
    d_tr, _ = _nn(train_x, synth_x, 2)
    d_ho = _nn(hold_x, synth_x)[0][:, 0]
    dcr_train = d_tr[:, 0]
    closer = float(np.mean(dcr_train < d_ho) + 0.5 * np.mean(dcr_train == d_ho))
    nndr = dcr_train / np.maximum(d_tr[:, -1], 1e-12)
    columns = list(kinds)
    edges = np.linspace(0, float(np.quantile(np.r_[dcr_train, d_ho], 0.99)) or 1.0, 31)
    result = {
        "dcr": {
            "synthetic_to_train": distance_quantiles(dcr_train),
            "synthetic_to_holdout": distance_quantiles(d_ho),
            "closer_to_train_share": closer,
            "histogram": {"edges": edges.round(5).tolist(),
                          "train": np.histogram(dcr_train, edges)[0].tolist(),
                          "holdout": np.histogram(d_ho, edges)[0].tolist()},  # fmt: skip
        },
        "nndr": {"median": float(np.median(nndr)), "p05": float(np.quantile(nndr, 0.05))},
        "exact_copies": {"train": exact_copies(sy, tr, columns), "holdout_baseline": exact_copies(sy, ho, columns),
                         "synthetic_rows": len(sy)},  # fmt: skip
        "membership_inference": membership_auc(train_x, hold_x, synth_x) | {"attack": "distance to closest synthetic row"},
        "rows": {"train": n, "holdout": n, "synthetic": len(sy)},
    }  # fmt: skip
    if sensitive is not None:
        result["attribute_inference"] = attribute_inference(tr, ho, sy, kinds, sensitive)
    return result


def privacy_summary(result: dict[str, Any]) -> dict[str, Any]:
    """Headline figures of :func:`privacy_metrics`, flat, for the card and the command line."""
    out = {
        "DCR closer-to-train share": result["dcr"]["closer_to_train_share"],
        "DCR median train / holdout": f"{result['dcr']['synthetic_to_train']['median']:.3f} / "
        f"{result['dcr']['synthetic_to_holdout']['median']:.3f}",
        "NNDR median": result["nndr"]["median"],
        "exact copies (train / holdout)": f"{result['exact_copies']['train']} / "
        f"{result['exact_copies']['holdout_baseline']}",
        "membership AUC": result["membership_inference"]["auc"],
    }
    ai = result.get("attribute_inference")
    if ai:
        out[f"attribute inference {ai['column']} ({ai['metric']} train / holdout)"] = (
            f"{ai['train']:.3f} / {ai['holdout']:.3f}"
        )
    return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in out.items()}
