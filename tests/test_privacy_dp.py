"""DP training of table models: the spent epsilon is Opacus's, the budget stops training, metadata is DP,
and settings DP-SGD cannot support are refused with one clear line."""

import json
import re
import subprocess

import numpy as np
import pandas as pd
import pytest
from conftest import ganforge_cmd
from opacus.accountants import RDPAccountant

from ganforge.errors import ConfigError
from ganforge.tables.model import TableGAN
from ganforge.tables.privacy.metadata import private_bounds, private_categories

TINY = {"batch_size": 100, "hidden": (16, 16), "z_dim": 8, "device": "cpu", "log_every": 10}


def table(n: int = 2000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"age": rng.integers(20, 70, n), "group": rng.choice(["a", "b", "c"], n)})


def independent_epsilon(sigma: float, rate: float, steps: int, delta: float) -> float:
    accountant = RDPAccountant()
    for _ in range(steps):
        accountant.step(noise_multiplier=sigma, sample_rate=rate)
    return accountant.get_epsilon(delta=delta)


@pytest.fixture(scope="module")
def dp_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("dp") / "run"
    gan = TableGAN(steps=25, dp={"epsilon": 2.0, "delta": 1e-4}, **TINY).fit(table(), out=out)
    return gan, out


def test_reported_epsilon_is_opacus_accountant(dp_run):
    gan, out = dp_run
    p = gan.privacy
    assert p["steps_taken"] == 25 and p["sample_rate"] == pytest.approx(100 / 2000)
    # the calibrated noise spends (almost exactly) the training share of the budget over the planned steps
    own = independent_epsilon(p["noise_multiplier"], 0.05, 25, p["training_delta"])
    assert p["training_epsilon_spent"] == pytest.approx(own, abs=1e-3)
    assert 1.75 < own <= 1.8 + 1e-9  # 2.0 minus the metadata share (10 %)
    assert p["epsilon_spent"] == pytest.approx(own + p["metadata"]["epsilon"], abs=1e-3)
    assert p["epsilon_spent"] <= 2.0
    saved = json.loads((out / "config.json").read_text())
    assert saved["privacy"]["epsilon_spent"] == p["epsilon_spent"]
    card = (out / "card.md").read_text()
    assert f"epsilon={p['epsilon_spent']}" in card and "DP-SGD" in card
    assert saved["recipe"]["pac"] == 1 and saved["recipe"]["cond_spans"] == []


def test_dp_model_samples_and_reloads(dp_run):
    from ganforge import load

    _, out = dp_run
    model = load(out)
    rows = model.sample(200, seed=1, conditions={"group": "b"})
    assert len(rows) == 200 and (rows["group"] == "b").all()
    lo, hi = model.metadata["age"].min, model.metadata["age"].max
    assert 10 <= lo <= 20 and 70 <= hi <= 90  # DP bounds: the public grid's edges around 20 .. 69
    assert rows["age"].between(lo, hi).all()


def test_training_stops_when_budget_is_spent():
    # a fixed noise multiplier and far more steps than the budget allows: the run must stop on its own
    gan = TableGAN(steps=1000, dp={"epsilon": 1.0, "delta": 1e-4, "noise_multiplier": 1.5}, **TINY)
    gan.fit(table())
    p = gan.privacy
    steps = p["steps_taken"]
    assert gan.metrics["stopped_by"] == "privacy_budget" and 1 < steps < 1000
    budget, delta = p["training_epsilon"], p["training_delta"]
    assert (
        independent_epsilon(1.5, 0.05, steps, delta)
        <= budget
        < independent_epsilon(1.5, 0.05, steps + 1, delta)
    )
    assert p["epsilon_spent"] <= 1.0


def test_dp_metadata_hides_outliers_and_rare_categories():
    rng = np.random.default_rng(0)
    v = rng.normal(50, 5, 5000)
    v[0] = 1e6  # one person's extreme value
    b = private_bounds(v, eps=1.0, rng=rng)
    assert b["max"] < 1000 and b["min"] > 10 and b["min"] < v[1:].min() + 30
    s = pd.Series(["common"] * 3000 + ["also"] * 2000 + ["unique-person"])
    c = private_categories(s, eps=1.0, delta=1e-5, rng=rng)
    assert c["categories"] == ["common", "also"] and c["dropped"]


def test_supplied_metadata_is_used_and_costs_nothing():
    meta = {"age": {"min": 0, "max": 100}, "group": {"categories": ["a", "b", "c", "d"]}}
    gan = TableGAN(steps=2, dp={"epsilon": 1.0, "delta": 1e-4}, metadata=meta, **TINY).fit(table())
    assert gan.privacy["metadata"]["epsilon"] == 0.0
    assert gan.metadata["age"].min == 0 and gan.metadata["age"].max == 100
    assert gan.metadata["group"].categories == ["a", "b", "c", "d"]


@pytest.mark.parametrize(
    ("dp", "extra", "needle"),
    [
        ({"epsilon": 0}, {}, "--epsilon must be a positive number"),
        ({"epsilon": -1}, {}, "--epsilon must be a positive number"),
        ({"epsilon": 1, "delta": 0.01}, {}, "is not below 1/n"),
        ({"epsilon": 1}, {"r1_gamma": 1.0}, "R1/R2"),
        ({"epsilon": 1}, {"loss": "rpgan"}, "loss='ns'"),
        ({"epsilon": 1, "accountant": "gdp"}, {}, "rdp or prv"),
    ],
)
def test_bad_dp_settings_are_refused(dp, extra, needle):
    with pytest.raises(ConfigError, match=re.escape(needle)):
        TableGAN(steps=2, dp=dp, **(TINY | extra)).fit(table())


def test_cli_dp_errors_are_one_line(tmp_path):
    path = tmp_path / "t.csv"
    table(100).to_csv(path, index=False)
    base = [*ganforge_cmd(), "train", "table", str(path), "--out", str(tmp_path / "r"), "--dp"]
    proc = subprocess.run([*base, "--delta", "0.5"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and "is not below 1/n" in errors[0] and "use --delta" in errors[0], proc.stderr


def test_private_codec_handles_every_kind():
    from ganforge.tables.data import infer_metadata
    from ganforge.tables.privacy.metadata import private_codec

    rng = np.random.default_rng(0)
    n = 3000
    df = pd.DataFrame({
        "patient_id": np.arange(1000, 1000 + n),
        "code": [f"P-{i:05d}" for i in range(n)],
        "seen": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 365, n), unit="D"),
        "dose": np.where(rng.random(n) < 0.5, 0.0, rng.gamma(2, 10, n)).round(1),
        "ward": np.where(rng.random(n) < 0.1, None, rng.choice(["A", "B"], n)),
        "smoker": rng.random(n) < 0.3,
    })  # fmt: skip
    meta = infer_metadata(df)
    codec, report = private_codec(df, meta, {"ward": {"categories": ["A", "B"]}}, 2.0, 1e-5, seed=0)
    assert report["columns"]["ward"] == "supplied" and report["columns"]["dose"] == "DP"
    x = codec.encode(df)
    for span in codec.spans:  # every choice span holds exactly one 1: no value spilled into a neighbour
        if span.activation == "softmax":
            assert (x[:, span.start : span.start + span.size].sum(axis=1) == 1).all(), span.column
    back = codec.decode(x, np.random.default_rng(0))
    assert back["ward"].isna().mean() == pytest.approx(df["ward"].isna().mean(), abs=0.01)
    assert (back["dose"] == 0).mean() == pytest.approx(0.5, abs=0.03)  # zero kept as its own exact value
    assert not set(back["code"]) & set(df["code"]) and back["patient_id"].min() > df["patient_id"].max() - 1


def test_resumed_dp_run_keeps_its_noise_and_accounting(tmp_path):
    from ganforge.tables.model import resume_table

    df = table()
    dp = {"epsilon": 1.0, "delta": 1e-4, "noise_multiplier": 1.5}
    first = TableGAN(steps=10, dp=dp, **TINY).fit(df, out=tmp_path / "run")
    assert first.privacy["steps_taken"] == 10 and first.metrics["stopped_by"] == "steps"
    more = resume_table(tmp_path / "run", steps=1000).fit(df, out=tmp_path / "run", resume=True)
    p = more.privacy
    # the same stop as an uninterrupted run: the budget, counted over both parts
    budget, delta = p["training_epsilon"], p["training_delta"]
    assert more.metrics["stopped_by"] == "privacy_budget" and p["noise_multiplier"] == 1.5
    steps = p["steps_taken"]
    assert (
        independent_epsilon(1.5, 0.05, steps, delta)
        <= budget
        < independent_epsilon(1.5, 0.05, steps + 1, delta)
    )
    assert p["training_epsilon_spent"] == pytest.approx(
        independent_epsilon(1.5, 0.05, steps, delta), abs=1e-3
    )
