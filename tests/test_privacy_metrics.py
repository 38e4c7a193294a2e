"""Privacy metrics have power: a model that copies its training rows is caught (membership AUC, DCR,
copies, attribute inference), an independent sample of the population is not, and a DP model with a
small epsilon looks like the latter. The evaluate command and the report show the figures."""

import json
import subprocess

import numpy as np
import pandas as pd
import pytest
from conftest import ganforge_cmd

from ganforge.tables.model import TableGAN
from ganforge.tables.privacy.metrics import privacy_metrics

KINDS = {"x": "numeric", "y": "numeric", "colour": "categorical", "secret": "categorical"}


def population(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 1, n)
    return pd.DataFrame({
        "x": x.round(3), "y": (0.5 * x + rng.normal(0, 1, n)).round(3),
        "colour": rng.choice(["red", "green", "blue"], n),
        "secret": rng.choice(["yes", "no"], n),  # independent of the rest: only memorisation predicts it
    })  # fmt: skip


def test_copying_model_is_caught():
    train, holdout = population(600, 1), population(600, 2)
    copies = train.sample(600, replace=True, random_state=0)
    r = privacy_metrics(train, holdout, copies, KINDS, sensitive="secret")
    assert r["membership_inference"]["auc"] > 0.75
    assert r["dcr"]["closer_to_train_share"] > 0.95
    assert r["exact_copies"]["train"] == 600 and r["exact_copies"]["holdout_baseline"] == 0
    assert r["nndr"]["median"] < 0.05
    ai = r["attribute_inference"]
    assert ai["train"] > 0.75 and ai["holdout"] < 0.6 and ai["advantage"] > 0.2


def test_fresh_sample_of_the_population_leaks_nothing():
    train, holdout, fresh = population(600, 1), population(600, 2), population(600, 3)
    r = privacy_metrics(train, holdout, fresh, KINDS, sensitive="secret")
    assert abs(r["membership_inference"]["auc"] - 0.5) < 0.06
    assert abs(r["dcr"]["closer_to_train_share"] - 0.5) < 0.08
    assert r["exact_copies"]["train"] == 0
    assert abs(r["attribute_inference"]["advantage"]) < 0.1


@pytest.fixture(scope="module")
def dp_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("priv")
    train, holdout = population(1000, 1), population(1000, 2)
    train.to_csv(folder / "train.csv", index=False)
    holdout.to_csv(folder / "test.csv", index=False)
    TableGAN(steps=30, batch_size=100, hidden=(32, 32), z_dim=16, device="cpu",
             dp={"epsilon": 0.5, "delta": 1e-4}).fit(folder / "train.csv", out=folder / "run")  # fmt: skip
    return folder


def test_dp_model_with_small_epsilon_gives_membership_away_no_more_than_chance(dp_run):
    from ganforge.tables.evaluate import evaluate_table_run

    result = evaluate_table_run(dp_run / "run", holdout=dp_run / "test.csv", privacy=True, sensitive="secret")
    p = result["privacy"]
    assert abs(p["membership_inference"]["auc"] - 0.5) < 0.06
    assert abs(p["attribute_inference"]["advantage"]) < 0.1
    assert p["exact_copies"]["train"] <= p["exact_copies"]["holdout_baseline"] + 2
    saved = json.loads((dp_run / "run" / "evaluation" / "privacy.json").read_text())
    assert saved["membership_inference"]["auc"] == p["membership_inference"]["auc"]
    config = json.loads((dp_run / "run" / "config.json").read_text())
    assert config["metrics"]["evaluation"]["membership AUC"] == round(p["membership_inference"]["auc"], 4)


def test_report_has_a_privacy_section_with_plots(dp_run):
    from ganforge.reporting.report import write_report
    from ganforge.tables.evaluate import evaluate_table_run

    if not (dp_run / "run" / "evaluation" / "privacy.json").exists():  # when run on its own
        evaluate_table_run(dp_run / "run", holdout=dp_run / "test.csv", privacy=True)
    html = write_report(dp_run / "run").read_text()
    start = html.index('id="privacy"')
    section = html[start : html.index("</section>", start)]
    assert "membership AUC" in section and "DP-SGD" in section
    assert section.count("data:image/png;base64,") == 2


def test_privacy_needs_a_holdout_cli(dp_run):
    proc = subprocess.run([*ganforge_cmd(), "evaluate", str(dp_run / "run"), "--privacy"],
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert proc.returncode == 1 and len(errors) == 1 and "--holdout" in errors[0], proc.stderr
