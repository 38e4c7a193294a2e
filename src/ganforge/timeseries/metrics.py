"""How good are synthetic time series? The evaluation of TimeGAN, plus cheap statistics and a memorisation check.

Windows are float arrays of shape (n, T, d): n windows of T steps and d features, each feature min-max
scaled to [0, 1] as in the TimeGAN protocol (Yoon, Jarrett and van der Schaar, "Time-series Generative
Adversarial Networks", NeurIPS 2019). Real and synthetic sets may hold different numbers of windows but
must agree on T and d.

- :func:`discriminative_score`: a post-hoc recurrent classifier tells real windows from synthetic ones;
  the score is |test accuracy - 0.5| (0 = indistinguishable, 0.5 = always told apart).
- :func:`predictive_score`: "train on synthetic, test on real": a recurrent net learns one-step-ahead
  prediction on one set and is scored (mean absolute error) on the other. Trained on real windows, the
  same call gives the real-data reference.
- :func:`autocorrelation_error`, :func:`cross_correlation_error`, :func:`marginal_distances`: how far
  the temporal, cross-feature and per-feature statistics are from the real ones; :func:`acf` gives the
  mean autocorrelation curves themselves, for plots.
- :func:`nearest_window`: does the generator copy real windows? Nearest-real-window distances of the
  synthetic windows against real-to-real ones (ganforge.metrics.memorisation's comparison).

The two learned scores train small GRUs written in numpy (see below), are deterministic for a given
``seed`` and leave every global random state alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from ganforge.errors import ConfigError, DataError
from ganforge.metrics.memorisation import FLAG_FACTOR, FLAG_MIN_SHARE, distance_quantiles, nearest_neighbours

__all__ = [
    "acf",
    "autocorrelation_error",
    "cross_correlation_error",
    "discriminative_score",
    "marginal_distances",
    "nearest_window",
    "predictive_score",
]

MIN_WINDOWS_LEARNED = 10  # per set, for the two learned scores (the classifier's test split needs some)
TRAIN_SHARE = 0.8  # the discriminative protocol's train/test split, per set
BATCH_SIZE = 128  # TimeGAN's batch size for both post-hoc nets
_NEAREST_QUANTILES = (0.01, 0.05)


# ---------------------------------------------------------------- input checks


def _check_windows(x: Any, what: str, min_windows: int = 2) -> np.ndarray:
    """``x`` as a finite float64 (n, T, d) array with n >= min_windows; a one-line DataError otherwise."""
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{what} are not numeric windows: {exc}") from None
    if arr.ndim != 3:
        raise DataError(f"{what} must be windows of shape (n, T, d), got shape {arr.shape}")
    n, t, d = arr.shape
    if t < 2 or d < 1:
        raise DataError(f"{what} need at least 2 time steps and 1 feature per window, got T={t}, d={d}")
    if n < min_windows:
        raise DataError(f"{what} hold {n} window(s); this score needs at least {min_windows}")
    if not np.isfinite(arr).all():
        raise DataError(f"{what} contain NaN or inf")
    return arr


def _check_pair(
    real: Any, synth: Any, min_windows: int = 2, names: tuple[str, str] = ("real", "synthetic")
) -> tuple[np.ndarray, np.ndarray]:
    a = _check_windows(real, f"{names[0]} windows", min_windows)
    b = _check_windows(synth, f"{names[1]} windows", min_windows)
    _same_shape(a, b, names)
    return a, b


def _same_shape(a: np.ndarray, b: np.ndarray, names: tuple[str, str]) -> None:
    if a.shape[1:] != b.shape[1:]:
        raise DataError(
            f"{names[0]} windows are T x d = {a.shape[1]} x {a.shape[2]} but {names[1]} windows are "
            f"{b.shape[1]} x {b.shape[2]}"
        )


def _check_seed(seed: int) -> None:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ConfigError(f"seed must be a non-negative integer, got {seed!r}")


def _check_positive(**values: int | None) -> None:
    for name, value in values.items():
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1
        ):
            raise ConfigError(f"{name} must be a positive integer, got {value!r}")


# ---------------------------------------------------------------- the post-hoc recurrent nets
#
# A GRU in numpy with backpropagation through time written out. These nets are tiny (d // 2 units) and
# trained for thousands of steps, so their cost is the per-operation overhead, not arithmetic: torch's
# GRU spends ~17 ms per training step of 128 windows of 24 steps on one core, almost all of it in
# autograd's per-step bookkeeping; this spends a few ms, and trains several nets for the price of about
# two by laying them side by side as one block-diagonal net (``blocks``): net s owns input columns
# s*I..(s+1)*I, hidden units s*H..(s+1)*H of each gate and output s, every other weight is 0 and its
# gradient masked to 0, so the nets never interact (Adam acts elementwise). Gates follow torch.nn.GRU:
#   r = sig(x Wir + bir + h Whr + bhr),  z = sig(x Wiz + biz + h Whz + bhz),
#   n = tanh(x Win + bin + r * (h Whn + bhn)),  h' = n + z * (h - n).
# tests/test_timeseries_metrics.py checks outputs and gradients against torch's autograd.


def _sigmoid_(a: np.ndarray) -> np.ndarray:
    """In place; through tanh, which numpy vectorises (scipy's expit is ~10x slower here)."""
    a *= 0.5
    np.tanh(a, out=a)
    a *= 0.5
    a += 0.5
    return a


class _GRU:
    """``blocks`` independent nets, each a stack of ``layers`` GRU layers of ``hidden`` units on ``n_in``
    inputs and a linear head with one output, computed as one block-diagonal net on time-major arrays.

    Weights start as torch's do, uniform in +-1/sqrt(hidden), each block from its own generator.
    """

    def __init__(
        self,
        n_in: int,
        hidden: int,
        layers: int,
        rngs: list[np.random.Generator],
        dtype: type = np.float32,
    ):
        s, h = len(rngs), hidden
        self.blocks, self.hidden, self.layers, self.width = s, h, layers, s * h
        bound = 1.0 / np.sqrt(h)
        self.params: dict[str, np.ndarray] = {}
        self.masks: dict[str, np.ndarray] = {}
        shapes = {}
        for layer in range(layers):
            i = n_in if layer == 0 else h
            shapes |= {f"wi{layer}": (i, 3), f"wh{layer}": (h, 3), f"bi{layer}": (1, 3), f"bh{layer}": (1, 3)}
        shapes |= {"w": (h, 0), "b": (1, 0)}  # the head: gates == 0 means a single output per block
        for name, (rows, gates) in shapes.items():
            per_block = rows if name[0] == "w" else 0  # weights: block rows; biases: one shared row
            n_rows = rows * s if per_block else 1
            cols = 3 * self.width if gates else s
            big = np.zeros((n_rows, cols), dtype)
            mask = np.zeros((n_rows, cols), bool)
            for b, rng in enumerate(rngs):
                r0 = b * rows if per_block else 0
                for g in range(max(gates, 1)):
                    c0 = g * self.width + b * h if gates else b
                    c1 = c0 + (h if gates else 1)
                    big[r0 : r0 + rows, c0:c1] = rng.uniform(-bound, bound, (rows, c1 - c0))
                    mask[r0 : r0 + rows, c0:c1] = True
            self.params[name] = big if per_block else big[0]
            if per_block and s > 1:
                self.masks[name] = mask

    def forward(self, x: np.ndarray) -> tuple[np.ndarray, list[tuple[np.ndarray, ...]]]:
        """Hidden states of the top layer, (T, B, width), for inputs (T, B, blocks * n_in); and the
        intermediate values :meth:`backward` needs."""
        t_len, batch = x.shape[:2]
        w = self.width
        caches = []
        for layer in range(self.layers):
            gi = (x.reshape(t_len * batch, -1) @ self.params[f"wi{layer}"]).reshape(t_len, batch, 3 * w)
            gi += self.params[f"bi{layer}"]
            wh, bh = self.params[f"wh{layer}"], self.params[f"bh{layer}"]
            hs = np.zeros((t_len + 1, batch, w), x.dtype)  # hs[t + 1] is the state after step t
            rz_all = np.empty((t_len, batch, 2 * w), x.dtype)
            n_all = np.empty((t_len, batch, w), x.dtype)
            ghn_all = np.empty((t_len, batch, w), x.dtype)
            for t in range(t_len):
                gh = hs[t] @ wh
                gh += bh
                rz = rz_all[t]
                np.add(gi[t, :, : 2 * w], gh[:, : 2 * w], out=rz)
                _sigmoid_(rz)
                ghn_all[t] = gh[:, 2 * w :]
                n = n_all[t]
                np.multiply(rz[:, :w], gh[:, 2 * w :], out=n)
                n += gi[t, :, 2 * w :]
                np.tanh(n, out=n)
                h = hs[t + 1]
                np.subtract(hs[t], n, out=h)
                h *= rz[:, w:]
                h += n
            caches.append((x, hs, rz_all, n_all, ghn_all))
            x = hs[1:]
        return x, caches

    def backward(
        self, d_top: np.ndarray, caches: list[tuple[np.ndarray, ...]], last_only: bool
    ) -> dict[str, np.ndarray]:
        """Gradients of the GRU weights given the gradient of the top layer's states: (B, width) for the
        last state only (``last_only``) or (T, B, width) for every step."""
        grads: dict[str, np.ndarray] = {}
        w = self.width
        d_out = d_top
        for layer in reversed(range(self.layers)):
            x, hs, rz_all, n_all, ghn_all = caches[layer]
            t_len, batch = x.shape[:2]
            wh_t = self.params[f"wh{layer}"].T
            d_gh = np.empty((t_len, batch, 3 * w), x.dtype)  # d pre-activation of r and z, d (h Whn + bhn)
            d_an = np.empty((t_len, batch, w), x.dtype)  # d pre-activation of n
            top_last = last_only and layer == self.layers - 1
            dh = d_out.copy() if top_last else np.zeros((batch, w), x.dtype)
            for t in reversed(range(t_len)):
                if not top_last:
                    dh += d_out[t]
                rz, n = rz_all[t], n_all[t]
                dan = d_an[t]
                np.multiply(n, n, out=dan)
                np.subtract(1.0, dan, out=dan)
                dan *= dh
                dan -= dan * rz[:, w:]  # dh * (1 - z) * (1 - n^2)
                g = d_gh[t]
                np.multiply(dan, ghn_all[t], out=g[:, :w])
                np.subtract(hs[t], n, out=g[:, w : 2 * w])
                g[:, w : 2 * w] *= dh
                g[:, : 2 * w] *= rz * (1.0 - rz)
                np.multiply(dan, rz[:, :w], out=g[:, 2 * w :])
                dh *= rz[:, w:]
                dh += g @ wh_t
            flat_gh = d_gh.reshape(t_len * batch, 3 * w)
            flat_gi = np.concatenate([flat_gh[:, : 2 * w], d_an.reshape(t_len * batch, w)], axis=1)
            grads[f"wh{layer}"] = hs[:-1].reshape(t_len * batch, w).T @ flat_gh
            grads[f"bh{layer}"] = flat_gh.sum(axis=0)
            grads[f"wi{layer}"] = x.reshape(t_len * batch, -1).T @ flat_gi
            grads[f"bi{layer}"] = flat_gi.sum(axis=0)
            if layer:
                d_out = (flat_gi @ self.params[f"wi{layer}"].T).reshape(t_len, batch, w)
        return grads

    def mask(self, grads: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Zero the gradients of the weights between blocks (in place)."""
        for name, m in self.masks.items():
            if name in grads:
                grads[name] *= m
        return grads


class _Adam:
    """Adam with its usual defaults (Kingma and Ba, 2015), as in the paper's code: lr 1e-3, betas (0.9,
    0.999), eps 1e-8."""

    def __init__(self, params: dict[str, np.ndarray], lr: float = 1e-3):
        self.params, self.lr, self.step_count = params, lr, 0
        self.m = {k: np.zeros_like(v) for k, v in params.items()}
        self.v = {k: np.zeros_like(v) for k, v in params.items()}

    def step(self, grads: dict[str, np.ndarray]) -> None:
        self.step_count += 1
        b1, b2 = 0.9, 0.999
        scale = self.lr * np.sqrt(1 - b2**self.step_count) / (1 - b1**self.step_count)
        for k, g in grads.items():
            m, v = self.m[k], self.v[k]
            m *= b1
            m += (1 - b1) * g
            v *= b2
            v += (1 - b2) * g * g
            self.params[k] -= scale * m / (np.sqrt(v) + 1e-8)


def _batches(n: int, batch: int, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """Endless random mini-batches of indices: reshuffled passes over range(n)."""
    batch = min(batch, n)
    while True:
        order = rng.permutation(n)
        for start in range(0, n - batch + 1, batch):
            yield order[start : start + batch]


def _time_major(blocks: list[np.ndarray]) -> np.ndarray:
    """Per-block window batches, each (B, T, I), as one time-major (T, B, blocks * I) float32 array."""
    return np.ascontiguousarray(np.concatenate(blocks, axis=2).transpose(1, 0, 2), dtype=np.float32)


def _default_hidden(d: int, hidden: int | None) -> int:
    _check_positive(hidden=hidden)
    return hidden if hidden is not None else max(1, d // 2)


_EVAL_CHUNK = 4096  # windows per forward pass when scoring


def _one_thread() -> Any:
    """The nets' matrices are small: BLAS threads only add contention (10x slower on a busy machine)."""
    from threadpoolctl import threadpool_limits  # a scikit-learn dependency

    return threadpool_limits(limits=1, user_api="blas")


# ---------------------------------------------------------------- discriminative score


def discriminative_score(
    real: np.ndarray,
    synth: np.ndarray,
    seed: int = 0,
    seeds: int = 5,
    iterations: int = 2000,
    hidden: int | None = None,
    batch_size: int = BATCH_SIZE,
) -> dict[str, Any]:
    """TimeGAN's discriminative score: how well a post-hoc classifier tells real from synthetic windows.

    Protocol of Yoon, Jarrett and van der Schaar (NeurIPS 2019): both sets are cut to the same number of
    windows (the larger one is subsampled at random), each is split 80 % / 20 % into train and test, a
    recurrent classifier is trained on the training windows (Adam, batches of ``batch_size`` windows,
    ``iterations`` steps, binary cross-entropy) and scored on the balanced test windows. The score is
    |accuracy - 0.5|: 0 when the classifier does no better than chance, 0.5 when it always tells the
    sets apart. The classifier is a 2-layer GRU (``hidden`` units per layer, default max(1, d // 2) as in
    the paper's code) with a linear head on the top layer's last state; the paper's code uses one GRU
    layer.

    The whole procedure (subsample, split, initialisation, batches) runs ``seeds`` times, run k from
    the k-th child of ``seed``'s numpy SeedSequence (so run 0 is the same whatever ``seeds``). Returns
    ``score`` (mean over runs), ``std`` and ``per_seed`` scores, ``accuracy`` (mean test accuracy) and
    the sizes used. Each set needs at least 10 windows.
    """
    _check_positive(seeds=seeds, iterations=iterations, batch_size=batch_size)
    _check_seed(seed)
    real, synth = _check_pair(real, synth, MIN_WINDOWS_LEARNED)
    d = real.shape[2]
    hidden = _default_hidden(d, hidden)
    n = min(len(real), len(synth))
    n_train = min(max(int(round(TRAIN_SHARE * n)), 1), n - 1)
    rngs = [np.random.default_rng(child) for child in np.random.SeedSequence(seed).spawn(seeds)]
    net = _GRU(d, hidden, layers=2, rngs=rngs)
    pool = np.concatenate([real, synth]).astype(np.float32)  # synthetic window i is pool[len(real) + i]
    train, test = [], []  # per run: indices into pool, real ones first
    for rng in rngs:
        picks = [
            rng.choice(len(real), n, replace=False),
            len(real) + rng.choice(len(synth), n, replace=False),
        ]
        train.append(np.concatenate([pick[:n_train] for pick in picks]))
        test.append(np.concatenate([pick[n_train:] for pick in picks]))
    y_train = np.repeat(np.array([0.0, 1.0], np.float32), n_train)
    y_test = np.repeat([False, True], n - n_train)
    streams = [_batches(len(y_train), batch_size, rng) for rng in rngs]
    adam = _Adam(net.params)
    p = net.params
    with _one_thread():
        for _ in range(iterations):
            idx = [next(s) for s in streams]
            x = _time_major([pool[run[i]] for run, i in zip(train, idx, strict=True)])
            y = np.stack([y_train[i] for i in idx], axis=1)  # (B, seeds)
            states, caches = net.forward(x)
            last = states[-1]
            logits = last @ p["w"] + p["b"]
            d_logits = (_sigmoid_(logits) - y) / len(y)  # binary cross-entropy on logits, mean per net
            grads = net.backward(d_logits @ p["w"].T, caches, last_only=True)
            grads["w"], grads["b"] = last.T @ d_logits, d_logits.sum(axis=0)
            adam.step(net.mask(grads))
        correct = []
        for start in range(0, len(y_test), _EVAL_CHUNK):
            part = slice(start, start + _EVAL_CHUNK)
            states, _ = net.forward(_time_major([pool[run[part]] for run in test]))
            logits = states[-1] @ p["w"] + p["b"]
            correct.append((logits > 0) == y_test[part, None])
    accuracies = np.concatenate(correct).mean(axis=0)
    scores = np.abs(accuracies - 0.5)
    return {
        "score": float(scores.mean()),
        "std": float(scores.std()),
        "per_seed": [float(s) for s in scores],
        "accuracy": float(accuracies.mean()),
        "n_train": 2 * n_train,
        "n_test": 2 * (n - n_train),
        "hidden": hidden,
        "iterations": iterations,
    }


# ---------------------------------------------------------------- predictive score


def _prediction_pairs(windows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Inputs (features 0..d-2 at steps 0..T-2) and targets (feature d-1 at steps 1..T-1), as float32.

    A univariate series (d = 1) has no other feature to predict from: its own past is the input.
    """
    inputs = windows[:, :-1, :-1] if windows.shape[2] > 1 else windows[:, :-1, :]
    return inputs.astype(np.float32), windows[:, 1:, -1].astype(np.float32)


def predictive_score(
    train: np.ndarray,
    test: np.ndarray,
    seed: int = 0,
    iterations: int = 5000,
    hidden: int | None = None,
    batch_size: int = BATCH_SIZE,
) -> dict[str, Any]:
    """TimeGAN's predictive score ("train on synthetic, test on real"): one-step-ahead prediction error.

    Protocol of Yoon, Jarrett and van der Schaar (NeurIPS 2019): a post-hoc GRU (one layer of ``hidden``
    units, default max(1, d // 2), then a linear layer and a sigmoid on every step) is trained on the
    ``train`` windows to predict the last feature at steps 1..T-1 from the other d - 1 features at steps
    0..T-2 (Adam, batches of ``batch_size`` windows, ``iterations`` steps, L1 loss), then scored by the
    mean absolute error of that prediction over every step of every ``test`` window. With d = 1 the input
    is the feature's own previous value. Targets are taken to lie in [0, 1] (the protocol's scaling).

    Pass (synthetic, real) for the score itself and (real_train, real_test) for the real-data reference
    it should be close to. Deterministic given ``seed``. Returns ``mae`` and the sizes used.
    """
    _check_positive(iterations=iterations, batch_size=batch_size)
    _check_seed(seed)
    train, test = _check_pair(train, test, names=("training", "test"))
    hidden = _default_hidden(train.shape[2], hidden)
    x_train, y_train = _prediction_pairs(train)
    x_test, y_test = _prediction_pairs(test)
    rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(1)[0])
    net = _GRU(x_train.shape[2], hidden, layers=1, rngs=[rng])
    adam = _Adam(net.params)
    p = net.params
    stream = _batches(len(x_train), batch_size, rng)
    with _one_thread():
        for _ in range(iterations):
            i = next(stream)
            states, caches = net.forward(_time_major([x_train[i]]))
            pred = _sigmoid_((states @ p["w"])[..., 0] + p["b"])  # (T - 1, B)
            target = y_train[i].T
            d_pred = np.sign(pred - target) * pred * (1.0 - pred) / pred.size  # L1 loss, mean
            grads = net.backward(d_pred[..., None] * p["w"][:, 0], caches, last_only=False)
            grads["w"] = states.reshape(-1, net.width).T @ d_pred.reshape(-1, 1)
            grads["b"] = d_pred.sum(keepdims=True).reshape(1)
            adam.step(grads)
        total = 0.0
        for start in range(0, len(x_test), _EVAL_CHUNK):
            part = slice(start, start + _EVAL_CHUNK)
            states, _ = net.forward(_time_major([x_test[part]]))
            pred = _sigmoid_((states @ p["w"])[..., 0] + p["b"])
            total += float(np.abs(pred - y_test[part].T).sum(dtype=np.float64))
    return {
        "mae": total / y_test.size,
        "n_train": len(train),
        "n_test": len(test),
        "hidden": hidden,
        "iterations": iterations,
    }


# ---------------------------------------------------------------- statistics


def acf(windows: np.ndarray, max_lag: int | None = None) -> np.ndarray:
    """Mean autocorrelation function per feature, shape (max_lag + 1, d), lags 0..max_lag (default T-1).

    Each window's sample autocorrelation at lag k is sum_t (x_t - m)(x_{t+k} - m) / sum_t (x_t - m)^2 with
    m the window's mean (the usual biased estimator); it is averaged over the windows. A window in which
    a feature is constant has no autocorrelation and is left out of that feature's mean; a feature
    constant in every window gets 0 at every lag >= 1.
    """
    x = _check_windows(windows, "windows", min_windows=1)
    t = x.shape[1]
    max_lag = _check_lag(max_lag, t)
    centred = x - x.mean(axis=1, keepdims=True)
    var = (centred**2).sum(axis=1)  # (n, d)
    varies = var > 1e-12 * max(1.0, float(np.abs(x).max()) ** 2)
    counts = varies.sum(axis=0)  # (d,)
    out = np.zeros((max_lag + 1, x.shape[2]))
    out[0] = 1.0
    safe_var = np.where(varies, var, 1.0)
    for k in range(1, max_lag + 1):
        r = (centred[:, :-k] * centred[:, k:]).sum(axis=1) / safe_var  # (n, d)
        out[k] = np.where(counts > 0, (r * varies).sum(axis=0) / np.maximum(counts, 1), 0.0)
    return out


def _check_lag(max_lag: int | None, t: int) -> int:
    if max_lag is None:
        return t - 1
    _check_positive(max_lag=max_lag)
    if max_lag > t - 1:
        raise ConfigError(f"max_lag must be at most T - 1 = {t - 1}, got {max_lag}")
    return int(max_lag)


def autocorrelation_error(real: np.ndarray, synth: np.ndarray, max_lag: int | None = None) -> float:
    """Mean absolute difference of the real and synthetic mean autocorrelation functions (:func:`acf`).

    Averaged over lags 1..max_lag (default T-1; lag 0 is 1 for both) and features. 0 when the two sets
    have the same mean autocorrelation; at most 2.
    """
    real, synth = _check_pair(real, synth)
    max_lag = _check_lag(max_lag, real.shape[1])
    return float(np.abs(acf(real, max_lag)[1:] - acf(synth, max_lag)[1:]).mean())


def _correlations(x: np.ndarray) -> np.ndarray:
    """Pearson correlations of the features over all steps of all windows; 0 for a constant feature."""
    flat = x.reshape(-1, x.shape[2])
    centred = flat - flat.mean(axis=0)
    norm = np.sqrt((centred**2).sum(axis=0))
    norm = np.where(norm > 1e-12 * np.sqrt(len(flat)), norm, np.inf)
    unit = centred / norm
    return unit.T @ unit


def cross_correlation_error(real: np.ndarray, synth: np.ndarray) -> float:
    """Mean absolute difference of the feature-feature correlation matrices of real and synthetic data.

    Pearson correlations of the d features over all (window, step) values, compared over the
    d (d - 1) / 2 distinct feature pairs (the diagonal is 1 in both); a constant feature correlates 0
    with every other. 0.0 for a single feature; at most 2.
    """
    real, synth = _check_pair(real, synth)
    d = real.shape[2]
    if d < 2:
        return 0.0
    upper = np.triu_indices(d, k=1)
    return float(np.abs(_correlations(real)[upper] - _correlations(synth)[upper]).mean())


def marginal_distances(real: np.ndarray, synth: np.ndarray) -> list[float]:
    """Per feature, the two-sample Kolmogorov-Smirnov statistic of all its values (every window and step).

    The largest gap between the real and synthetic empirical distribution functions: 0 for identical
    marginals, 1 for disjoint ones. Blind to time order: a set with its steps shuffled scores 0.
    """
    real, synth = _check_pair(real, synth)
    out = []
    for j in range(real.shape[2]):
        a = np.sort(real[:, :, j].ravel())
        b = np.sort(synth[:, :, j].ravel())
        grid = np.concatenate([a, b])
        cdf_a = np.searchsorted(a, grid, side="right") / len(a)
        cdf_b = np.searchsorted(b, grid, side="right") / len(b)
        gap = cdf_a - cdf_b
        out.append(float(np.abs(gap).max()))
    return out


# ---------------------------------------------------------------- memorisation


def nearest_window(
    real: np.ndarray,
    synth: np.ndarray,
    holdout: np.ndarray | None = None,
    n_baseline: int = 2000,
    n_pairs: int = 16,
    seed: int = 0,
) -> dict[str, Any]:
    """Does the generator copy real windows? Nearest-real-window distances against a real baseline.

    Each synthetic window (flattened to T * d values) gets the Euclidean distance to its nearest real
    window. The baseline is the same distance for real windows: ``holdout`` windows against ``real``
    when given, else up to ``n_baseline`` random real windows each against the other real windows
    (leave-one-out), as in ganforge.metrics.memorisation. Only 1 % (5 %) of real windows lie within the
    baseline's 1st (5th) percentile of a real window; ``share_p01`` (``share_p05``) is the share of
    synthetic windows that do. A generator that draws new windows has shares near 0.01 and 0.05 and a
    ``median_ratio`` (median synthetic distance / median baseline distance) near 1 or above; one that
    copies its training windows has shares near 1 and a ratio near 0. ``flagged`` uses memorisation's
    rule on the 1st-percentile share. The ``n_pairs`` closest (synthetic, real) pairs are listed.
    """
    _check_positive(n_baseline=n_baseline)
    _check_seed(seed)
    if n_baseline < 2 or n_pairs < 0:
        raise ConfigError(f"need n_baseline >= 2 and n_pairs >= 0, got {n_baseline} and {n_pairs}")
    real = _check_windows(real, "real windows", min_windows=2 if holdout is not None else 3)
    synth = _check_windows(synth, "synthetic windows", min_windows=1)
    _same_shape(real, synth, ("real", "synthetic"))
    ref = real.reshape(len(real), -1)
    synth_index, synth_dist = nearest_neighbours(synth.reshape(len(synth), -1), ref)
    if holdout is not None:
        held = _check_windows(holdout, "held-out windows", min_windows=1)
        _same_shape(real, held, ("real", "held-out"))
        _, real_dist = nearest_neighbours(held.reshape(len(held), -1), ref)
        baseline = "held-out windows"
    else:
        rng = np.random.default_rng(seed)
        pick = np.sort(rng.choice(len(real), size=min(n_baseline, len(real)), replace=False))
        _, real_dist = nearest_neighbours(ref[pick], ref, exclude=pick)
        baseline = "real windows, leave-one-out"
    out: dict[str, Any] = {}
    for q in _NEAREST_QUANTILES:
        name = f"p{round(q * 100):02d}"
        threshold = float(np.quantile(real_dist, q))
        out[f"threshold_{name}"] = threshold
        out[f"share_{name}"] = float((synth_dist <= threshold).mean())
        out[f"baseline_share_{name}"] = float((real_dist <= threshold).mean())
    closest = np.argsort(synth_dist, kind="stable")[:n_pairs]
    return {
        **out,
        "median_ratio": float(np.median(synth_dist) / max(float(np.median(real_dist)), 1e-12)),
        "flagged": bool(out["share_p01"] > max(FLAG_FACTOR * out["baseline_share_p01"], FLAG_MIN_SHARE)),
        "synthetic_distances": distance_quantiles(synth_dist),
        "baseline_distances": distance_quantiles(real_dist),
        "baseline": baseline,
        "n_synthetic": len(synth),
        "n_real": len(real),
        "n_baseline": len(real_dist),
        "closest": [
            {"synthetic": int(i), "real": int(synth_index[i]), "distance": float(synth_dist[i])}
            for i in closest
        ],
    }
