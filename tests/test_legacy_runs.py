"""Runs written by ganforge 0.1.0 (before the wings layout) still load, sample the same, evaluate, report
and serve (tests/fixtures/legacy-0.1.0/README.md says how they were made)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import cli_in_process

import ganforge

LEGACY = Path(__file__).parent / "fixtures" / "legacy-0.1.0"


@pytest.fixture
def legacy(tmp_path):
    """A copy (evaluate writes into the run)."""
    shutil.copytree(LEGACY, tmp_path / "legacy")
    return tmp_path / "legacy"


def test_an_old_image_run_samples_exactly_what_it_sampled_before(legacy):
    gan = ganforge.load(legacy / "image")
    assert isinstance(gan, ganforge.ImageGAN)
    expected = np.load(legacy / "image_samples_seed1.npy")
    assert np.array_equal(gan.sample(6, seed=1, watermark=False), expected)


def test_an_old_table_run_samples_exactly_what_it_sampled_before(legacy, monkeypatch):
    from ganforge.tables.nets import TableGenerator

    gan = ganforge.load(legacy / "table")
    assert isinstance(gan, ganforge.TableGAN)
    expected = pd.read_csv(legacy / "table_samples_seed1.csv")
    drawn = gan.sample(8, seed=1).reset_index(drop=True)

    # Sampling now draws each category and numeric mode from the generator's softmax; 0.1.0 took the most
    # likely one. With that rule back, the old run gives exactly its old rows: weights and codec load intact.
    def most_likely(self, z, c, gen):  # each choice span's largest logit, as 0.1.0 decoded it
        rows = self.generate(z, c)
        spans = self.choice_spans
        slots = torch.stack([rows[:, a : a + k].argmax(dim=1) for a, k in spans], dim=1)
        for a, k in spans:
            rows[:, a : a + k] = 0.0
        return rows.scatter_(1, slots + torch.tensor([a for a, _ in spans]), 1.0), slots

    monkeypatch.setattr(TableGenerator, "draw", most_likely)
    got = gan.sample(8, seed=1).reset_index(drop=True)
    pd.testing.assert_frame_equal(got, expected, check_dtype=False)
    assert not drawn.equals(got) and set(drawn["income"]) <= set(expected["income"])


def test_old_runs_go_through_the_generic_verbs(legacy, tmp_path, capsys, monkeypatch):
    image, table = legacy / "image", legacy / "table"
    out = tmp_path / "imgs"
    done = cli_in_process(capsys, monkeypatch, "sample", str(image), "-n", "4", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert len(list(out.glob("*.png"))) == 4
    done = cli_in_process(
        capsys, monkeypatch, "sample", str(table), "-n", "20", "--out", str(tmp_path / "t.csv")
    )
    assert done.returncode == 0, done.stderr
    assert len(pd.read_csv(tmp_path / "t.csv")) == 20
    real = str(legacy / "people.csv")
    done = cli_in_process(capsys, monkeypatch, "evaluate", str(table), "--real", real, "--no-memorisation")
    assert done.returncode == 0, done.stderr
    assert "quality" in ganforge.load(table).metrics["evaluation"]
    done = cli_in_process(capsys, monkeypatch, "report", str(image), "--out", str(tmp_path / "r.html"))
    assert done.returncode == 0, done.stderr


def test_old_runs_are_served(legacy, tmp_path):
    """A real ``ganforge serve`` on loopback: the page learns what each model can do from the API."""
    import json

    from test_serve import call, start_server, stop_server

    proc, url = start_server([f"img={legacy / 'image'}", f"people={legacy / 'table'}"], tmp_path / "log")
    try:
        status, _, body = call(f"{url}/api/models")
        listed = {m["name"]: m for m in json.loads(body)}
        assert listed["img"]["capabilities"] == ["images", "interpolate"]
        assert listed["people"]["capabilities"] == ["rows"]
        status, _, _ = call(f"{url}/api/models/img/images", {"n": 2, "seed": 1, "format": "zip"})
        assert status == 200
        status, _, body = call(f"{url}/api/models/people/rows", {"n": 5, "seed": 1, "format": "csv"})
        assert status == 200 and len(body.decode().strip().splitlines()) == 6
    finally:
        stop_server(proc)
