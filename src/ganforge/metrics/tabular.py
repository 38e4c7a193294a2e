"""Fidelity, utility and privacy metrics for synthetic tables, defined as SDMetrics defines them.

Column shapes, column pair trends and their mean reproduce SDMetrics' single-table ``QualityReport``
(KSComplement / TVComplement, CorrelationSimilarity / ContingencySimilarity), and :func:`detection`
reproduces ``LogisticDetection``, so scores compare with published CTGAN/SDV figures. Each function
takes ``kinds``, column name -> one of :data:`KINDS`; "id" and "constant" columns are skipped,
datetimes count as numbers (epoch seconds) and booleans as categories.
"""

from __future__ import annotations

import itertools
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ganforge.errors import ConfigError

KINDS = ("numeric", "categorical", "boolean", "datetime", "id", "constant")
_CONTINUOUS = ("numeric", "datetime")
_DISCRETE = ("categorical", "boolean")
_KS_DECIMALS = 14  # KSComplement rounds to sys.float_info.dig - 1 decimals before the test
_TV_REGULARISER = 1e-6  # TVComplement's pseudo-count for categories only the synthetic data has
_N_BINS = 10  # the report bins continuous columns with np.histogram_bin_edges' default
_HGB_MAX_CATEGORIES = 255  # HistGradientBoosting takes category codes in [0, max_bins)


@dataclass
class _Column:
    """One column ready for the metrics: floats for continuous kinds, codes (-1 = missing) otherwise."""

    name: str
    kind: str
    real: np.ndarray
    synth: np.ndarray
    n_categories: int = 0

    @property
    def continuous(self) -> bool:
        return self.kind in _CONTINUOUS


def _check_kinds(kinds: dict[str, str]) -> None:
    bad = {c: k for c, k in kinds.items() if k not in KINDS}
    if bad:
        raise ConfigError(f"unknown column kind(s) {bad}; allowed: {', '.join(KINDS)}")


def _columns(kinds: dict[str, str], *tables: pd.DataFrame) -> list[str]:
    """The columns the fidelity metrics use, in ``kinds`` order; ConfigError when there are none."""
    _check_kinds(kinds)
    missing = sorted({c for c in kinds for t in tables if c not in t.columns}, key=str)
    if missing:
        raise ConfigError(f"column(s) {missing} named in kinds are missing from a table")
    cols = [c for c, k in kinds.items() if k in _CONTINUOUS + _DISCRETE]
    if not cols:
        raise ConfigError("the tables share no numeric, datetime, categorical or boolean columns")
    return cols


def _as_float(s: pd.Series, kind: str) -> np.ndarray:
    """Numbers as float64 with NaN for missing; datetimes as epoch seconds."""
    if kind == "datetime" and not pd.api.types.is_numeric_dtype(s):
        t = s if pd.api.types.is_datetime64_any_dtype(s) else pd.to_datetime(s, errors="coerce")
        if getattr(t.dt, "tz", None) is not None:
            t = t.dt.tz_convert("UTC").dt.tz_localize(None)
        ns = t.to_numpy(dtype="datetime64[ns]").astype(np.int64).astype(np.float64)
        ns[t.isna().to_numpy()] = np.nan
        return ns / 1e9
    return pd.to_numeric(s, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)


def _codes(a: pd.Series, b: pd.Series) -> tuple[np.ndarray, np.ndarray, int]:
    """Codes of both columns over their joint set of values (equal values share a code; NaN -> -1)."""
    both = pd.concat([a.astype(object), b.astype(object)], ignore_index=True)
    codes, uniques = pd.factorize(both, use_na_sentinel=True)
    return codes[: len(a)], codes[len(a) :], len(uniques)


def _prepare(real: pd.DataFrame, synth: pd.DataFrame, kinds: dict[str, str]) -> list[_Column]:
    out = []
    for c in _columns(kinds, real, synth):
        k = kinds[c]
        if k in _CONTINUOUS:
            out.append(_Column(c, k, _as_float(real[c], k), _as_float(synth[c], k)))
        else:
            out.append(_Column(c, k, *_codes(real[c], synth[c])))
    return out


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


def _tv_complement(col: _Column) -> float:
    """SDMetrics TVComplement: 1 - total variation distance of the category frequencies, NaNs dropped."""
    rc = np.bincount(col.real[col.real >= 0], minlength=col.n_categories).astype(np.float64)
    sc = np.bincount(col.synth[col.synth >= 0], minlength=col.n_categories).astype(np.float64)
    if rc.sum() == 0 or sc.sum() == 0:
        return float("nan")
    rc += _TV_REGULARISER * ((rc == 0) & (sc > 0))
    return float(1.0 - 0.5 * np.abs(sc / sc.sum() - rc / rc.sum()).sum())


def _shapes(cols: list[_Column]) -> dict:
    scores = {c.name: _ks_complement(c.real, c.synth) if c.continuous else _tv_complement(c) for c in cols}
    return {"score": _nanmean(list(scores.values())), "columns": scores}


def column_shapes(real: pd.DataFrame, synth: pd.DataFrame, kinds: dict[str, str]) -> dict:
    """SDMetrics' Column Shapes: KSComplement per numeric/datetime column, TVComplement per
    categorical/boolean column, and their mean (incomputable columns, e.g. all-NaN, are left out)."""
    return _shapes(_prepare(real, synth, kinds))


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


def _correlation_pair(a: _Column, b: _Column, threshold: float) -> tuple[float, bool]:
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


def _pair_codes(col: _Column) -> tuple[np.ndarray, np.ndarray, int] | None:
    if col.continuous:
        r, s = _bin_codes(col.real), _bin_codes(col.synth)
        return None if r is None or s is None else (r, s, _N_BINS + 2)
    k = col.n_categories  # missing values become one more category
    return np.where(col.real < 0, k, col.real), np.where(col.synth < 0, k, col.synth), k + 1


def _trends(cols: list[_Column], corr_threshold: float, assoc_threshold: float) -> dict:
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
    return _trends(_prepare(real, synth, kinds), real_correlation_threshold, real_association_threshold)


def quality(
    real: pd.DataFrame,
    synth: pd.DataFrame,
    kinds: dict[str, str],
    *,
    real_correlation_threshold: float = 0.0,
    real_association_threshold: float = 0.0,
) -> dict:
    """SDMetrics' QualityReport overall score: the mean of column shapes and column pair trends."""
    cols = _prepare(real, synth, kinds)
    shapes = _shapes(cols)
    trends = _trends(cols, real_correlation_threshold, real_association_threshold)
    return {
        "score": _nanmean([shapes["score"], trends["score"]]),
        "column_shapes": shapes,
        "column_pair_trends": trends,
    }


# ---------------------------------------------------------------- detection


def _detection_features(
    real: pd.DataFrame, synth: pd.DataFrame, kinds: dict[str, str]
) -> tuple[np.ndarray, np.ndarray]:
    """SDMetrics' HyperTransformer: numbers with NaN filled by the real mean, then one-hot blocks of
    the categoricals (fit on real; categories only the synthetic data has encode as all zeros, where
    SDMetrics raises). As in SDMetrics, booleans are not used."""
    from sklearn.preprocessing import OneHotEncoder

    cols = _columns(kinds, real, synth)
    blocks_r, blocks_s = [], []
    for c in (c for c in cols if kinds[c] in _CONTINUOUS):
        r, s = _as_float(real[c], kinds[c]), _as_float(synth[c], kinds[c])
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


# ---------------------------------------------------------------- machine-learning efficacy


def _check_target(target: str, kinds: dict[str, str], *tables: pd.DataFrame) -> None:
    if target not in kinds or any(target not in t.columns for t in tables):
        raise ConfigError(f"target column {target!r} is not in the table")
    if kinds[target] not in _CONTINUOUS + _DISCRETE:
        raise ConfigError(f"target column {target!r} is of kind {kinds[target]!r}, which cannot be predicted")


def _ml_features(train: pd.DataFrame, test: pd.DataFrame, cols: list[str], kinds: dict[str, str]) -> tuple:
    """Feature matrices for HistGradientBoosting: numbers (datetimes as epoch seconds) and categories
    as codes ordered by training frequency; categories the training set lacks, and all beyond the 255
    most frequent, become NaN (missing)."""
    xtr, xte, is_cat = [], [], []
    for c in cols:
        if kinds[c] in _CONTINUOUS:
            xtr.append(_as_float(train[c], kinds[c]))
            xte.append(_as_float(test[c], kinds[c]))
        else:
            tr, te = _as_labels(train[c]), _as_labels(test[c])
            vocab = tr.value_counts().index[:_HGB_MAX_CATEGORIES]
            for part, out in ((tr, xtr), (te, xte)):
                codes = pd.Categorical(part, categories=vocab).codes.astype(np.float64)
                out.append(np.where(codes < 0, np.nan, codes))
        is_cat.append(kinds[c] in _DISCRETE)
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
    if kinds[target] in _CONTINUOUS:
        ytr, yte = _as_float(train[target], kinds[target]), _as_float(test[target], kinds[target])
        model = HistGradientBoostingRegressor(categorical_features=is_cat, random_state=seed)
        return {"r2": float(r2_score(yte, model.fit(xtr, ytr).predict(xte)))}
    ytr, yte, _ = _codes(_as_labels(train[target]), _as_labels(test[target]))
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
    _check_kinds(kinds)
    _check_target(target, kinds, *tables)
    cols = [c for c in _columns(kinds, *tables) if c != target]
    if not cols:
        raise ConfigError(f"no feature columns left besides the target {target!r}")
    task = "regression" if kinds[target] in _CONTINUOUS else "classification"
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
        return pd.Series(_as_float(a, "datetime")), pd.Series(_as_float(b, "datetime"))
    numeric = [
        pd.api.types.is_numeric_dtype(x) and not isinstance(x.dtype, pd.CategoricalDtype) for x in (a, b)
    ]
    if all(numeric):
        fa, fb = (_as_float(x, "numeric") + 0.0 for x in (a, b))
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
    for col in _prepare(real, synth, kinds):
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
    _columns(kinds, real, synth)
    if target is not None:
        _check_target(target, kinds, real, synth, *([holdout] if holdout is not None else []))
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
        "identical_rows": identical_rows(real, synth),
        "out_of_bounds": out_of_bounds(synth, real, kinds),
    }
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
