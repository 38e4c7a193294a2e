"""Precision/recall/density/coverage, memorisation (images and tables), augmentation utility and the
`ganforge evaluate` command that records them: each on data whose right answer is known."""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import ganforge_cmd
from PIL import Image
from rich.progress import Progress
from test_cli_errors import assert_clean_error

from ganforge.errors import ConfigError, DataError
from ganforge.images.augment_utility import augment_utility
from ganforge.metrics.memorisation import memorisation, nearest_neighbours
from ganforge.metrics.prdc import coverage, knn_radii, prdc
from ganforge.tables.memorisation import encode_rows, table_memorisation


def eight_modes(n: int, seed: int, modes: list[int] | None = None) -> np.ndarray:
    """n points from a ring of 8 well-separated Gaussians in 2-D (only ``modes`` when given)."""
    rng = np.random.default_rng(seed)
    chosen = rng.choice(modes if modes is not None else np.arange(8), size=n)
    angles = chosen * np.pi / 4
    return np.stack([np.cos(angles), np.sin(angles)], axis=1) * 4 + rng.normal(0, 0.3, (n, 2))


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray]:
    """sklearn's 1,797 8x8 digits as uint8 (N, 8, 8, 1) images and labels, in a fixed random order (the
    file is ordered by writer, so consecutive blocks are not i.i.d.)."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    order = np.random.default_rng(0).permutation(len(bunch.images))
    images = np.rint(bunch.images[order] * (255 / 16)).astype(np.uint8)[..., None]
    return images, bunch.target[order]


# ------------------------------------------------------------------------------------------- PRDC


def brute_force_prdc(real: np.ndarray, fake: np.ndarray, k: int) -> dict[str, float]:
    """The paper's definitions written as directly as possible, for small sets."""
    from scipy.spatial.distance import cdist

    r_rad = np.sort(cdist(real, real), axis=1)[:, k]
    f_rad = np.sort(cdist(fake, fake), axis=1)[:, k]
    d = cdist(real, fake)  # real x fake
    inside = d <= r_rad[:, None]
    return {
        "precision": float(np.mean([inside[:, j].any() for j in range(len(fake))])),
        "recall": float(np.mean([(d[i] <= f_rad).any() for i in range(len(real))])),
        "density": float(inside.sum() / (k * len(fake))),
        "coverage": float(np.mean([d[i].min() <= r_rad[i] for i in range(len(real))])),
    }


def test_prdc_matches_the_definitions_on_random_sets() -> None:
    rng = np.random.default_rng(3)
    real, fake = rng.normal(size=(150, 7)), rng.normal(0.3, 1.2, size=(120, 7))
    got = prdc(real, fake, k=4)
    want = brute_force_prdc(real, fake, 4)
    for key, value in want.items():
        assert got[key] == pytest.approx(value, abs=1e-12), key
    assert 0 < got["precision"] < 1 and 0 < got["recall"] < 1  # a case where every term matters
    np.testing.assert_allclose(
        knn_radii(real, 4), np.sort(np.linalg.norm(real[:, None] - real, axis=2))[:, 4]
    )


def test_prdc_is_high_for_one_distribution_and_low_for_shifted_or_collapsed_samples() -> None:
    real = eight_modes(800, seed=0)
    same = prdc(real, eight_modes(800, seed=1))
    assert min(same["precision"], same["recall"], same["coverage"]) > 0.85, same
    assert 0.8 < same["density"] < 1.2, same
    shifted = prdc(real, eight_modes(800, seed=1) + np.array([2.0, 2.0]))
    assert max(shifted["precision"], shifted["recall"], shifted["coverage"]) < 0.3, shifted
    # Two of eight modes: every sample is realistic, but a quarter of the data is covered.
    collapsed = prdc(real, eight_modes(800, seed=1, modes=[0, 4]))
    assert collapsed["precision"] > 0.9, collapsed
    assert 0.15 < collapsed["recall"] < 0.35 and 0.15 < collapsed["coverage"] < 0.35, collapsed
    # Density measures fidelity, not diversity: as high as for the full set, and near 0 off the data.
    assert collapsed["density"] > 0.8 and shifted["density"] < 0.2


def test_coverage_agrees_with_the_training_health_check() -> None:
    from ganforge.engine.health import coverage as health_coverage

    real, fake = eight_modes(300, seed=0), eight_modes(300, seed=2, modes=[1, 2, 3])
    expected = health_coverage(torch.from_numpy(real), torch.from_numpy(fake))
    assert coverage(real, fake) == pytest.approx(expected, abs=1e-6)
    assert coverage(real, fake) == prdc(real, fake)["coverage"]


def test_per_class_fid_shortcut_equals_the_full_formula() -> None:
    from ganforge.metrics.fid import FeatureStats, features_frechet_distance, frechet_distance

    rng = np.random.default_rng(5)
    for n_a, n_b, d in ((30, 45, 64), (80, 90, 12)):  # fewer samples than dimensions, and more
        a, b = rng.normal(size=(n_a, d)), rng.normal(0.2, 1.3, size=(n_b, d))
        sa, sb = FeatureStats.from_features(a, "x"), FeatureStats.from_features(b, "x")
        full = frechet_distance(sa.mu, sa.sigma, sb.mu, sb.sigma)
        assert features_frechet_distance(a, b) == pytest.approx(full, rel=1e-7)
    with pytest.raises(DataError):
        features_frechet_distance(a[:1], b)


def test_prdc_rejects_bad_input() -> None:
    a = np.zeros((20, 3))
    with pytest.raises(DataError, match="feature sizes"):
        prdc(a, np.zeros((20, 4)))
    with pytest.raises(DataError, match="more than 5"):
        prdc(a, np.zeros((5, 3)))
    with pytest.raises(DataError, match="NaN"):
        prdc(np.full((20, 3), np.nan), a)
    with pytest.raises(ConfigError, match="k must be"):
        knn_radii(a, k=20)


# ------------------------------------------------------------------------------ memorisation: images


def test_nearest_neighbours_finds_the_source_and_leaves_self_out() -> None:
    rng = np.random.default_rng(0)
    ref = rng.normal(size=(50, 6))
    idx, dist = nearest_neighbours(ref[[7, 3, 7]] + 1e-9, ref)
    assert idx.tolist() == [7, 3, 7] and dist.max() < 1e-6
    idx, dist = nearest_neighbours(ref[:10], ref, exclude=np.arange(10))
    assert (idx != np.arange(10)).all() and dist.min() > 0.1
    with pytest.raises(DataError, match="values per row"):
        nearest_neighbours(ref[:, :4], ref)
    with pytest.raises(ConfigError, match="quantile"):
        memorisation(ref, ref, quantile=0.7)


def test_copies_of_training_digits_are_flagged_and_new_digits_are_not(digits) -> None:
    images, _ = digits
    train, holdout, new = images[:1000], images[1000:1300], images[1300:]
    rng = np.random.default_rng(1)
    source = rng.integers(0, len(train), 400)
    noise = rng.integers(-3, 4, (400, 8, 8, 1))
    copies = np.clip(train[source].astype(int) + noise, 0, 255).astype(np.uint8)  # near-verbatim copies
    # A smooth generator: samples from a Gaussian fitted to the training pixels (new, if blurry, digits).
    flat = train.reshape(len(train), -1).astype(float)
    gaussian = rng.multivariate_normal(flat.mean(0), np.cov(flat, rowvar=False), size=400)
    smooth = np.clip(gaussian, 0, 255).reshape(-1, 8, 8, 1)
    partly = np.concatenate([copies[:120], new[:280]])  # 30 % copies
    for baseline in (holdout, None):  # a held-out set, or leave-one-out within the training set
        copied = memorisation(copies, train, holdout=baseline)
        assert copied["flagged"] and copied["memorised_share"] > 0.9, copied
        assert copied["median_distance_ratio"] < 0.3
        assert memorisation(partly, train, holdout=baseline)["flagged"]
        for fresh in (new, smooth):
            result = memorisation(fresh, train, holdout=baseline)
            assert not result["flagged"] and result["memorised_share"] < 0.03, result
            assert result["median_distance_ratio"] > 0.85
        assert 0.005 <= copied["baseline_share"] <= 0.02  # ~ the 1 % quantile the threshold is set at
    # The closest pairs name the training image each copy came from.
    pairs = memorisation(copies, train, n_pairs=16)["closest"]
    assert len(pairs) == 16 and all(p["train"] == source[p["sample"]] for p in pairs)
    assert [p["distance"] for p in pairs] == sorted(p["distance"] for p in pairs)


def test_image_memorisation_writes_the_panel_and_the_record(tmp_path) -> None:
    from ganforge.images.builtin import load_builtin
    from ganforge.images.evaluate import image_memorisation

    ds = load_builtin("digits", 16, split="train")
    train = ds.images
    fake = np.concatenate([train[[5, 50, 500]], load_builtin("digits", 16, split="test").images[:37]])
    with Progress(transient=True) as progress:
        result = image_memorisation(ds, fake, tmp_path, "pixels", 10_000, 0, progress)
    assert result["closest"][0]["distance"] == 0.0
    assert {p["train"] for p in result["closest"][:3]} == {5, 50, 500}
    assert result["train_searched"] == result["train_total"] == len(train) and result["space"] == "pixels"
    assert result["memorised_share"] == pytest.approx(3 / 40) and result["flagged"]
    on_disk = json.loads((tmp_path / "evaluation" / "memorisation.json").read_text())
    assert on_disk["closest"][0]["train"] in (5, 50, 500)
    panel = np.asarray(Image.open(tmp_path / "evaluation" / "nearest.png").convert("L"))
    # 16 pairs, 4 per row, each image enlarged 4x to 64 px: the closest pair's halves are the same copy.
    assert panel.shape[0] > 4 * 64 and panel.shape[1] > 8 * 64
    left, right = panel[10 : 10 + 64, 10 : 10 + 64], panel[10 : 10 + 64, 10 + 64 + 2 : 10 + 2 * 64 + 2]
    assert np.array_equal(left, right) and left.std() > 20


# ------------------------------------------------------------------------------- memorisation: tables

KINDS = {"id": "id", "age": "numeric", "income": "numeric", "city": "categorical", "member": "boolean"}


def people(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    age = rng.normal(45, 12, n).round(1)
    income = np.exp(rng.normal(10, 0.5, n)) + 300 * age
    income[rng.random(n) < 0.05] = np.nan
    city = rng.choice(["Oslo", "Lima", "Pune", None], n, p=[0.4, 0.3, 0.25, 0.05])
    return pd.DataFrame({"id": np.arange(n) + 10_000 * seed, "age": age, "income": income, "city": city,
                         "member": rng.random(n) < 0.3})  # fmt: skip


def test_dcr_flags_copied_rows_but_not_fresh_rows_of_the_same_distribution() -> None:
    train, holdout, fresh = people(800, 0), people(300, 1), people(400, 2)
    copies = train.sample(400, replace=True, random_state=0).reset_index(drop=True)
    copies["id"] = np.arange(400) + 99_000  # a new id does not hide a copied row
    for hold in (holdout, None):
        copied = table_memorisation(train, copies, KINDS, holdout=hold)
        assert (
            copied["flagged"] and copied["memorised_share"] == 1.0 and copied["closest"][0]["distance"] == 0
        )
        clean = table_memorisation(train, fresh, KINDS, holdout=hold)
        assert not clean["flagged"] and clean["memorised_share"] < 0.04, clean
        assert 0.8 < clean["median_distance_ratio"] < 1.25
    pair = table_memorisation(train, copies, KINDS, n_pairs=1)["closest"][0]
    pd.testing.assert_series_equal(
        copies.drop(columns="id").iloc[pair["sample"]], train.drop(columns="id").iloc[pair["train"]],
        check_names=False,
    )  # fmt: skip


def test_row_encoding_scales_numbers_by_their_spread_and_counts_a_category_as_one() -> None:
    train = pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0, 4.0, np.nan], "c": ["a", "b", "a", "b", "a", None]})
    other = pd.DataFrame({"x": [2.0, 2.0, 4.0, np.nan], "c": ["a", "b", "a", "zzz"]})
    tx, (ox,) = encode_rows(train, [other], {"x": "numeric", "c": "categorical"})
    dist = lambda i, j: float(np.linalg.norm(ox[i] - ox[j]))  # noqa: E731
    assert dist(0, 2) == pytest.approx(1.0)  # 2 -> 4 is one interquartile range (1..3)
    assert dist(0, 1) == pytest.approx(1.0)  # a differing category counts as much
    assert tx.shape == (6, 2 + 3) and ox[3, 1] == 1.0  # value, missing flag, one-hot a/b/missing
    assert ox[3, 2:].sum() == 0  # a category training never had is no category of training's


# ------------------------------------------------------------------------------ augmentation utility


def test_augment_utility_rises_with_real_extra_images_and_falls_with_mislabelled_ones(digits) -> None:
    images, labels = digits
    test_x, test_y = images[:400], labels[:400]
    real_x, real_y = images[400:1000], labels[400:1000]
    extra_x, extra_y = images[1000:], labels[1000:]  # stand-in "generator": unseen real digits

    def honest(c: int, n: int) -> np.ndarray:
        return extra_x[extra_y == c][:n]

    def mislabelled(c: int, n: int) -> np.ndarray:
        return extra_x[extra_y == (c + 1) % 10][:n]

    good = augment_utility(
        real_x, real_y, test_x, test_y, honest, 10, real_per_class=3, synthetic_per_class=50
    )
    assert good["gain"] > 0.05 and good["augmented_accuracy"] > good["real_accuracy"], good
    assert good["synthetic_accuracy"] > 0.8 and good["n_test"] == 400 and good["classes"] == 10
    bad = augment_utility(
        real_x, real_y, test_x, test_y, mislabelled, 10, real_per_class=3, synthetic_per_class=50
    )
    assert bad["gain"] < 0 and bad["synthetic_accuracy"] < 0.1, bad
    assert bad["real_accuracy"] == good["real_accuracy"]  # the same seeded real subset both times
    with pytest.raises(ConfigError, match="2 classes"):
        augment_utility(real_x, real_y, test_x, test_y, honest, 1)
    with pytest.raises(DataError, match="fewer than"):
        augment_utility(real_x, real_y, test_x, test_y, honest, 10, real_per_class=500)


# ---------------------------------------------------------------------------------- the CLI


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*ganforge_cmd(), *args], capture_output=True, text=True, timeout=300)


def test_evaluate_records_every_new_figure_and_refuses_bad_options(tmp_path) -> None:
    from ganforge import ImageGAN

    run = tmp_path / "run"
    ImageGAN(resolution=16, steps=4, batch_size=8, width=8, device="cpu").fit("digits", out=run)
    proc = run_cli("evaluate", str(run), "-n", "30", "--extractor", "effnet-lite0", "--memorisation-space",
                   "pixels", "--augment-utility", "--real-per-class", "5", "--synthetic-per-class", "5")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    for text in ("FID", "precision", "coverage", "per class", "memorisation", "augment utility"):
        assert text in proc.stdout, text
    evals = json.loads((run / "config.json").read_text())["metrics"]["evaluations"]
    main = evals["effnet-lite0"]
    assert set(main["prdc"]) >= {"precision", "recall", "density", "coverage"}
    assert [c["class"] for c in main["per_class"]] == list(range(10))
    assert sum(c["n_fake"] for c in main["per_class"]) == 30  # every class sampled, from the main sample
    assert {"memorised_share", "baseline_share", "flagged", "threshold"} <= set(evals["memorisation"])
    assert {"real_accuracy", "augmented_accuracy", "gain"} <= set(evals["augment_utility"])
    assert (run / "evaluation" / "nearest.png").is_file() and (
        run / "evaluation" / "memorisation.json"
    ).is_file()
    assert "memorised share" in (run / "card.md").read_text()
    assert_clean_error(
        run_cli("evaluate", str(run), "--memorisation-space", "voxels"), "--memorisation-space"
    )


def test_evaluate_refuses_what_it_cannot_compute(tmp_path) -> None:
    from ganforge import ImageGAN
    from ganforge.images.evaluate import evaluate_run

    ImageGAN(resolution=16, conditional=False, steps=1, batch_size=4, width=4, device="cpu").fit(
        "digits", out=tmp_path / "run"
    )
    with pytest.raises(ConfigError, match="class-conditional"):
        evaluate_run(tmp_path / "run", augment_utility=True)
    with pytest.raises(ConfigError, match="-n must be > 5"):
        evaluate_run(tmp_path / "run", n=4)


def test_table_evaluation_stores_the_dcr_result(tmp_path) -> None:
    from ganforge import TableGAN
    from ganforge.tables.evaluate import evaluate_table_run, table_summary

    people(400, 0).to_csv(tmp_path / "train.csv", index=False)
    people(200, 1).to_csv(tmp_path / "test.csv", index=False)
    TableGAN(steps=20, batch_size=100, device="cpu").fit(tmp_path / "train.csv", out=tmp_path / "run")
    result = evaluate_table_run(tmp_path / "run", holdout=tmp_path / "test.csv")
    dcr = result["memorisation"]
    assert dcr["baseline"] == "held-out rows" and dcr["n_baseline"] == 200 and dcr["n_train"] == 400
    assert 0 <= dcr["memorised_share"] <= 1 and isinstance(dcr["flagged"], bool)
    stored = json.loads((tmp_path / "run" / "config.json").read_text())["metrics"]
    assert stored["evaluation_details"]["memorisation"]["threshold"] == dcr["threshold"]
    assert stored["evaluation"]["memorised share (DCR)"] == table_summary(result)["memorised share (DCR)"]
    assert "memorisation" not in evaluate_table_run(tmp_path / "run", memorisation=False)
