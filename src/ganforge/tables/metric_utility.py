"""Utility, privacy and validity metrics for synthetic tables: LogisticDetection, ML efficacy
(train on synthetic, test on real), identical rows and out-of-bounds values.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from ganforge.errors import ConfigError
from ganforge.tables.metric_columns import (
    CONTINUOUS,
    DISCRETE,
    as_float,
    category_codes,
    check_kinds,
    column_specs,
    prepare_frames,
)

_HGB_MAX_CATEGORIES = 255  # HistGradientBoosting takes category codes in [0, max_bins)


# ---------------------------------------------------------------- detection


def _detection_features(
    real: pd.DataFrame, synth: pd.DataFrame, kinds: dict[str, str]
) -> tuple[np.ndarray, np.ndarray]:
    """SDMetrics' HyperTransformer: numbers with NaN filled by the real mean, then one-hot blocks of
    the categoricals (fit on real; categories only the synthetic data has encode as all zeros, where
    SDMetrics raises). As in SDMetrics, booleans are not used."""
    from sklearn.preprocessing import OneHotEncoder

    cols = column_specs(kinds, real, synth)
    blocks_r, blocks_s = [], []
    for c in (c for c in cols if kinds[c] in CONTINUOUS):
        r, s = as_float(real[c], kinds[c]), as_float(synth[c], kinds[c])
        fill = np.nanmean(r) if (~np.isnan(r)).any() else np.nan
        blocks_r.append(np.where(np.isnan(r), fill, r)[:, None])
        blocks_s.append(np.where(np.isnan(s), fill, s)[:, None])
    for c in (c for c in cols if kinds[c] == "categorical"):
        r, s = (_as_labels(t[c]).to_frame() for t in (real, synth))
        enc = OneHotEncoder(handle_unknown="ignore", sparse_output=False).fit(r)
        blocks_r.append(enc.transform(r))
        blocks_s.append(enc.transform(s))
    if not blocks_r:
        raise ConfigError("detection needs at least one numeric, datetime or categorical column")
    return np.hstack(blocks_r), np.hstack(blocks_s)


def _as_labels(s: pd.Series) -> pd.Series:
    """Category values as strings, missing as NaN, so mixed types sort and compare consistently."""
    obj = s.astype(object)
    return obj.astype(str).where(obj.notna(), np.nan)


def detection(real: pd.DataFrame, synth: pd.DataFrame, kinds: dict[str, str], seed: int = 0) -> dict:
    """SDMetrics LogisticDetection: logistic regression (mean imputer, robust scaler) telling real from
    synthetic rows, 3-fold stratified shuffled CV; ``score`` = 1 - mean over folds of
    (max(auc, 0.5) * 2 - 1), so 1 means indistinguishable. ``auc`` is the mean fold ROC AUC."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import RobustScaler

    xr, xs = _detection_features(real, synth, kinds)
    x = np.concatenate([xr, xs])
    x[np.isinf(x)] = np.nan
    y = np.concatenate([np.ones(len(xr)), np.zeros(len(xs))])
    aucs = []
    for train, test in StratifiedKFold(n_splits=3, shuffle=True, random_state=seed).split(x, y):
        model = Pipeline(
            [
                ("imputer", SimpleImputer()),
                ("scaler", RobustScaler()),
                ("classifier", LogisticRegression(solver="lbfgs")),
            ]
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(x[train], y[train])
        aucs.append(roc_auc_score(y[test], model.predict_proba(x[test])[:, 1]))
    score = 1.0 - float(np.mean([max(0.5, a) * 2 - 1 for a in aucs]))
    return {"auc": float(np.mean(aucs)), "score": score}


def c2st(
    real: pd.DataFrame, synth: pd.DataFrame, kinds: dict[str, str], seed: int = 0, folds: int = 5
) -> dict:
    """Classifier two-sample test: histogram gradient boosting telling real from synthetic rows, on as
    many rows of each (the larger table subsampled, seeded), ``folds``-fold stratified shuffled CV;
    ``auc`` is the mean fold ROC AUC (0.5 = indistinguishable, 1 = every row told apart). Numbers and
    datetimes as values, categories as native categorical codes (frequency order in the real table),
    missing values as missing, so a generator that gets the NaN rate wrong is caught."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold

    check_kinds(kinds)
    cols = column_specs(kinds, real, synth)
    n = min(len(real), len(synth))
    if n < 2:
        raise ConfigError(f"C2ST needs at least 2 real and 2 synthetic rows (got {len(real)}, {len(synth)})")
    folds = min(folds, n)  # a tiny evaluation (-n 3) still gets a figure, from fewer folds
    rng = np.random.default_rng(seed)
    real = real.iloc[np.sort(rng.choice(len(real), n, replace=False))]
    synth = synth.iloc[np.sort(rng.choice(len(synth), n, replace=False))]
    xr, xs, is_cat = _ml_features(real, synth, cols, kinds)
    x = np.concatenate([xr, xs])
    x[np.isinf(x)] = np.nan
    y = np.concatenate([np.ones(n), np.zeros(n)])
    aucs = []
    for train, test in StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed).split(x, y):
        model = HistGradientBoostingClassifier(categorical_features=is_cat, random_state=seed)
        aucs.append(roc_auc_score(y[test], model.fit(x[train], y[train]).predict_proba(x[test])[:, 1]))
    return {"auc": float(np.mean(aucs)), "auc_std": float(np.std(aucs)), "rows_each": n, "folds": folds}


def missing_rates(real: pd.DataFrame, synth: pd.DataFrame, kinds: dict[str, str]) -> dict:
    """Share of missing values per column, real against synthetic (only columns where either has any),
    and the largest gap in percentage points."""
    cols = {}
    for c in column_specs(kinds, real, synth):
        r, s = float(real[c].isna().mean()), float(synth[c].isna().mean()) if len(synth) else float("nan")
        if r > 0 or s > 0:
            cols[c] = {"real": r, "synth": s}
    gaps = [abs(v["real"] - v["synth"]) * 100 for v in cols.values()]
    return {"columns": cols, "max_gap_points": max(gaps) if gaps else 0.0}


def class_rates(real: pd.DataFrame, synth: pd.DataFrame, column: str) -> dict:
    """Each class's share of a categorical column (missing as a class of its own), real against
    synthetic, and the largest gap in percentage points."""
    r, s = (_as_labels(t[column]).fillna("<missing>").value_counts(normalize=True) for t in (real, synth))
    labels = r.index.union(s.index)
    rates = {str(k): {"real": float(r.get(k, 0.0)), "synth": float(s.get(k, 0.0))} for k in labels}
    gaps = [abs(v["real"] - v["synth"]) * 100 for v in rates.values()]
    return {"column": column, "classes": rates, "max_gap_points": max(gaps) if gaps else 0.0}


# ---------------------------------------------------------------- machine-learning efficacy


def check_target(target: str, kinds: dict[str, str], *tables: pd.DataFrame) -> None:
    if target not in kinds or any(target not in t.columns for t in tables):
        raise ConfigError(f"target column {target!r} is not in the table")
    if kinds[target] not in CONTINUOUS + DISCRETE:
        raise ConfigError(f"target column {target!r} is of kind {kinds[target]!r}, which cannot be predicted")


def _ml_features(train: pd.DataFrame, test: pd.DataFrame, cols: list[str], kinds: dict[str, str]) -> tuple:
    """Feature matrices for HistGradientBoosting: numbers (datetimes as epoch seconds) and categories
    as codes ordered by training frequency; categories the training set lacks, and all beyond the 255
    most frequent, become NaN (missing)."""
    xtr, xte, is_cat = [], [], []
    for c in cols:
        if kinds[c] in CONTINUOUS:
            xtr.append(as_float(train[c], kinds[c]))
            xte.append(as_float(test[c], kinds[c]))
        else:
            tr, te = _as_labels(train[c]), _as_labels(test[c])
            vocab = tr.value_counts().index[:_HGB_MAX_CATEGORIES]
            for part, out in ((tr, xtr), (te, xte)):
                codes = pd.Categorical(part, categories=vocab).codes.astype(np.float64)
                out.append(np.where(codes < 0, np.nan, codes))
        is_cat.append(kinds[c] in DISCRETE)
    return np.column_stack(xtr), np.column_stack(xte), np.array(is_cat, dtype=bool)


def _fit_score(
    train: pd.DataFrame, test: pd.DataFrame, target: str, cols: list[str], kinds: dict[str, str], seed: int
) -> dict:
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.metrics import accuracy_score, f1_score, r2_score

    train, test = train[train[target].notna()], test[test[target].notna()]
    if len(train) == 0 or len(test) == 0:
        raise ConfigError(f"target column {target!r} has no values in the training or test table")
    xtr, xte, is_cat = _ml_features(train, test, cols, kinds)
    if kinds[target] in CONTINUOUS:
        ytr, yte = as_float(train[target], kinds[target]), as_float(test[target], kinds[target])
        model = HistGradientBoostingRegressor(categorical_features=is_cat, random_state=seed)
        return {"r2": float(r2_score(yte, model.fit(xtr, ytr).predict(xte)))}
    ytr, yte, _ = category_codes(_as_labels(train[target]), _as_labels(test[target]))
    if len(np.unique(ytr)) < 2:  # nothing to learn: predict the only class seen
        pred = np.full(len(yte), ytr[0])
    else:
        model = HistGradientBoostingClassifier(categorical_features=is_cat, random_state=seed)
        pred = model.fit(xtr, ytr).predict(xte)
    return {"accuracy": float(accuracy_score(yte, pred)), "f1": float(f1_score(yte, pred, average="macro"))}


def ml_efficacy(
    synth: pd.DataFrame,
    holdout: pd.DataFrame,
    target: str,
    kinds: dict[str, str],
    real: pd.DataFrame | None = None,
    seed: int = 0,
) -> dict:
    """Train on synthetic, test on real (TSTR) with histogram gradient boosting; with ``real``, also
    train on real, test on real (TRTR) as the reference. A categorical or boolean target is a
    classification (accuracy, macro F1), a numeric or datetime one a regression (R^2)."""
    tables = [synth, holdout] + ([real] if real is not None else [])
    check_kinds(kinds)
    check_target(target, kinds, *tables)
    cols = [c for c in column_specs(kinds, *tables) if c != target]
    if not cols:
        raise ConfigError(f"no feature columns left besides the target {target!r}")
    task = "regression" if kinds[target] in CONTINUOUS else "classification"
    out: dict[str, Any] = {"task": task}
    runs = [("tstr", synth)] + ([("trtr", real)] if real is not None else [])
    for prefix, train in runs:
        out.update(
            {f"{prefix}_{k}": v for k, v in _fit_score(train, holdout, target, cols, kinds, seed).items()}
        )
    return out


# ---------------------------------------------------------------- privacy and validity


def _hashable(a: pd.Series, b: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Both columns in one representation, so equal values hash equally (1 == 1.0, -0.0 == 0.0)."""
    if pd.api.types.is_datetime64_any_dtype(a) and pd.api.types.is_datetime64_any_dtype(b):
        return pd.Series(as_float(a, "datetime")), pd.Series(as_float(b, "datetime"))
    numeric = [
        pd.api.types.is_numeric_dtype(x) and not isinstance(x.dtype, pd.CategoricalDtype) for x in (a, b)
    ]
    if all(numeric):
        fa, fb = (as_float(x, "numeric") + 0.0 for x in (a, b))
        return pd.Series(fa), pd.Series(fb)
    return _as_labels(a).reset_index(drop=True), _as_labels(b).reset_index(drop=True)


def identical_rows(train: pd.DataFrame, synth: pd.DataFrame) -> dict:
    """Synthetic rows equal in every shared column to some training row (NaN equals NaN), matched
    by 64-bit row hashes (a false match has probability about n_train * n_synth / 2**64)."""
    cols = [c for c in train.columns if c in synth.columns]
    if not cols:
        raise ConfigError("the training and synthetic tables share no columns")
    pairs = {c: _hashable(train[c], synth[c]) for c in cols}
    ht = pd.util.hash_pandas_object(pd.DataFrame({c: p[0] for c, p in pairs.items()}), index=False)
    hs = pd.util.hash_pandas_object(pd.DataFrame({c: p[1] for c, p in pairs.items()}), index=False)
    count = int(np.isin(hs.to_numpy(), ht.to_numpy()).sum())
    return {"share": count / len(synth) if len(synth) else float("nan"), "count": count}


def out_of_bounds(synth: pd.DataFrame, real: pd.DataFrame, kinds: dict[str, str]) -> dict:
    """Synthetic values the real data rules out: numbers and datetimes outside the real [min, max],
    fractions in numeric columns whose real values are all whole, categories real never has."""
    counts = {}
    for col in prepare_frames(real, synth, kinds):
        if col.continuous:
            r, s = col.real[~np.isnan(col.real)], col.synth
            if len(r) == 0:
                bad = ~np.isnan(s)
            else:
                bad = (s < r.min()) | (s > r.max())
                if col.kind == "numeric" and np.all(r == np.round(r)):
                    bad |= np.isfinite(s) & (s != np.round(s))
        else:
            seen = np.bincount(col.real[col.real >= 0], minlength=col.n_categories) > 0
            bad = (col.synth >= 0) & ~seen[np.maximum(col.synth, 0)]
        counts[col.name] = int(bad.sum())
    return {"count": sum(counts.values()), "columns": counts}
