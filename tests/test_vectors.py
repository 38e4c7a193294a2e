"""The vectors wing, end to end: it learns a known distribution, and every generic verb reaches it."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import cli_in_process

import ganforge
from ganforge.errors import DataError
from ganforge.vectors.model import VectorGAN

MEAN = np.array([3.0, -2.0])
COV = np.array([[1.0, 0.8], [0.8, 1.0]])


@pytest.fixture(scope="module")
def points(tmp_path_factory):
    folder = tmp_path_factory.mktemp("vectors")
    x = np.random.default_rng(0).multivariate_normal(MEAN, COV, 2000)
    path = folder / "points.csv"
    np.savetxt(path, x, delimiter=",", header="x,y", comments="")
    return path


@pytest.fixture(scope="module")
def run(points, tmp_path_factory):
    out = tmp_path_factory.mktemp("vrun") / "run"
    VectorGAN(steps=300, device="cpu").fit(points, out=out)
    return out


def test_learns_a_correlated_gaussian(run):
    gan = ganforge.load(run)
    x = gan.sample(4000, seed=1)
    assert np.abs(x.mean(0) - MEAN).max() < 0.3
    assert abs(np.corrcoef(x.T)[0, 1] - 0.8) < 0.15
    untrained = VectorGAN(steps=1, device="cpu", checkpoint_every=1)
    untrained.fit(np.random.default_rng(0).multivariate_normal(MEAN, COV, 2000).astype(np.float32))
    assert np.abs(untrained.sample(4000, seed=1).mean(0) - MEAN).max() > np.abs(x.mean(0) - MEAN).max()


def test_loaded_run_samples_what_the_trained_model_sampled(points, tmp_path):
    gan = VectorGAN(steps=20, device="cpu").fit(points, out=tmp_path / "r")
    assert np.array_equal(gan.sample(50, seed=3), ganforge.load(tmp_path / "r").sample(50, seed=3))


def test_generic_verbs_reach_the_wing(run, tmp_path, capsys, monkeypatch):
    done = cli_in_process(
        capsys, monkeypatch, "sample", str(run), "-n", "100", "--out", str(tmp_path / "p.csv")
    )
    assert done.returncode == 0, done.stderr
    assert np.loadtxt(tmp_path / "p.csv", delimiter=",", skiprows=1).shape == (100, 2)
    done = cli_in_process(capsys, monkeypatch, "evaluate", str(run), "-n", "500")
    assert done.returncode == 0, done.stderr
    assert ganforge.load(run).metrics["evaluation"]["frechet_distance"] < 0.2
    done = cli_in_process(capsys, monkeypatch, "report", str(run), "--out", str(tmp_path / "r.html"))
    assert done.returncode == 0 and "vectors seen" in (tmp_path / "r.html").read_text()
    done = cli_in_process(capsys, monkeypatch, "sample", str(run), "--out", str(tmp_path / "g.png"), "--grid")
    assert done.returncode == 1 and "--grid is not an option of vector models" in done.stderr


def test_bad_input_is_one_clear_line(tmp_path, capsys, monkeypatch):
    bad = tmp_path / "words.csv"
    bad.write_text("a,b\n1,x\n2,y\n")
    with pytest.raises(DataError, match="column 'b' is not numeric"):
        VectorGAN(steps=1).fit(bad)
    done = cli_in_process(capsys, monkeypatch, "train", "vectors", str(bad), "--out", str(tmp_path / "o"))
    assert done.returncode == 1 and "is not numeric" in done.stderr and "Traceback" not in done.stderr
    with pytest.raises(DataError, match="at least 2 rows"):
        VectorGAN(steps=1).fit(np.zeros((1, 3)))
