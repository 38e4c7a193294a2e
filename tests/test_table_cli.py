"""`ganforge train table`, `sample`, `evaluate` as a user runs them; bad input gets one clear line."""

import subprocess

import numpy as np
import pandas as pd
import pytest
from conftest import ganforge_cmd
from test_cli_errors import assert_clean_error


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*ganforge_cmd(), *args], capture_output=True, text=True, timeout=300)


def small_table(n: int = 400, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    age = rng.integers(18, 80, n)
    return pd.DataFrame({
        "id": np.arange(1000, 1000 + n),
        "age": age,
        "income": np.where(age + rng.normal(0, 10, n) > 45, ">50K", "<=50K"),
        "city": rng.choice(["Oslo", "Lima", "Pune"], n),
        "balance": rng.lognormal(8, 1, n).round(2),
    })  # fmt: skip


FAST = ["--epochs", "3", "--batch", "100", "--device", "cpu"]


@pytest.fixture(scope="module")
def table_run(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    small_table().to_csv(d / "people.csv", index=False)
    # the generator's own targets: its 3-epoch rows are then easy to tell apart (the C2ST check below)
    proc = run_cli("train", "table", str(d / "people.csv"), "--out", str(d / "run"), "--target", "income",
                   "--no-target-model", *FAST)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return d, proc


def test_train_prints_detected_metadata_and_writes_the_artifact(table_run):
    d, proc = table_run
    assert "id" in proc.stderr and "categorical" in proc.stderr and "numeric" in proc.stderr
    # the outcome on stdout, progress on stderr; the hint names the held-out rows evaluation wants
    assert f"run directory: {d / 'run'}" in proc.stdout and "run directory" not in proc.stderr
    assert "steps" in proc.stdout and "--holdout" in proc.stdout
    for name in ("model.safetensors", "config.json", "card.md", "metrics.jsonl"):
        assert (d / "run" / name).is_file(), name


def test_sample_streams_rows_with_conditions_and_evaluate_reports(table_run):
    d, _ = table_run
    out = d / "synth.parquet"
    proc = run_cli("sample", str(d / "run"), "-n", "2500", "--out", str(out), "--seed", "1",
                   "-c", "city=Lima", "-c", "age=30..60")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    df = pd.read_parquet(out)
    assert len(df) == 2500 and (df["city"] == "Lima").all() and df["age"].between(30, 60).all()
    assert df["id"].is_unique and not df["id"].isin(small_table()["id"]).any()  # fresh ids, never real ones
    proc = run_cli("evaluate", str(d / "run"))
    assert proc.returncode == 0, proc.stderr
    assert "quality" in proc.stdout and "TSTR accuracy" in proc.stdout
    # the benchmark's detection figure, the same way: a 30-step model's rows are easy to tell apart
    c2st_line = next(line for line in proc.stdout.splitlines() if "detection AUC (C2ST)" in line)
    assert 0.7 < float(c2st_line.split()[-1]) <= 1.0, c2st_line
    assert "target class-rate gap (points)" in proc.stdout and "TRTR macro-F1" in proc.stdout
    card = (d / "run" / "card.md").read_text()
    assert "quality" in card and "target model**: none" in card


def test_bad_tables_are_refused_in_one_line(tmp_path):
    (tmp_path / "empty.csv").write_text("a,b\n")
    assert_clean_error(
        run_cli("train", "table", str(tmp_path / "empty.csv"), "--out", str(tmp_path / "r")), "empty"
    )
    (tmp_path / "junk.parquet").write_bytes(b"\x00\x01 not parquet at all")
    assert_clean_error(
        run_cli("train", "table", str(tmp_path / "junk.parquet"), "--out", str(tmp_path / "r")),
        "junk.parquet",
    )
    assert_clean_error(
        run_cli("train", "table", str(tmp_path / "missing.csv"), "--out", str(tmp_path / "r")), "missing.csv"
    )
    df = small_table(50)
    df["blank"] = np.nan
    df.to_csv(tmp_path / "nan.csv", index=False)
    assert_clean_error(
        run_cli("train", "table", str(tmp_path / "nan.csv"), "--out", str(tmp_path / "r")), "blank"
    )
    mixed = small_table(50).astype({"age": object})
    mixed.loc[7, "age"] = "forty"
    mixed.to_csv(tmp_path / "mixed.csv", index=False)
    assert_clean_error(
        run_cli("train", "table", str(tmp_path / "mixed.csv"), "--out", str(tmp_path / "r")), "age", "forty"
    )
    assert not (tmp_path / "r" / "model.safetensors").exists()


def test_bad_sample_requests_are_refused_and_nothing_is_lost(table_run):
    d, _ = table_run
    before = (d / "run" / "model.safetensors").read_bytes()
    out = str(d / "x.parquet")
    assert_clean_error(
        run_cli("sample", str(d / "run"), "-n", "10", "--out", out, "-c", "city=Paris"), "Paris"
    )
    assert_clean_error(run_cli("sample", str(d / "run"), "-n", "0", "--out", out), "-n")
    assert_clean_error(run_cli("sample", str(d / "run"), "-n", "10", "--out", str(d / "x.txt")), ".parquet")
    assert_clean_error(run_cli("sample", str(d / "run"), "-n", "10", "--out", out, "-c", "nope=1"), "nope")
    assert (d / "run" / "model.safetensors").read_bytes() == before


def test_metadata_overrides_change_what_is_learned(tmp_path):
    import json

    df = small_table(200)
    df["zip"] = np.random.default_rng(1).choice([1010, 2020, 3030], len(df))
    df.to_csv(tmp_path / "t.csv", index=False)
    (tmp_path / "meta.json").write_text(json.dumps({"zip": {"kind": "categorical"}}))
    proc = run_cli("train", "table", str(tmp_path / "t.csv"), "--out", str(tmp_path / "run"),
                   "--metadata", str(tmp_path / "meta.json"), *FAST)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    kinds = {c["name"]: c["kind"] for c in config["codec"]["meta"]["columns"]}
    assert kinds["zip"] == "categorical" and kinds["age"] == "numeric"
    (tmp_path / "bad.json").write_text("{not json")
    proc = run_cli("train", "table", str(tmp_path / "t.csv"), "--out", str(tmp_path / "run2"),
                   "--metadata", str(tmp_path / "bad.json"), *FAST)  # fmt: skip
    assert_clean_error(proc, "bad.json")
    (tmp_path / "unknown.json").write_text(json.dumps({"nope": {"kind": "categorical"}}))
    proc = run_cli("train", "table", str(tmp_path / "t.csv"), "--out", str(tmp_path / "run3"),
                   "--metadata", str(tmp_path / "unknown.json"), *FAST)  # fmt: skip
    assert_clean_error(proc, "nope")
