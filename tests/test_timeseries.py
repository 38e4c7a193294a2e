"""The time-series wing: it learns dynamics (not just values), keeps the input's layout, resumes exactly
and refuses bad series in one line."""

import json
import subprocess

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import ganforge_cmd

from ganforge import load
from ganforge.errors import ConfigError, DataError
from ganforge.timeseries.data import SeriesCodec
from ganforge.timeseries.model import SeriesGAN
from ganforge.timeseries.recipe import SeriesRecipe, _sorted, sliced_distance

PERIODS = (4, 12)  # steps per cycle of the two kinds of wave: FFT bins 6 and 2 of a 24-step window


def two_waves(n: int = 400, length: int = 24, seed: int = 0) -> pd.DataFrame:
    """``n`` sequences, each a sine of period 4 or 12 steps (half each) with a random phase, in [0, 1]."""
    rng = np.random.default_rng(seed)
    period = rng.choice(PERIODS, n)
    phase = rng.uniform(0, 2 * np.pi, n)
    t = np.arange(length)
    x = (np.sin(2 * np.pi * t[None, :] / period[:, None] + phase[:, None]) + 1) / 2
    return pd.DataFrame({"id": np.repeat(np.arange(n), length), "t": np.tile(t, n), "x": x.ravel()})


def dominant_bins(windows: np.ndarray) -> np.ndarray:
    """The strongest non-zero frequency bin of each window's first channel."""
    spectrum = np.abs(np.fft.rfft(windows[:, :, 0] - windows[:, :, 0].mean(axis=1, keepdims=True), axis=1))
    return spectrum[:, 1:].argmax(axis=1) + 1


FAST = {"window": 24, "batch_size": 64, "hidden": 32, "z_dim": 8, "device": "cpu", "seed": 0}


def test_a_short_run_learns_both_frequencies_and_a_broken_one_does_not(tmp_path):
    df = two_waves()
    real = dominant_bins(SeriesCodec.fit(df, "t", "id", 24).windows(df))
    targets = {24 // p for p in PERIODS}
    assert set(np.unique(real)) == targets  # the check's own premise

    def share_on_targets(gan: SeriesGAN) -> tuple[float, float]:
        bins = dominant_bins(gan.generate(400, seed=1))
        on = np.isin(bins, list(targets))
        return on.mean(), min((bins == b).mean() for b in targets)

    gan = SeriesGAN(steps=400, **FAST).fit(df, time="t", id="id")
    on, rarest = share_on_targets(gan)
    assert on > 0.8 and rarest > 0.2, (on, rarest)  # both waves, not one (no mode collapse)
    broken = SeriesGAN(steps=400, lr_g=0.0, **FAST).fit(df, time="t", id="id")  # G never learns
    b_on, b_rarest = share_on_targets(broken)
    assert b_on < 0.6 or b_rarest < 0.1, (b_on, b_rarest)


@pytest.mark.parametrize("recipe", [{}, {"recipe": "timegan", "warmup_steps": 8}], ids=["direct", "timegan"])
def test_resume_equals_uninterrupted(tmp_path, recipe):
    df = two_waves(100)
    kw = dict(FAST, checkpoint_every=5, **recipe)  # timegan: the break falls in the warm-up, the end after it
    full = SeriesGAN(steps=20, **kw).fit(df, out=tmp_path / "full", time="t", id="id")
    SeriesGAN(steps=10, **kw).fit(df, out=tmp_path / "part", time="t", id="id")
    resumed = SeriesGAN.resume(tmp_path / "part", steps=20).fit(df, out=tmp_path / "part", resume=True)
    for name in ("G", "G_ema", "D"):
        a, b = getattr(full, name).state_dict(), getattr(resumed, name).state_dict()
        assert all(torch.equal(a[k], b[k]) for k in a), name
    pd.testing.assert_frame_equal(full.sample(5, seed=0), load(tmp_path / "part").sample(5, seed=0))


def test_the_timegan_recipe_warms_up_its_autoencoder_then_plays_in_the_latent_space(tmp_path):
    """The TimeGAN-style recipe: its warm-up teaches the embedder/recovery to reconstruct real windows (a
    generator that cannot learn does not), D judges latent sequences, and sampling returns data."""
    df = two_waves(200)
    x = torch.from_numpy(SeriesCodec.fit(df, "t", "id", 24).windows(df))

    def reconstruction_error(gan: SeriesGAN) -> float:
        g = gan.G_ema
        with torch.no_grad():
            return float(torch.sqrt(((g.recovery(g.embed_real(x)) - x) ** 2).mean()))

    warm = SeriesGAN(steps=160, recipe="timegan", warmup_steps=150, **FAST).fit(
        df, out=tmp_path / "r", time="t", id="id"
    )
    broken = SeriesGAN(steps=5, recipe="timegan", warmup_steps=5, lr_g=0.0, **FAST).fit(df, time="t", id="id")
    good, bad = reconstruction_error(warm), reconstruction_error(broken)
    assert good < 0.1 < 0.5 < bad, (good, bad)  # measured: 0.05-0.07 vs 0.62-0.68 (seeds 0, 1)
    records = [json.loads(line) for line in (tmp_path / "r" / "metrics.jsonl").read_text().splitlines()]
    steps = [r for r in records if "step" in r]
    assert all("loss_d" not in r for r in steps if r["step"] <= 150)  # no adversarial game in the warm-up
    assert any("loss_d" in r for r in steps if r["step"] > 150)
    with torch.no_grad():  # D judges the generator's latent sequences, one logit per step
        latent = warm.G.train()(warm.recipe.latents(4, 24, torch.Generator().manual_seed(0)))
        assert latent.shape == (4, 24, FAST["hidden"]) and warm.D(latent).shape == (4, 24)
    frame = load(tmp_path / "r").sample(3, length=30, seed=0)
    assert len(frame) == 90 and frame["x"].between(0, 1).all()


def test_the_timegan_recipe_refuses_what_it_cannot_do(tmp_path):
    from ganforge.core.protocols import LatentGame
    from ganforge.timeseries.timegan import LatentSeriesGenerator

    class Conditional(torch.nn.Module):  # an image generator's class embedding is not the hook
        embed = torch.nn.Embedding(3, 4)

    assert isinstance(LatentSeriesGenerator(4, 2, 8, 1), LatentGame) and not isinstance(
        Conditional(), LatentGame
    )
    with pytest.raises(ConfigError, match="recipe must be one of direct, timegan"):
        SeriesGAN(recipe="diffusion")
    with pytest.raises(ConfigError, match="warm-up steps belong to the timegan recipe"):
        SeriesGAN(warmup_steps=10)
    with pytest.raises(ConfigError, match="does not generate per-series attributes \\(kind, size\\)"):
        SeriesGAN(steps=1, recipe="timegan", **dict(FAST, window=12)).fit(shops(20), time="t", id="shop")


def test_samples_keep_the_layout_continue_time_and_run_longer(tmp_path):
    days = pd.date_range("2024-01-01", periods=60, freq="D")
    rng = np.random.default_rng(0)
    df = pd.DataFrame({
        "date": np.tile(days.astype(str), 2), "shop": np.repeat(["north", "south"], 60),
        "sales": rng.integers(0, 100, 120), "temp": np.where(rng.random(120) < 0.25, np.nan, rng.normal(10, 3, 120)),
    })  # fmt: skip
    gan = SeriesGAN(steps=5, **dict(FAST, window=10)).fit(df, out=tmp_path / "run", time="date", id="shop")
    out = load(tmp_path / "run").sample(3, length=15, seed=2)
    assert list(out.columns) == ["date", "shop", "sales", "temp"]
    assert len(out) == 45 and out["shop"].nunique() == 3 and out["shop"].str.startswith("synthetic-").all()
    first = out[out["shop"] == out["shop"].iloc[0]]
    assert first["date"].iloc[0] == pd.Timestamp("2024-03-01")  # the day after the data's last
    assert (first["date"].diff().dropna() == pd.Timedelta(days=1)).all()
    assert out["sales"].dtype.kind == "i" and out["sales"].between(df["sales"].min(), df["sales"].max()).all()
    assert gan.codec.missing == [False, True] and gan.recipe.channels == 3  # temp's missing-value channel
    pd.testing.assert_frame_equal(out, load(tmp_path / "run").sample(3, length=15, seed=2))


def test_the_cli_trains_samples_and_refuses_length_elsewhere(tmp_path):
    df = two_waves(60)
    df.to_csv(tmp_path / "waves.csv", index=False)
    run = tmp_path / "run"
    train = [*ganforge_cmd(), "train", "series", str(tmp_path / "waves.csv"), "--time", "t", "--id", "id",
             "--steps", "3", "--hidden", "16", "--device", "cpu", "--out", str(run)]  # fmt: skip
    assert subprocess.run(train, capture_output=True, text=True, timeout=300).returncode == 0
    sample = [
        *ganforge_cmd(),
        "sample",
        str(run),
        "-n",
        "4",
        "--length",
        "30",
        "--out",
        str(tmp_path / "s.parquet"),
    ]
    proc = subprocess.run(sample, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    out = pd.read_parquet(tmp_path / "s.parquet")
    assert len(out) == 120 and list(out.columns) == ["id", "t", "x"] and out["t"].iloc[0] == 24
    sidecar = json.loads((tmp_path / "s.parquet.provenance.json").read_text())
    assert sidecar["synthetic"] is True and sidecar["sequences"] == 4 and sidecar["length"] == 30


BAD = [
    ("one row", pd.DataFrame({"x": [1.0]}), {}, "fewer than the window"),
    ("constant", pd.DataFrame({"x": [3.0] * 50, "y": [1] * 50}), {}, "every feature is constant"),
    ("backwards", pd.DataFrame({"t": [1, 2, 3, 2, 5] * 10, "x": np.arange(50.0)}), {"time": "t"}, "go backwards"),
    ("duplicate", pd.DataFrame({"t": [1, 1] + list(range(2, 50)), "x": np.arange(50.0)}), {"time": "t"},
     "duplicate timestamps"),
    ("one-step ids", pd.DataFrame({"id": range(50), "x": np.arange(50.0)}), {"id": "id"}, "1 step, fewer than"),
    ("all-NaN", pd.DataFrame({"x": np.arange(50.0), "y": [np.nan] * 50}), {}, "'y' has no values"),
    ("identifier-like text", pd.DataFrame({"x": np.arange(150.0), "y": [f"u{i}" for i in range(150)]}), {},
     "'y' has 150 different values; a categorical feature may have at most 100"),
    ("times as text", pd.DataFrame({"x": np.arange(50.0), "when": pd.date_range("2024-01-01", periods=50).astype(str)}),
     {}, "column 'when' holds times: give it as --time"),
    ("only attributes", pd.DataFrame({"id": np.repeat([1, 2], 30), "x": np.repeat([1.0, 2.0], 30)}), {"id": "id"},
     "no feature changes within a series"),
    ("no such column", pd.DataFrame({"x": np.arange(50.0)}), {"time": "when"}, "--time 'when' is not a column"),
]  # fmt: skip


@pytest.mark.parametrize("case", BAD, ids=[b[0] for b in BAD])
def test_bad_series_are_refused_in_one_line(case, tmp_path):
    _, df, kw, needle = case
    with pytest.raises(DataError, match=needle) as e:
        SeriesGAN(steps=1, **FAST).fit(df, out=tmp_path / "run", **kw)
    assert "\n" not in str(e.value)
    assert not (tmp_path / "run" / "config.json").exists()


def test_bad_settings_and_the_cli_one_line(tmp_path):
    with pytest.raises(ConfigError, match="window must be >= 2"):
        SeriesGAN(window=1)
    for bad in (float("nan"), float("inf"), -1.0):
        with pytest.raises(ConfigError, match="sliced must be a number >= 0"):
            SeriesGAN(sliced=bad)
    with pytest.raises(ConfigError, match="belongs to the direct recipe"):
        SeriesGAN(recipe="timegan", sliced=1.0)
    assert SeriesGAN(sliced=0).recipe.sliced == 0 and SeriesGAN().recipe.sliced == 30
    pd.DataFrame({"x": np.arange(10.0)}).to_csv(tmp_path / "short.csv", index=False)
    proc = subprocess.run([*ganforge_cmd(), "train", "series", str(tmp_path / "short.csv"), "--out",
                           str(tmp_path / "r")], capture_output=True, text=True, timeout=300)  # fmt: skip
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert proc.returncode == 1 and lines == ["error: the series has 10 steps, fewer than the window of 24; "
                                              "give a smaller --window"], proc.stderr  # fmt: skip


def shops(n: int = 200, seed: int = 0) -> pd.DataFrame:
    """A panel of ``n`` series of 20-40 steps: a static "kind" (fast: period 4 around level 0, slow:
    period 12 around level 4) and "size" (the amplitude, 1-3) per series, a value x and a categorical
    "state" (high in the upper half of the wave)."""
    rng = np.random.default_rng(seed)
    parts = []
    for i in range(n):
        kind, size, length = rng.choice(["fast", "slow"]), int(rng.integers(1, 4)), int(rng.integers(20, 41))
        t = np.arange(length)
        wave = (
            size * (np.sin(2 * np.pi * t / (4 if kind == "fast" else 12) + rng.uniform(0, 2 * np.pi)) + 1) / 2
        )
        parts.append(pd.DataFrame({"shop": f"s{i}", "t": t, "kind": kind, "size": size,
                                   "x": wave + (0 if kind == "fast" else 4),
                                   "state": np.where(wave > size / 2, "high", "low")}))  # fmt: skip
    return pd.concat(parts, ignore_index=True)


def test_a_panel_keeps_its_attributes_categories_and_lengths(tmp_path):
    df = shops()
    gan = SeriesGAN(steps=600, **dict(FAST, window=12, hidden=48)).fit(
        df, out=tmp_path / "run", time="t", id="shop"
    )
    codec = gan.codec
    assert codec.static == ["kind", "size"] and codec.categorical == ["state"] and codec.features == ["x"]
    out = load(tmp_path / "run").sample(300, seed=3)
    # lengths: drawn from the panel's own
    lengths = out.groupby("shop").size()
    assert set(lengths) <= set(df.groupby("shop").size()) and lengths.min() < 26 and lengths.max() > 34
    # attributes: constant within each sequence, with both kinds and every size, in the data's mix
    per = out.groupby("shop")[["kind", "size"]].nunique()
    assert (per == 1).all().all()
    first = out.groupby("shop")[["kind", "size"]].first()
    assert set(first["kind"]) == {"fast", "slow"} and set(first["size"]) == {1, 2, 3}
    assert 0.25 < (first["kind"] == "fast").mean() < 0.75
    # the categorical feature follows the values as in the data (high in the upper half of the wave)
    wave = out["x"] - np.where(out["kind"] == "fast", 0, 4)
    agree = (out["state"] == np.where(wave > out["size"] / 2, "high", "low")).mean()
    assert agree > 0.68, agree  # a state drawn without regard to x agrees half the time (0.72-0.88 seen)
    # a fixed attribute drives the series, beyond the training window too: fast sequences stay in their
    # range (0-3), slow ones in theirs (4-7); a model that ignored the condition would give both the same mix
    low = {k: (gan.sample(100, seed=4, conditions={"kind": k})["x"] < 3.5).mean() for k in ("fast", "slow")}
    assert low["fast"] > 0.75 and low["fast"] - low["slow"] > 0.5, low
    with pytest.raises(DataError, match="'x' changes within a series; static attributes: kind, size"):
        gan.sample(2, conditions={"x": 1.0})
    with pytest.raises(DataError, match="not one of its values"):
        gan.sample(2, conditions={"kind": "medium"})


def test_the_health_probe_tells_a_collapsed_generator_from_varied_sequences():
    from ganforge.engine.health import coverage
    from ganforge.timeseries.probe import SERIES_COLLAPSE, series_features, series_probe
    from ganforge.timeseries.recipe import SeriesRecipe

    def windows(n: int, seed: int) -> torch.Tensor:
        df = two_waves(n, seed=seed)
        return torch.from_numpy(SeriesCodec.fit(df, "t", "id", 24).windows(df))

    _, real = series_probe(SeriesRecipe(window=24), windows(600, seed=0))
    other = series_features(windows(256, seed=1), 24)
    few = series_features(windows(3, seed=2)[torch.arange(256) % 3], 24)
    assert coverage(real, other) > 0.5  # other sequences of the same process cover the real ones
    assert coverage(real, few) < SERIES_COLLAPSE["collapse_coverage"]  # three paths do not


def test_the_codec_round_trips_attributes_categories_and_equal_columns():
    rng = np.random.default_rng(0)
    sensor = rng.normal(20, 2, 90)
    df = pd.DataFrame({
        "id": np.repeat(["a", "b", "c"], 30), "t": np.tile(np.arange(30), 3),
        "region": np.repeat(["north", "south", "north"], 30), "weight": np.repeat([1.5, 2.25, 4.0], 30),
        "outdoor": np.repeat([True, False, True], 30), "sensor": sensor, "copy": sensor,
        "count": rng.integers(0, 6, 90), "on": rng.random(90) < 0.5,
        "level": rng.choice(["low", "high", None], 90),
    })  # fmt: skip
    codec = SeriesCodec.fit(df, "t", "id", 10)
    assert codec.static == ["region", "weight", "outdoor"] and codec.features == ["sensor"]
    assert codec.categorical == ["count", "on", "level"] and codec.copies == {"copy": "sensor"}
    back = codec.decode(np.stack(codec.sequences(df)))
    assert list(back.columns) == list(df.columns) and len(back) == len(df)
    for col in ("region", "outdoor", "count", "on"):
        assert back[col].tolist() == df[col].tolist(), col
    assert back["level"].tolist() == df["level"].tolist()  # missing is one more value
    np.testing.assert_allclose(back["weight"], df["weight"], rtol=1e-6)
    np.testing.assert_allclose(back["sensor"], df["sensor"], rtol=1e-5)
    assert (
        (back["copy"] == back["sensor"]).all()
        and back["count"].dtype.kind == "i"
        and back["on"].dtype == bool
    )
    # conditions: as typed on the command line or as Python values
    fixed = codec.attribute_values({"region": "south", "weight": np.float32(2.0), "outdoor": "true"})
    assert fixed.tolist() == [0.0, 1.0, pytest.approx(0.2), 0.0, 1.0]  # (2 - 1.5) / (4 - 1.5); False, True
    with pytest.raises(DataError, match="give a number from 1.5 to 4"):
        codec.attribute_values({"weight": 9})
    with pytest.raises(DataError, match="'sensor' changes within a series"):
        codec.attribute_values({"sensor": 1})


def test_runs_saved_before_attributes_and_rollouts_load_and_sample_the_same(tmp_path):
    df = two_waves(60)
    gan = SeriesGAN(steps=3, **FAST).fit(df, out=tmp_path / "run", time="t", id="id")
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    for key in ("static", "groups", "rollout", "sliced"):
        config["recipe"].pop(key)
    for key in ("categorical", "static", "levels", "bounds", "copies", "lengths", "scaling", "quantiles"):
        config["codec"].pop(key)
    (tmp_path / "run" / "config.json").write_text(json.dumps(config))
    old = load(tmp_path / "run")
    pd.testing.assert_frame_equal(old.sample(4, seed=1), gan.sample(4, seed=1))
    assert gan.recipe.sliced > 0 and old.recipe.sliced == 0  # trained without the term: resumes without it


def test_the_sliced_term_spreads_a_collapsed_set_to_the_real_one():
    """G's sliced Wasserstein term alone, minimised over a set of free points that starts collapsed (a
    generator 0.1 as spread out as the data), brings its spread and its correlations to the data's; the
    distance is 0 between a set and itself and grows as a set narrows."""
    torch.manual_seed(0)
    cov = torch.tensor([[1.0, 0.8, 0.0], [0.8, 1.0, 0.0], [0.0, 0.0, 0.25]])
    real = torch.distributions.MultivariateNormal(torch.zeros(3), cov).sample((512,))
    assert sliced_distance(real, real) == 0
    gaps = [float(sliced_distance(real * k, real)) for k in (0.9, 0.5, 0.1)]
    assert gaps[0] < gaps[1] < gaps[2], gaps
    points = (0.1 * torch.randn(512, 3)).requires_grad_(True)
    opt = torch.optim.Adam([points], lr=0.02)
    start = float(sliced_distance(points, real))
    for _ in range(400):
        opt.zero_grad()
        sliced_distance(points, real).backward()
        opt.step()
    got = points.detach()
    assert float(sliced_distance(got, real)) < start / 50
    ratio = got.std(0) / real.std(0)
    assert torch.all((ratio > 0.9) & (ratio < 1.1)), ratio
    assert abs(float(torch.corrcoef(got.T)[0, 1]) - float(torch.corrcoef(real.T)[0, 1])) < 0.05
    with pytest.raises(ValueError, match="same shape"):
        sliced_distance(real, real[:10])


def test_the_sliced_term_reaches_the_generator_and_can_be_turned_off(tmp_path):
    p = torch.randn(300, 5, requires_grad=True)
    assert torch.equal(_sorted(p), p.sort(dim=0)[0])  # numpy's order, torch's values
    assert torch.equal(_sorted(p.detach()), p.sort(dim=0)[0])  # numpy's values where no gradient is needed
    recipe = SeriesRecipe(channels=3, window=24, rollout=48)
    fake = torch.rand(16, 48, 3, dtype=torch.bfloat16, requires_grad=True)  # a rollout, as the trainer has it
    term = recipe.paired_loss(torch.nn.Identity(), fake, torch.rand(16, 48, 3), None)["sliced"]
    term.backward()
    assert term > 0 and fake.grad is not None and fake.grad.abs().sum() > 0
    df = two_waves(60)
    for weight, present in ((None, True), (0.0, False)):
        SeriesGAN(steps=2, log_every=1, sliced=weight, **FAST).fit(
            df, out=tmp_path / str(weight), time="t", id="id"
        )
        logged = [
            json.loads(line) for line in (tmp_path / str(weight) / "metrics.jsonl").read_text().splitlines()
        ]
        assert any("sliced" in r for r in logged) == present, logged


def test_quantile_scaling_spreads_a_skewed_feature_and_keeps_its_point_mass():
    rng = np.random.default_rng(0)
    n = 2000
    usage = np.where(rng.random(n) < 0.3, 0.0, rng.lognormal(3, 1, n))  # 30 % exactly 0, a long tail
    usage[rng.random(n) < 0.05] = np.nan
    df = pd.DataFrame({"usage": usage, "temp": np.sin(np.arange(n) / 20) + rng.normal(0, 0.05, n)})
    plain, spread = (SeriesCodec.fit(df, None, None, 24, scaling=s) for s in ("minmax", "quantile"))
    x_plain, x_spread = plain.rows(df)[:, 0], spread.rows(df)[:, 0]
    seen = ~np.isnan(usage)
    assert (x_plain[seen] < 0.1).mean() > 0.8  # min-max: the tail's extremes squeeze the rest near 0
    assert 0.4 < (x_spread[seen & (usage > 0)] < 0.65).mean() < 0.6  # quantile: spread evenly
    back = spread.decode(spread.rows(df)[None])["usage"].to_numpy()
    np.testing.assert_array_equal(np.isnan(back), ~seen)  # the missing-value flag as before
    assert (back[usage == 0] == 0).all()  # the point mass comes back exact ...
    assert np.median(np.abs(back[usage > 0] - usage[usage > 0]) / usage[usage > 0]) < 1e-6  # ... the rest too
    # generated channels anywhere in [0, 1] decode to the data's mix: as many exact zeros as the data has
    drawn = spread.unscale(rng.random((20_000, 2)))[:, 0]
    assert abs((drawn == 0).mean() - (usage[seen] == 0).mean()) < 0.01
    # counts: nearly every knot repeats a value, and every value between them comes back exact too
    counts = pd.DataFrame({"n": rng.poisson(2, 5000).astype(float), "x": rng.normal(0, 1, 5000)})
    tied = SeriesCodec.fit(counts, None, None, 24, scaling="quantile")
    np.testing.assert_array_equal(tied.decode(tied.rows(counts)[None])["n"], counts["n"])
    # evaluation compares windows min-max scaled, whatever the model learned in
    np.testing.assert_allclose(spread.minmax(spread.windows(df)), plain.windows(df), atol=1e-5)
    auto = SeriesCodec.fit(df, None, None, 24, scaling="auto")  # quantile for the heavy tail only
    assert [bool(k) for k in auto.quantiles] == [True, False]
    with pytest.raises(ConfigError, match="scaling must be one of auto, minmax, quantile"):
        SeriesGAN(scaling="log")


def test_the_default_width_follows_the_channels_and_a_given_or_saved_one_is_kept(tmp_path):
    """4 per encoded channel to the nearest power of two, 64 to 128: Sines and Stocks (5 channels) keep
    64; Energy (34 channels) gets the 128 that scored better there; an explicit width, the timegan recipe
    and a saved or resumed run keep theirs."""
    from ganforge.timeseries.data import builtin_frame
    from ganforge.timeseries.model import auto_width

    assert [auto_width(c) for c in (1, 5, 16, 22, 23, 34, 500)] == [64, 64, 64, 64, 128, 128, 128]
    for name, width in [("sines", 64), ("stocks", 64), ("energy", 128)]:
        frame, time, id_ = builtin_frame(name)
        assert auto_width(SeriesCodec.fit(frame, time, id_, 24).channels) == width, name
    rng = np.random.default_rng(0)
    wide = pd.DataFrame(rng.normal(size=(200, 30)).cumsum(axis=0), columns=[f"c{i}" for i in range(30)])
    fast = dict(FAST, hidden=None, steps=2)
    gan = SeriesGAN(**fast).fit(wide, out=tmp_path / "run")
    assert gan.recipe.hidden == 128 and gan.G.gru.hidden_size == 128
    assert load(tmp_path / "run").recipe.hidden == 128
    resumed = SeriesGAN.resume(tmp_path / "run", steps=4).fit(wide, out=tmp_path / "run", resume=True)
    assert resumed.recipe.hidden == 128 and resumed.metrics["steps"] == 4
    assert SeriesGAN(**dict(fast, hidden=40)).fit(wide).recipe.hidden == 40
    assert SeriesGAN(**dict(fast, recipe="timegan", warmup_steps=1)).fit(wide).recipe.hidden == 64
    assert SeriesGAN(**fast).fit(two_waves(20), time="t", id="id").recipe.hidden == 64
