"""The audio wing's evaluation protocol (audio/metrics.py) on a tiny synthetic task: four classes of
8 kHz clips a quarter of a second long (a low tone, a rising chirp, a noise burst, a high two-tone chord),
each with a random onset, length, loudness, pitch and a faint noise floor; a classifier a few thousand
weights large, trained in seconds."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from ganforge.audio import metrics as am
from ganforge.errors import CheckpointError, ConfigError, DataError, GanforgeError

SR = 8000
LENGTH = 2000
CLASSES = ["tone", "chirp", "noise", "chord"]
NET = {"width": 8, "depth": 3, "n_mels": 32, "embed_dim": 32}
EPOCHS = 15


def synth(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` clips, classes balanced and shuffled, and their labels."""
    rng = np.random.default_rng(seed)
    t = np.arange(LENGTH) / SR
    labels = rng.permutation(np.arange(n) % 4)
    clips = np.zeros((n, LENGTH), np.float32)
    for i, c in enumerate(labels):
        onset = rng.integers(0, LENGTH // 4)
        dur = rng.integers(LENGTH // 2, LENGTH - onset)
        envelope = np.zeros(LENGTH)
        envelope[onset : onset + dur] = np.hanning(dur)
        if c == 0:
            s = np.sin(2 * np.pi * rng.uniform(300, 600) * t + rng.uniform(0, 2 * np.pi))
        elif c == 1:
            f0, f1 = rng.uniform(400, 800), rng.uniform(2000, 3000)
            s = np.sin(2 * np.pi * (f0 * t + (f1 - f0) * t**2 / (2 * t[-1])))
        elif c == 2:
            s = 0.5 * rng.standard_normal(LENGTH)
        else:
            f = rng.uniform(1500, 2500)
            s = 0.5 * (np.sin(2 * np.pi * f * t) + np.sin(2 * np.pi * 1.25 * f * t))
        clips[i] = rng.uniform(0.2, 0.9) * envelope * s + 0.01 * rng.standard_normal(LENGTH)
    return clips, labels.astype(np.int64)


@pytest.fixture(scope="module")
def data():
    train = synth(320, 0)
    held = synth(240, 1)
    return train, held


@pytest.fixture(scope="module")
def model(data):
    (x, y), held = data
    return am.train_classifier(x, y, SR, CLASSES, epochs=EPOCHS, seed=0, valid=held, **NET)


def test_classifier_learns_the_classes_and_a_shuffled_run_does_not(data, model):
    (x, y), (vx, vy) = data
    assert model.info["valid_accuracy"] >= 0.95
    assert model.info["n_valid"] == len(vx) and model.info["epochs"] == EPOCHS
    shuffled = np.random.default_rng(7).permutation(y)
    control = am.train_classifier(x, shuffled, SR, CLASSES, epochs=EPOCHS, seed=0, valid=(vx, vy), **NET)
    assert control.info["valid_accuracy"] < 0.45  # chance is 0.25: the check above has power


def test_training_is_deterministic_and_leaves_global_random_state_alone(data):
    (x, y), _ = data
    state = torch.random.get_rng_state()
    a = am.train_classifier(x[:64], y[:64], SR, CLASSES, epochs=1, seed=3, batch_size=32, **NET)
    assert torch.equal(state, torch.random.get_rng_state())
    b = am.train_classifier(x[:64], y[:64], SR, CLASSES, epochs=1, seed=3, batch_size=32, **NET)
    c = am.train_classifier(x[:64], y[:64], SR, CLASSES, epochs=1, seed=4, batch_size=32, **NET)
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not all(torch.equal(sa[k], sc[k]) for k in sa)


def test_minutes_budget_fixes_the_epoch_count(data):
    (x, y), _ = data
    m = am.train_classifier(x[:64], y[:64], SR, CLASSES, minutes=1e-4, epochs=3, batch_size=32, **NET)
    assert m.info["epochs"] == 1  # the first epoch already spent the budget


def test_inception_score_formula():
    k = 5
    one_hot = np.eye(k)[np.arange(100) % k]
    assert am.inception_score(one_hot, splits=1)[0] == pytest.approx(k)
    by_class = np.eye(k)[np.sort(np.arange(100) % k)]  # rows sorted by class: parts are still mixed
    assert am.inception_score(by_class, splits=4)[0] == pytest.approx(
        am.inception_score(one_hot, splits=4)[0], rel=0.1
    )
    assert am.inception_score(by_class, splits=4)[0] > 0.9 * k
    assert am.inception_score(np.full((50, k), 1 / k), splits=5) == pytest.approx((1.0, 0.0))
    assert am.inception_score(np.eye(k)[np.zeros(40, int)], splits=2)[0] == pytest.approx(1.0)
    # one part, two clips: p(y) = (0.5, 0.5); KL of each one-hot row from it is log 2
    assert am.inception_score(np.array([[1.0, 0.0], [0.0, 1.0]]), splits=1)[0] == pytest.approx(
        math.exp(math.log(2))
    )


def test_inception_score_of_real_clips_is_near_the_class_count_and_of_a_collapsed_set_near_one(data, model):
    _, (vx, vy) = data
    _, probs = am.embed(model, vx)
    assert am.inception_score(probs, splits=4)[0] > 3.4
    result = am.evaluate_clips(model, vx[vy == 2], vx)
    assert result["inception_score"]["mean"] < 1.3
    assert result["inception_score_real"]["mean"] > 3.4
    dist = result["label_distribution"]
    assert dist["top_class"] == "noise" and dist["top_share"] == pytest.approx(1.0)
    assert (
        dist["entropy"] == pytest.approx(0.0)
        and result["label_distribution_real"]["normalised_entropy"] > 0.95
    )


def test_frechet_distance_separates_the_same_distribution_from_a_wrong_one(data, model):
    _, (vx, _) = data
    same = am.evaluate_clips(model, vx[:120], vx[120:])["frechet_distance"]
    rng = np.random.default_rng(0)
    t = np.arange(LENGTH) / SR
    wrong = (0.5 * np.sin(2 * np.pi * rng.uniform(1000, 1200, (120, 1)) * t)).astype(
        np.float32
    )  # steady tones
    far = am.evaluate_clips(model, wrong, vx[120:])["frechet_distance"]
    assert far > 10 * same


def test_conditional_accuracy_is_high_for_true_labels_and_chance_for_shuffled_ones(data, model):
    _, (vx, vy) = data
    right = am.evaluate_clips(model, vx, vx, asked=vy)["conditional"]
    assert right["accuracy"] > 0.95 and min(right["per_class"].values()) > 0.9
    assert right["chance"] == 0.25
    shuffled = np.random.default_rng(1).permutation(vy)
    wrong = am.evaluate_clips(model, vx, vx, asked=shuffled)["conditional"]
    assert wrong["accuracy"] < 0.45
    only_tones = am.evaluate_clips(model, vx[:8], vx, asked=np.zeros(8, np.int64))["conditional"]
    assert only_tones["per_class"]["chirp"] is None  # never asked


def test_diversity_is_near_one_for_fresh_clips_and_near_zero_for_a_collapsed_generator(data, model):
    (x, _), (vx, vy) = data
    fresh = am.evaluate_clips(model, vx[:120], vx[120:])["diversity"]
    assert 0.6 < fresh["ratio"] < 1.6
    rng = np.random.default_rng(0)
    # one clip per class, repeated with a faint hiss: the generator forgot every other way to sound
    repeats = np.concatenate([np.repeat(vx[np.flatnonzero(vy == c)[:1]], 30, axis=0) for c in range(4)])
    repeats = (repeats + 1e-3 * rng.standard_normal(repeats.shape)).astype(np.float32)
    collapsed = am.evaluate_clips(model, repeats, vx)["diversity"]
    assert collapsed["ratio"] < 0.2
    assert set(collapsed["per_class"]) == set(CLASSES)


def test_memorisation_flags_copies_of_training_clips_and_not_fresh_clips(data, model):
    (x, _), (vx, _) = data
    copies = am.evaluate_clips(model, 0.5 * x[:60], vx, train_clips=x)["memorisation"]  # quieter copies
    assert copies["copy_share"] > 0.95 and copies["flagged"]
    assert copies["median_distance_ratio"] < 0.05
    assert copies["closest"][0]["distance"] < 1e-3
    fresh = am.evaluate_clips(model, vx[:120], vx, train_clips=x)["memorisation"]
    assert fresh["copy_share"] < 0.2 and not fresh["flagged"]
    assert 0.7 < fresh["median_distance_ratio"] < 1.5


def test_result_is_json_ready(data, model):
    (x, _), (vx, vy) = data
    result = am.evaluate_clips(model, vx[:40], vx[40:], asked=vy[:40], train_clips=x)
    back = json.loads(json.dumps(result, allow_nan=False))
    assert back == result
    for key in ("inception_score", "inception_score_real", "frechet_distance", "label_distribution",
                "diversity", "conditional", "memorisation", "classifier_valid_accuracy"):  # fmt: skip
        assert key in result


def test_save_load_round_trip_gives_identical_outputs(data, model, tmp_path):
    _, (vx, _) = data
    am.save_classifier(model, tmp_path / "clf")
    assert sorted(p.name for p in (tmp_path / "clf").iterdir()) == [
        "classifier.json",
        "classifier.safetensors",
    ]
    loaded = am.load_classifier(tmp_path / "clf")
    assert loaded.class_names == CLASSES and loaded.sample_rate == SR and loaded.info == model.info
    for a, b in zip(am.embed(model, vx), am.embed(loaded, vx), strict=True):
        np.testing.assert_array_equal(a, b)


def test_load_refuses_missing_and_tampered_files(model, tmp_path):
    with pytest.raises(CheckpointError, match="no clip classifier"):
        am.load_classifier(tmp_path / "nothing")
    am.save_classifier(model, tmp_path / "clf")
    weights = tmp_path / "clf" / "classifier.safetensors"
    weights.write_bytes(weights.read_bytes()[:-8] + b"\0" * 8)
    with pytest.raises(CheckpointError) as e:
        am.load_classifier(tmp_path / "clf")
    assert "\n" not in str(e.value)


def test_cached_classifier_builds_once_per_key(data, model, tmp_path):
    (x, y), (vx, _) = data
    key = am.clips_fingerprint(x, y, SR)
    assert key == am.clips_fingerprint(x.copy(), y.copy(), SR)
    assert key != am.clips_fingerprint(x, np.roll(y, 1), SR) != am.clips_fingerprint(x, y, SR, "width=8")
    calls = []

    def build():
        calls.append(1)
        return model

    first = am.cached_classifier(key, build, tmp_path)
    second = am.cached_classifier(key, build, tmp_path)
    assert len(calls) == 1 and first is model and second is not model
    np.testing.assert_array_equal(am.embed(first, vx[:8])[1], am.embed(second, vx[:8])[1])
    (tmp_path / f"clip-classifier-{key}" / "classifier.json").write_text("{broken")
    am.cached_classifier(key, build, tmp_path)  # an unreadable entry is rebuilt
    assert len(calls) == 2
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp folders left behind


def _bad_calls(x, y, model):
    nan = x[:10].copy()
    nan[0, 0] = np.nan
    return [
        (lambda: am.train_classifier(x[:0], y[:0], SR, CLASSES), DataError),
        (lambda: am.train_classifier(nan, y[:10], SR, CLASSES), DataError),
        (lambda: am.train_classifier(x[:10, None], y[:10], SR, CLASSES), DataError),
        (lambda: am.train_classifier(x[:10], y[:9], SR, CLASSES), DataError),
        (lambda: am.train_classifier(x[:10], np.zeros(10, np.int64), SR, CLASSES), DataError),
        (lambda: am.train_classifier(x[:10], y[:10] + 4, SR, CLASSES), DataError),
        (lambda: am.train_classifier(x[:10], y[:10].astype(float), SR, CLASSES), DataError),
        (lambda: am.train_classifier(x[:10], y[:10] * 0, SR, ["only"]), ConfigError),
        (lambda: am.train_classifier(x[:10], y[:10], SR, CLASSES, epochs=0), ConfigError),
        (lambda: am.train_classifier(x[:10], y[:10], SR, CLASSES, minutes=-1), ConfigError),
        (lambda: am.train_classifier(x[:10], y[:10], SR, CLASSES, width=0), ConfigError),
        (lambda: am.train_classifier(x[:10, :8], y[:10], SR, CLASSES), DataError),
        (lambda: am.embed(model, x[:0]), DataError),
        (lambda: am.embed(model, np.array(["a", "b"])), DataError),
        (lambda: am.evaluate_clips(model, nan, x), DataError),
        (lambda: am.evaluate_clips(model, x[:1], x), DataError),
        (lambda: am.evaluate_clips(model, x[:10], x, asked=np.arange(3)), DataError),
        (lambda: am.evaluate_clips(model, x[:10], x, asked=np.full(10, 9)), DataError),
        (lambda: am.evaluate_clips(model, x[:10], x, train_clips=x[:, :1000]), DataError),
        (lambda: am.evaluate_clips(model, x[:10], x, sample_rate=16000), ConfigError),
        (lambda: am.inception_score(np.zeros((0, 3))), DataError),
        (lambda: am.inception_score(np.full((4, 2), 0.7)), DataError),
        (lambda: am.inception_score(np.full((4, 2), 0.5), splits=5), ConfigError),
        (lambda: am.cached_classifier("../escape", lambda: model, "."), ConfigError),
    ]


def test_bad_input_gives_one_line_errors(data, model):
    (x, y), _ = data
    for i, (call, kind) in enumerate(_bad_calls(x, y, model)):
        with pytest.raises(GanforgeError) as e:
            call()
        assert isinstance(e.value, kind), (i, e.value)
        assert "\n" not in str(e.value) and str(e.value), i
