"""Table metrics: agreement with SDMetrics, and each metric on data whose answer is known."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest

from ganforge.errors import ConfigError
from ganforge.tables.metric_utility import (
    c2st,
    class_rates,
    detection,
    identical_rows,
    missing_rates,
    ml_efficacy,
    out_of_bounds,
)
from ganforge.tables.metrics import column_pair_trends, column_shapes, evaluate_table, quality

KINDS = {
    "x": "numeric",
    "y": "numeric",
    "k": "numeric",
    "cat": "categorical",
    "flag": "boolean",
    "when": "datetime",
    "row_id": "id",
}
SDTYPES = {
    "numeric": "numerical",
    "categorical": "categorical",
    "boolean": "boolean",
    "datetime": "datetime",
    "id": "id",
}


def mixed_table(n: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    """Two correlated numerics, an int, a categorical and a boolean that depend on them, a datetime,
    an id, and a few NaNs in y, cat and flag."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    y = 0.8 * x + 0.6 * rng.normal(size=n) + shift
    k = rng.integers(0, 50, n) + (x > 0) * 20
    cat = np.where(x + rng.normal(size=n) > 0.5, "a", np.where(rng.random(n) < 0.5, "b", "c"))
    flag = (k > 30) ^ (rng.random(n) < 0.1)
    seconds = rng.integers(0, 10**7, n) + (x * 1e6).astype(np.int64)
    df = pd.DataFrame(
        {
            "x": x,
            "y": y,
            "k": k,
            "cat": cat.astype(object),
            "flag": flag.astype(object),
            "when": pd.Timestamp("2020-01-01") + pd.to_timedelta(seconds, unit="s"),
            "row_id": np.arange(n) + seed * n,
        }
    )
    df.loc[rng.choice(n, 30, replace=False), "y"] = np.nan
    df.loc[rng.choice(n, 20, replace=False), "cat"] = None
    df.loc[rng.choice(n, 10, replace=False), "flag"] = np.nan
    return df


@pytest.fixture(scope="module")
def real() -> pd.DataFrame:
    return mixed_table(2000, 0)


@pytest.fixture(scope="module")
def perturbed() -> pd.DataFrame:
    """A different sample, shifted in y, with category 'c' renamed to one real data never has."""
    synth = mixed_table(1500, 1, shift=0.3)
    synth["cat"] = synth["cat"].replace({"c": "d"})
    return synth


def sdmetrics_metadata() -> dict:
    return {"columns": {c: {"sdtype": SDTYPES[k]} for c, k in KINDS.items()}}


# Both compute the same float64 sums (in a different order), so they agree to rounding, far inside 1e-3.
@pytest.mark.parametrize("thresholds", [(0.0, 0.0), (0.5, 0.3)])
def test_quality_matches_sdmetrics_report(real, perturbed, thresholds):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from sdmetrics.reports.single_table import QualityReport

        report = QualityReport()
        report.real_correlation_threshold, report.real_association_threshold = thresholds
        report.generate(real, perturbed, sdmetrics_metadata(), verbose=False)
    ours = quality(
        real,
        perturbed,
        KINDS,
        real_correlation_threshold=thresholds[0],
        real_association_threshold=thresholds[1],
    )

    shapes = report.get_details("Column Shapes").set_index("Column")["Score"]
    assert set(ours["column_shapes"]["columns"]) == set(shapes.index)
    for name, score in shapes.items():
        assert ours["column_shapes"]["columns"][name] == pytest.approx(score, abs=1e-12), name
    assert ours["column_shapes"]["score"] == pytest.approx(report.get_properties()["Score"][0], abs=1e-12)

    pairs = report.get_details("Column Pair Trends")
    counted = pairs[pairs["Meets Threshold?"].fillna(False).astype(bool)]
    assert ours["column_pair_trends"]["counted"] == len(counted)
    assert len(ours["column_pair_trends"]["pairs"]) == len(pairs) == 15
    for _, row in counted.iterrows():
        key = f"{row['Column 1']}|{row['Column 2']}"
        assert ours["column_pair_trends"]["pairs"][key] == pytest.approx(row["Score"], abs=1e-12), key
    assert ours["column_pair_trends"]["score"] == pytest.approx(
        report.get_properties()["Score"][1], abs=1e-12
    )
    assert ours["score"] == pytest.approx(report.get_score(), abs=1e-12)
    assert 0.5 < ours["score"] < 0.95  # the perturbation is visible, so the comparison means something


def test_detection_matches_sdmetrics_logistic_detection(real):
    from sdmetrics.single_table import LogisticDetection

    synth = mixed_table(1500, 1, shift=0.3)  # SDMetrics raises on categories real data lacks
    for seed in (0, 1):
        # SDMetrics' folds come from the global NumPy state; seeding it gives the folds we draw.
        np.random.seed(seed)
        theirs = LogisticDetection.compute(real, synth, sdmetrics_metadata())
        ours = detection(real, synth, KINDS, seed=seed)
        assert ours["score"] == pytest.approx(theirs, abs=1e-9)
    assert 0.55 < ours["auc"] < 0.8


def test_identical_tables_score_one_and_shuffled_columns_lose_only_pair_trends(real):
    same = quality(real, real.copy(), KINDS)
    assert same["column_shapes"]["score"] == pytest.approx(1.0, abs=1e-12)
    assert same["column_pair_trends"]["score"] == pytest.approx(1.0, abs=1e-12)
    assert same["score"] == pytest.approx(1.0, abs=1e-12)

    rng = np.random.default_rng(5)
    shuffled = real.apply(lambda s: s.to_numpy()[rng.permutation(len(s))])
    assert column_shapes(real, shuffled, KINDS)["score"] == pytest.approx(1.0, abs=1e-12)
    trends = column_pair_trends(real, shuffled, KINDS)
    assert trends["score"] < 0.9
    assert trends["pairs"]["x|y"] < 0.65  # real r = 0.8, shuffled r = 0
    assert detection(real, real.copy(), KINDS)["score"] > 0.9


def threshold_table(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    return pd.DataFrame(
        {
            "x": x,
            "noise": rng.normal(size=n),
            "colour": rng.choice(["red", "green"], n),
            "label": np.where(x < -0.5, "low", np.where(x < 0.7, "mid", "high")),
            "value": 3 * x + 1,
        }
    )


def test_ml_efficacy_learns_a_deterministic_target_and_not_a_shuffled_one():
    kinds = {
        "x": "numeric",
        "noise": "numeric",
        "colour": "categorical",
        "label": "categorical",
        "value": "numeric",
    }
    train, synth, holdout = threshold_table(1500, 0), threshold_table(1500, 1), threshold_table(1000, 2)
    features = {c: k for c, k in kinds.items() if c != "value"}
    good = ml_efficacy(synth.drop(columns="value"), holdout, "label", features, real=train)
    assert good["task"] == "classification"
    assert good["tstr_accuracy"] > 0.97 and good["trtr_accuracy"] > 0.97
    assert abs(good["tstr_accuracy"] - good["trtr_accuracy"]) < 0.02
    assert good["tstr_f1"] > 0.95

    noise = synth.assign(label=np.random.default_rng(3).permutation(synth["label"].to_numpy()))
    bad = ml_efficacy(noise, holdout, "label", features)
    majority = holdout["label"].value_counts(normalize=True).max()
    assert bad["tstr_accuracy"] < majority + 0.05  # no better than always guessing the majority
    assert bad["tstr_accuracy"] < good["tstr_accuracy"] - 0.4
    assert "trtr_accuracy" not in bad

    regression = ml_efficacy(synth, holdout, "value", kinds)
    assert regression["task"] == "regression" and regression["tstr_r2"] > 0.99
    noisy_value = synth.assign(value=np.random.default_rng(4).permutation(synth["value"].to_numpy()))
    assert ml_efficacy(noisy_value, holdout, "value", kinds)["tstr_r2"] < 0.05


def test_identical_rows_finds_copies_whatever_the_dtype(real):
    assert identical_rows(real, real.copy()) == {"share": 1.0, "count": len(real)}
    assert identical_rows(real, mixed_table(500, 7))["count"] == 0
    # Half copied rows (NaNs included), shuffled, the int column as float: exactly those match.
    copies = real.sample(300, random_state=0)
    mixed = pd.concat([copies, mixed_table(300, 8)]).sample(frac=1, random_state=1)
    mixed["k"] = mixed["k"].astype(float)
    assert copies[["y", "cat", "flag"]].isna().any(axis=1).any()
    assert identical_rows(real, mixed) == {"share": 0.5, "count": 300}
    # Rows differing in a single value are not copies.
    changed = copies.assign(k=copies["k"] + 1)
    assert identical_rows(real, changed)["count"] == 0


def test_out_of_bounds_counts_exactly_what_was_injected():
    rng = np.random.default_rng(0)
    kinds = {"amount": "numeric", "count": "numeric", "colour": "categorical", "ok": "boolean"}
    real = pd.DataFrame(
        {
            "amount": rng.uniform(0, 100, 400),
            "count": rng.integers(0, 10, 400),
            "colour": rng.choice(["red", "green"], 400),
            "ok": rng.random(400) < 0.5,
        }
    )
    synth = real.sample(200, random_state=1).reset_index(drop=True)
    synth["count"] = synth["count"].astype(float)
    synth.loc[[0, 1, 2], "amount"] = [-1.0, -0.001, -50.0]
    synth.loc[[3, 4, 5, 6], "count"] = [2.5, 0.1, 8.99, 5.5]
    synth.loc[[7, 8], "colour"] = ["blue", "RED"]
    synth.loc[9, "colour"] = None  # missing is not a new category
    result = out_of_bounds(synth, real, kinds)
    assert result == {"count": 9, "columns": {"amount": 3, "count": 4, "colour": 2, "ok": 0}}
    assert out_of_bounds(real, real, kinds)["count"] == 0


def test_evaluate_table_is_json_ready_and_bounded(real, perturbed):
    out = evaluate_table(real, perturbed, KINDS, target="cat", max_rows=800, seed=0)
    json.dumps(out, allow_nan=False)
    assert out["rows"] == {"real": 2000, "synth": 1500, "evaluated_real": 800, "evaluated_synth": 800}
    assert out["identical_rows"]["count"] == 0
    assert out["out_of_bounds"]["columns"]["cat"] == (perturbed["cat"] == "d").sum()
    assert out["ml_efficacy"]["trtr_accuracy"] > out["ml_efficacy"]["tstr_accuracy"]  # "c" became "d"
    assert out["quality"]["score"] == pytest.approx(
        quality(real.sample(800, random_state=0), perturbed.sample(800, random_state=1), KINDS)["score"]
    )


def test_c2st_tells_a_shift_or_a_wrong_missing_rate_apart_and_not_a_fresh_sample(real):
    fresh = mixed_table(2000, 7)
    same = c2st(real, fresh, KINDS, seed=0)["auc"]
    shifted = c2st(real, mixed_table(2000, 7, shift=0.5), KINDS, seed=0)["auc"]
    holes = fresh.copy()
    holes.loc[holes.index[:600], "cat"] = None  # the same rows otherwise; 30 % more missing values
    missing = c2st(real, holes, KINDS, seed=0)["auc"]
    assert 0.4 < same < 0.56
    assert shifted > 0.65  # y | x moves 0.83 sd: the best possible AUC is about 0.72
    assert missing > same + 0.08
    # the larger table is subsampled to the smaller one's size, so AUC 0.5 stays the chance level
    assert c2st(real, fresh.iloc[:300], KINDS, seed=0)["rows_each"] == 300
    assert c2st(real, fresh.iloc[:3], KINDS)["folds"] == 3  # tiny samples: fewer folds, still a figure
    with pytest.raises(ConfigError, match="C2ST needs at least 2"):
        c2st(real, fresh.iloc[:1], KINDS)


def test_missing_and_class_rates_report_the_gap_in_points(real):
    synth = real.copy()
    synth.loc[synth.index[:200], "y"] = np.nan  # 30 of 2000 missing -> 230 (or fewer if already NaN)
    out = missing_rates(real, synth, KINDS)
    want = (synth["y"].isna().mean() - real["y"].isna().mean()) * 100
    assert out["max_gap_points"] == pytest.approx(want)
    assert set(out["columns"]) == {"y", "cat", "flag"}  # only columns with missing values
    assert missing_rates(real, real, KINDS)["max_gap_points"] == 0
    flipped = real.assign(cat=real["cat"].replace({"a": "b"}))
    rates = class_rates(real, flipped, "cat")
    assert rates["classes"]["a"]["synth"] == 0
    assert rates["max_gap_points"] == pytest.approx((real["cat"] == "a").mean() * 100)
    assert rates["classes"]["<missing>"]["real"] == pytest.approx(real["cat"].isna().mean())


def test_bad_configuration_is_a_config_error(real):
    with pytest.raises(ConfigError, match="target column 'nope'"):
        ml_efficacy(real, real, "nope", KINDS)
    with pytest.raises(ConfigError, match="target column 'nope'"):
        evaluate_table(real, real, KINDS, target="nope")
    with pytest.raises(ConfigError, match="unknown column kind"):
        quality(real, real, {**KINDS, "x": "float"})
    with pytest.raises(ConfigError, match="share no columns"):
        identical_rows(real, real.rename(columns=lambda c: c + "_"))
    with pytest.raises(ConfigError, match="share no numeric"):
        quality(real, real, {"row_id": "id"})
