"""Time-series evaluation maths (timeseries/metrics.py): the TimeGAN protocol's discriminative and
predictive scores (Yoon, Jarrett and van der Schaar, NeurIPS 2019), correlation errors, marginal
distances and nearest-window memorisation, each on data whose right answer is known, plus the numpy GRU
checked against torch's autograd."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ganforge.errors import ConfigError, DataError
from ganforge.timeseries import metrics as tm

T, D = 24, 6


def sines(n: int, seed: int, d: int = D, t: int = T, max_freq: float = 0.5) -> np.ndarray:
    """Sine windows as in the TimeGAN paper: per window and feature a frequency ~ U(0, max_freq) and a
    phase ~ U(0, 2 pi), mapped from [-1, 1] to [0, 1]. Features are independent of one another."""
    rng = np.random.default_rng(seed)
    freq = rng.uniform(0, max_freq, (n, 1, d))
    phase = rng.uniform(0, 2 * np.pi, (n, 1, d))
    return (np.sin(freq * np.arange(t)[None, :, None] + phase) + 1) / 2


def coupled_sines(n: int, seed: int, d: int = 4, t: int = T) -> np.ndarray:
    """Windows whose features share one frequency and phase, shifted by 0.5 rad per feature: the last
    feature's next value follows from the others' past, so one-step-ahead prediction can succeed."""
    rng = np.random.default_rng(seed)
    freq = rng.uniform(0.1, 0.4, (n, 1, 1))
    phase = rng.uniform(0, 2 * np.pi, (n, 1, 1))
    steps = freq * np.arange(t)[None, :, None] + phase + 0.5 * np.arange(d)[None, None, :]
    return (np.sin(steps) + 1) / 2


def time_shuffled(windows: np.ndarray, seed: int) -> np.ndarray:
    """Each window's steps in a random order: the same values (marginals) without the dynamics."""
    rng = np.random.default_rng(seed)
    return np.stack([w[rng.permutation(len(w))] for w in windows])


# ---------------------------------------------------------------- the numpy GRU


def torch_copy(net: tm._GRU, n_in: int) -> torch.nn.GRU:
    """torch.nn.GRU with the weights of a one-block numpy GRU (torch stores them transposed)."""
    ref = torch.nn.GRU(n_in, net.hidden, num_layers=net.layers).double()
    with torch.no_grad():
        for layer in range(net.layers):
            for ours, theirs in (("wi", "weight_ih"), ("wh", "weight_hh")):
                getattr(ref, f"{theirs}_l{layer}").copy_(torch.from_numpy(net.params[f"{ours}{layer}"].T))
            for ours, theirs in (("bi", "bias_ih"), ("bh", "bias_hh")):
                getattr(ref, f"{theirs}_l{layer}").copy_(torch.from_numpy(net.params[f"{ours}{layer}"]))
    return ref


@pytest.mark.parametrize("last_only", [False, True])
def test_numpy_gru_matches_torch_autograd(last_only):
    rng = np.random.default_rng(0)
    net = tm._GRU(3, 4, layers=2, rngs=[np.random.default_rng(1)], dtype=np.float64)
    ref = torch_copy(net, 3)
    x = rng.standard_normal((7, 5, 3))  # (T, B, inputs)
    upstream = rng.standard_normal((5, 4) if last_only else (7, 5, 4))
    states, caches = net.forward(x)
    grads = net.backward(upstream, caches, last_only=last_only)
    expected, _ = ref(torch.from_numpy(x))
    np.testing.assert_allclose(states, expected.detach().numpy(), atol=1e-12)
    (expected[-1] if last_only else expected).mul(torch.from_numpy(upstream)).sum().backward()
    for layer in range(2):
        for ours, theirs in (("wi", "weight_ih"), ("wh", "weight_hh")):
            torch_grad = getattr(ref, f"{theirs}_l{layer}").grad.numpy().T
            np.testing.assert_allclose(
                grads[f"{ours}{layer}"], torch_grad, atol=1e-12, err_msg=f"{ours}{layer}"
            )
        for ours, theirs in (("bi", "bias_ih"), ("bh", "bias_hh")):
            torch_grad = getattr(ref, f"{theirs}_l{layer}").grad.numpy()
            np.testing.assert_allclose(
                grads[f"{ours}{layer}"], torch_grad, atol=1e-12, err_msg=f"{ours}{layer}"
            )


def test_side_by_side_nets_do_not_interact():
    """Three nets trained as one block-diagonal net have each the outputs and gradients of the net alone."""
    n_in, hidden, blocks = 2, 3, 3
    children = np.random.SeedSequence(7).spawn(blocks)
    joint = tm._GRU(n_in, hidden, 2, [np.random.default_rng(c) for c in children], dtype=np.float64)
    alone = [tm._GRU(n_in, hidden, 2, [np.random.default_rng(c)], dtype=np.float64) for c in children]
    rng = np.random.default_rng(0)
    x = [rng.standard_normal((6, 4, n_in)) for _ in range(blocks)]
    up = [rng.standard_normal((4, hidden)) for _ in range(blocks)]
    states, caches = joint.forward(np.concatenate(x, axis=2))
    grads = joint.mask(joint.backward(np.concatenate(up, axis=1), caches, last_only=True))
    width = blocks * hidden
    for b, single in enumerate(alone):
        own = np.arange(b * hidden, (b + 1) * hidden)
        gate_cols = np.concatenate([g * width + own for g in range(3)])
        s_states, s_caches = single.forward(x[b])
        s_grads = single.backward(up[b], s_caches, last_only=True)
        np.testing.assert_allclose(states[..., own], s_states, atol=1e-12)
        for name, g in s_grads.items():
            rows = np.arange(b * len(g), (b + 1) * len(g)) if name[0] == "w" else None
            block = grads[name][rows][:, gate_cols] if rows is not None else grads[name][gate_cols]
            np.testing.assert_allclose(block, g, atol=1e-12, err_msg=name)
        assert np.all(joint.params["w"][own][:, np.arange(blocks) != b] == 0)  # heads stay apart
    for name, mask in joint.masks.items():  # weights across blocks get no gradient
        assert name == "w" or np.all(grads[name][~mask] == 0), name


# ---------------------------------------------------------------- discriminative score


def test_discriminative_score_has_power():
    """An independent sample from the same generator scores near 0; the same windows with their steps
    shuffled (identical marginals) are told apart."""
    real = sines(400, seed=0)
    other = sines(300, seed=1)  # a different count: the larger set is subsampled
    same = tm.discriminative_score(real, other, seeds=2, iterations=1000)
    shuffled = tm.discriminative_score(real, time_shuffled(real, seed=2), seeds=2, iterations=1000)
    print(f"discriminative: real vs real {same['per_seed']}, real vs time-shuffled {shuffled['per_seed']}")
    assert same["score"] < 0.1
    assert shuffled["score"] > 0.3
    assert shuffled["accuracy"] > 0.8
    assert same["n_train"] == 2 * 240 and same["n_test"] == 2 * 60 and same["hidden"] == D // 2
    assert len(same["per_seed"]) == 2 and same["std"] == pytest.approx(np.std(same["per_seed"]))


def test_discriminative_score_is_deterministic_per_seed():
    real, other = sines(60, seed=0), sines(60, seed=1)
    one = tm.discriminative_score(real, other, seed=3, seeds=1, iterations=30)
    again = tm.discriminative_score(real, other, seed=3, seeds=1, iterations=30)
    three = tm.discriminative_score(real, other, seed=3, seeds=3, iterations=30)
    assert one == again
    assert three["per_seed"][0] == pytest.approx(one["per_seed"][0], abs=1e-9)  # run 0 whatever `seeds`
    state = np.random.get_state()[1].copy(), torch.random.get_rng_state()
    tm.discriminative_score(real, other, seed=4, seeds=1, iterations=5)
    assert np.array_equal(np.random.get_state()[1], state[0])  # global generators untouched
    assert torch.equal(torch.random.get_rng_state(), state[1])


# ---------------------------------------------------------------- predictive score


def test_predictive_score_trains_on_one_set_and_tests_on_another():
    train, test, independent = coupled_sines(300, 0), coupled_sines(300, 1), coupled_sines(300, 2)
    noise = np.random.default_rng(3).uniform(0, 1, train.shape)
    reference = tm.predictive_score(train, test, iterations=600)["mae"]
    like_real = tm.predictive_score(independent, test, iterations=600)["mae"]
    from_noise = tm.predictive_score(noise, test, iterations=600)
    print(
        f"predictive MAE: real {reference:.4f}, same generator {like_real:.4f}, noise {from_noise['mae']:.4f}"
    )
    assert abs(like_real - reference) < 0.25 * reference
    assert from_noise["mae"] > 2 * reference
    assert from_noise["n_train"] == 300 and from_noise["hidden"] == 2
    short = tm.predictive_score(train, test, seed=1, iterations=20)
    assert tm.predictive_score(train, test, seed=1, iterations=20) == short  # deterministic


def test_predictive_score_handles_one_feature():
    univariate = coupled_sines(50, 0, d=1)
    assert 0 <= tm.predictive_score(univariate, univariate, iterations=5)["mae"] <= 1


# ---------------------------------------------------------------- statistics


def test_acf_matches_a_hand_computation():
    x = np.array([0.0, 1.0, 2.0, 3.0])[None, :, None]
    # centred -1.5 -0.5 0.5 1.5, sum of squares 5; lag 1: 0.75 - 0.25 + 0.75 = 1.25; lag 2: -0.75 - 0.75
    np.testing.assert_allclose(tm.acf(x)[:, 0], [1.0, 0.25, -0.3, -0.45])
    flat = np.concatenate([x, np.full_like(x, 0.4)], axis=2)  # a constant feature: 0 at every lag
    np.testing.assert_allclose(tm.acf(flat, max_lag=2)[:, 1], [1.0, 0.0, 0.0])
    assert tm.acf(sines(10, 0)).shape == (T, D)


def test_autocorrelation_error_sees_the_dynamics():
    real = sines(200, 0, max_freq=0.1)
    assert tm.autocorrelation_error(real, real) == 0.0
    same = tm.autocorrelation_error(real, sines(200, 1, max_freq=0.1))
    shuffled = tm.autocorrelation_error(real, time_shuffled(real, 2))
    print(f"ACF error: independent sample {same:.4f}, time-shuffled {shuffled:.4f}")
    assert same < 0.05 and shuffled > 0.2
    assert (
        tm.autocorrelation_error(real, time_shuffled(real, 2), max_lag=1) > shuffled
    )  # lag 1 is the largest


def test_cross_correlation_error():
    real = coupled_sines(100, 0)
    assert tm.cross_correlation_error(real, real) == 0.0
    assert tm.cross_correlation_error(real, time_shuffled(real, 1)) == pytest.approx(0.0, abs=1e-12)
    assert tm.cross_correlation_error(real, sines(100, 1, d=4)) > 0.3  # independent features: no correlation
    assert tm.cross_correlation_error(real[..., :1], real[..., :1]) == 0.0


def test_marginal_distances_are_ks_statistics():
    from scipy.stats import ks_2samp

    real, other = sines(50, 0), sines(40, 1)
    got = tm.marginal_distances(real, other)
    for j in range(D):
        expected = ks_2samp(real[..., j].ravel(), other[..., j].ravel()).statistic
        assert got[j] == pytest.approx(expected)
    assert tm.marginal_distances(real, time_shuffled(real, 2)) == [0.0] * D  # blind to time order
    assert min(tm.marginal_distances(real, real * 0.5)) > 0.3


# ---------------------------------------------------------------- memorisation


def test_nearest_window_flags_copies_not_new_windows():
    real = sines(400, 0)
    noise = np.random.default_rng(1).normal(0, 1e-4, (300, T, D))
    copies = tm.nearest_window(real, real[:300] + noise)
    fresh = tm.nearest_window(real, sines(300, 1))
    print(f"copies: {copies['share_p01']}, {copies['median_ratio']:.4f}; new: {fresh['share_p01']}, "
          f"{fresh['median_ratio']:.3f}")  # fmt: skip
    assert copies["share_p01"] == 1.0 and copies["share_p05"] == 1.0 and copies["flagged"]
    assert copies["median_ratio"] < 0.01
    assert (
        copies["closest"][0]["distance"] < 0.01
        and copies["closest"][0]["real"] == copies["closest"][0]["synthetic"]
    )
    assert fresh["share_p01"] < 0.05 and fresh["share_p05"] < 0.15 and not fresh["flagged"]
    assert 0.7 < fresh["median_ratio"] < 1.5
    assert fresh["baseline"] == "real windows, leave-one-out" and fresh["n_baseline"] == 400
    held = tm.nearest_window(real, sines(300, 1), holdout=sines(200, 2))
    assert held["baseline"] == "held-out windows" and not held["flagged"] and held["n_baseline"] == 200


# ---------------------------------------------------------------- bad input


def all_scores():
    return {
        "discriminative": lambda r, s: tm.discriminative_score(r, s, seeds=1, iterations=1),
        "predictive": lambda r, s: tm.predictive_score(r, s, iterations=1),
        "acf_error": tm.autocorrelation_error,
        "cross_correlation": tm.cross_correlation_error,
        "marginals": tm.marginal_distances,
        "nearest": tm.nearest_window,
    }


NAN = np.where(np.arange(T)[None, :, None] == 3, np.nan, sines(20, 1))
BAD = {  # real, synthetic, the error's regular expression
    "features differ": (sines(20, 0), sines(20, 1, d=D - 1), r"T x d = 24 x 6 but \w+ windows are 24 x 5$"),
    "steps differ": (sines(20, 0), sines(20, 1, t=T - 1), r"T x d = 24 x 6 but \w+ windows are 23 x 6$"),
    "one window": (sines(1, 0), sines(20, 1), r"windows hold 1 window\(s\); this score needs at least"),
    "NaN": (sines(20, 0), NAN, r"windows contain NaN or inf$"),
    "a table": (
        sines(20, 0)[:, :, 0],
        sines(20, 1),
        r"must be windows of shape \(n, T, d\), got shape \(20, 24\)",
    ),
    "one step": (sines(20, 0, t=1), sines(20, 1, t=1), "need at least 2 time steps and 1 feature per window"),
}


@pytest.mark.parametrize("score", list(all_scores()))
@pytest.mark.parametrize("case", list(BAD))
def test_bad_windows_raise_one_line(score, case):
    real, synth, message = BAD[case]
    with pytest.raises(DataError, match=message) as err:
        all_scores()[score](real, synth)
    assert "\n" not in str(err.value)


def test_the_learned_scores_need_enough_windows_and_sane_options():
    with pytest.raises(DataError, match="hold 9 window.*at least 10"):
        tm.discriminative_score(sines(9, 0), sines(20, 1), iterations=1)
    with pytest.raises(ConfigError, match="iterations must be a positive integer"):
        tm.predictive_score(sines(20, 0), sines(20, 1), iterations=0)
    with pytest.raises(ConfigError, match="seed must be a non-negative integer, got -1"):
        tm.nearest_window(sines(20, 0), sines(20, 1), seed=-1)
    with pytest.raises(ConfigError, match="hidden"):
        tm.discriminative_score(sines(20, 0), sines(20, 1), hidden=0)
    with pytest.raises(ConfigError, match="max_lag must be at most T - 1 = 23"):
        tm.autocorrelation_error(sines(20, 0), sines(20, 1), max_lag=24)
    with pytest.raises(DataError, match="real windows hold 2 window.*at least 3"):  # leave-one-out
        tm.nearest_window(sines(2, 0), sines(5, 1))
