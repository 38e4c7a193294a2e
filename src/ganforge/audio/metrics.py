"""How good are generated clips? The evaluation protocol of WaveGAN (Donahue, McAuley and Puckette,
"Adversarial Audio Synthesis", ICLR 2019) on SC09, for any set of labelled clips.

A small convolutional classifier (:class:`ClipClassifier`) is trained on the *real* training clips
(:func:`train_classifier`) and then plays the part Inception plays for images: its class probabilities
give an inception score, its penultimate layer an embedding in which generated and real clips are
compared. :func:`evaluate_clips` reports

- the inception score of generated and of real clips (:func:`inception_score`);
- the Fréchet distance between generated and real embeddings (``ganforge.metrics.fid``);
- for a conditional generator, the share of clips the classifier assigns to the class they were asked for;
- within-class diversity: the mean pairwise embedding distance among generated clips of one predicted
  class over the same among real clips (near 1 is good, near 0 is mode collapse);
- the distribution of predicted labels (entropy, share of the most common class);
- memorisation: each generated clip's nearest training clip in log-mel space, against real-to-real
  nearest distances (``ganforge.metrics.memorisation``).

The classifier reads normalised log-mel spectrograms: ``MelSpec`` (64 mel bands, an FFT of 1024 points
and a hop of 256 at 16 kHz, scaled with the sample rate), each clip's log magnitudes taken relative to
its own loudest value and clipped 80 dB below it, so loudness does not change a clip's class. It is
saved as ``classifier.safetensors`` + ``classifier.json`` (never a pickle); :func:`cached_classifier`
trains it once per training set.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import secrets
import shutil
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ganforge.audio.spectral import LOG_FLOOR, MelSpec
from ganforge.core.io import atomic_write_json
from ganforge.engine.checkpoint import load_tensors_checked, save_tensors_atomic
from ganforge.errors import CheckpointError, ConfigError, DataError
from ganforge.metrics.fid import features_frechet_distance
from ganforge.metrics.memorisation import memorisation

__all__ = [
    "ClipClassifier",
    "cached_classifier",
    "clips_fingerprint",
    "embed",
    "evaluate_clips",
    "inception_score",
    "load_classifier",
    "save_classifier",
    "train_classifier",
]

FORMAT = "ganforge-clip-classifier"
VERSION = 1  # of the file format and the training recipe: part of clips_fingerprint, so caches follow it
WEIGHTS = "classifier.safetensors"
CONFIG = "classifier.json"
DYNAMIC_RANGE = math.log(1e4)  # 80 dB of amplitude below a clip's loudest mel value; quieter is the floor
DEFAULT_EPOCHS = 8
COPY_QUANTILE = 0.05  # memorisation threshold: this quantile of the real-to-real nearest distances
_MAX_DIVERSITY_CLIPS = 256  # per class and side, for the mean pairwise distance
_RECALIBRATION_CLIPS = 4096  # training clips that set the batch-norm statistics after training


# ---------------------------------------------------------------- the classifier


def _spec_for(sample_rate: int, n_mels: int, n_fft: int | None, hop: int | None) -> MelSpec:
    if n_fft is None:  # 1024 points at 16 kHz (64 ms), the power of two nearest that duration elsewhere
        n_fft = 2 ** max(6, round(math.log2(1024 * sample_rate / 16000)))
    return MelSpec(
        sample_rate=sample_rate, n_fft=n_fft, hop=n_fft // 4 if hop is None else hop, n_mels=n_mels
    )


class ClipClassifier(nn.Module):
    """A small CNN on normalised log-mel spectrograms of mono clips: ``depth`` blocks of a 3x3
    convolution (stride 2 in the first block), batch norm, ReLU and a 2x2 max-pool, ``width`` channels
    doubling per block (at most 8 x ``width``); then the mean over frequency, mean and max over time, a ``embed_dim``-wide embedding
    (linear + ReLU: the features of :func:`embed`) and a linear head over the classes.

    Takes clips ``(n, samples)`` (float, about [-1, 1]) at ``sample_rate``; any length of at least two
    hops works, since the pooling is global. ``info`` holds what training measured (``valid_accuracy``
    among it).
    """

    def __init__(
        self,
        sample_rate: int,
        class_names: Sequence[str],
        *,
        n_mels: int = 64,
        n_fft: int | None = None,
        hop: int | None = None,
        width: int = 32,
        depth: int = 4,
        embed_dim: int = 128,
        dropout: float = 0.2,
    ) -> None:
        super().__init__()
        class_names = [str(c) for c in class_names]
        if len(class_names) < 2 or len(set(class_names)) != len(class_names):
            raise ConfigError(f"a clip classifier needs at least 2 distinct class names, got {class_names}")
        if (
            isinstance(sample_rate, bool)
            or not isinstance(sample_rate, (int, np.integer))
            or sample_rate < 1000
        ):
            raise ConfigError(f"sample_rate must be an integer of at least 1000 Hz, got {sample_rate!r}")
        for name, value, low in (("n_mels", n_mels, 4), ("width", width, 1), ("depth", depth, 1),
                                 ("embed_dim", embed_dim, 2)):  # fmt: skip
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
                raise ConfigError(f"{name} must be an integer >= {low}, got {value!r}")
        for name, value in (("n_fft", n_fft), ("hop", hop)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, np.integer))):
                raise ConfigError(f"{name} must be an integer or None, got {value!r}")
        if not 0.0 <= dropout < 1.0:
            raise ConfigError(f"dropout must be in [0, 1), got {dropout}")
        self.spec = _spec_for(int(sample_rate), int(n_mels), n_fft, hop)
        if self.spec.hop < 1 or self.spec.n_fft < 16:
            raise ConfigError(f"need n_fft >= 16 and hop >= 1, got {self.spec.n_fft} and {self.spec.hop}")
        self.sample_rate = int(sample_rate)
        self.class_names = class_names
        self.config: dict[str, Any] = {
            "sample_rate": self.sample_rate, "class_names": class_names, "n_mels": int(n_mels),
            "n_fft": self.spec.n_fft, "hop": self.spec.hop, "width": int(width), "depth": int(depth),
            "embed_dim": int(embed_dim), "dropout": float(dropout),
        }  # fmt: skip
        self.info: dict[str, Any] = {}
        layers: list[nn.Module] = []
        cin = 1
        for i in range(depth):
            cout = width * 2 ** min(i, 3)
            stride = 2 if i == 0 else 1  # the first block halves the resolution: most of the cost saved
            conv = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
            layers += [conv, nn.BatchNorm2d(cout), nn.ReLU()]
            layers.append(nn.MaxPool2d(2, ceil_mode=True))  # ceil: a side of 1 stays 1
            cin = cout
        self.body = nn.Sequential(*layers)
        self.embedding = nn.Sequential(nn.Linear(2 * cin, embed_dim), nn.ReLU())
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(embed_dim, len(class_names))

    @property
    def min_samples(self) -> int:
        """The shortest clip the classifier reads: two hops."""
        return 2 * self.spec.hop

    def spectrogram(self, clips: torch.Tensor) -> torch.Tensor:
        """Normalised log-mel spectrograms (n, n_mels, frames) in [-1, 1]: 1 is the clip's loudest value,
        -1 is 80 dB below it or quieter. The loudest value counts as at least 0.1 (a mel magnitude about
        50 dB below a full-scale word), so near-silence stays near -1 instead of being blown up."""
        z = self.spec.log_mel(clips)
        top = z.amax(dim=(1, 2), keepdim=True).clamp_min(math.log(LOG_FLOOR) + DYNAMIC_RANGE)
        return (torch.maximum(z, top - DYNAMIC_RANGE) - top) / (DYNAMIC_RANGE / 2) + 1.0

    def features(self, clips: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Embeddings (n, embed_dim) and logits (n, classes)."""
        h = self.body(self.spectrogram(clips)[:, None]).mean(dim=2)  # (n, c, frames)
        e = self.embedding(torch.cat([h.mean(dim=2), h.amax(dim=2)], dim=1))
        return e, self.head(self.dropout(e))

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        """Logits (n, classes) of clips (n, samples)."""
        return self.features(clips)[1]


# ---------------------------------------------------------------- input checks


def _check_clips(clips: Any, what: str, min_samples: int = 2) -> np.ndarray:
    arr = np.asarray(clips)
    if arr.dtype.kind not in "fiu":
        raise DataError(f"{what} must be a numeric (n, samples) array, got dtype {arr.dtype}")
    if arr.ndim != 2 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise DataError(f"{what} must be a non-empty (n, samples) array, got shape {arr.shape}")
    if arr.shape[1] < min_samples:
        raise DataError(
            f"{what} are {arr.shape[1]} samples long; the classifier needs at least {min_samples}"
        )
    arr = np.ascontiguousarray(arr, dtype=np.float32)
    if not np.isfinite(arr).all():
        raise DataError(f"{what} contain NaN or inf")
    return arr


def _check_labels(labels: Any, n: int, k: int, what: str) -> np.ndarray:
    arr = np.asarray(labels)
    if arr.dtype.kind not in "iu" or arr.shape != (n,):
        raise DataError(
            f"{what} must be {n} integer class indices (shape ({n},)), got {arr.dtype} {arr.shape}"
        )
    if n and (arr.min() < 0 or arr.max() >= k):
        raise DataError(f"{what} must lie in [0, {k}), got values from {arr.min()} to {arr.max()}")
    return arr.astype(np.int64)


def _device_of(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


# ---------------------------------------------------------------- training


def _augment(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """Random time shifts (up to 10 % of the clip, zeros shifted in), gains (-12 to 0 dB) and, for half
    the clips, white noise 20-50 dB below the clip's peak."""
    n, length = x.shape
    dev = x.device
    reach = max(1, length // 10)
    shift = torch.randint(-reach, reach + 1, (n, 1), generator=g)
    gain = 10 ** (-12 * torch.rand(n, 1, generator=g) / 20)
    snr_db = 20 + 30 * torch.rand(n, 1, generator=g)
    noisy = torch.rand(n, 1, generator=g) < 0.5
    noise = torch.randn(n, length, generator=g)
    idx = torch.arange(length)[None] - shift
    valid = (idx >= 0) & (idx < length)
    out = torch.gather(x, 1, idx.clamp(0, length - 1).to(dev)) * valid.to(dev)
    peak = out.abs().amax(dim=1, keepdim=True)
    out = out + (noisy * peak.cpu() * 10 ** (-snr_db / 20) * noise).to(dev)
    return out * gain.to(dev)


def _lr_factor(step: int, warmup: int, total: int) -> float:
    if step < warmup:
        return 0.1 + 0.9 * step / max(warmup, 1)
    return 0.5 * (1 + math.cos(math.pi * min(1.0, (step - warmup) / max(total - warmup, 1))))


def _recalibrate_batch_norm(model: ClipClassifier, clips: torch.Tensor, batch: int = 256) -> None:
    """Batch-norm statistics recomputed as plain averages over un-augmented ``clips``: the running
    averages of a short training lag far behind the weights (and saw augmented clips)."""
    norms = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative average
    model.train()
    with torch.no_grad():
        for start in range(0, len(clips), batch):
            model.body(model.spectrogram(clips[start : start + batch])[:, None])
    for m in norms:
        m.momentum = 0.1
    model.eval()


def _check_training(
    class_names: list[str], epochs: Any, minutes: Any, batch_size: int, lr: float, weight_decay: float
) -> None:
    """train_classifier's settings, each refused in one line."""
    k = len(class_names)
    if k < 2:
        raise ConfigError(f"a classifier needs at least 2 classes, got {k}: {class_names}")
    if epochs is not None and (
        isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 1
    ):
        raise ConfigError(f"epochs must be a positive integer, got {epochs!r}")
    if minutes is not None and not (isinstance(minutes, (int, float)) and 0 < minutes < math.inf):
        raise ConfigError(f"minutes must be a positive number, got {minutes!r}")
    if batch_size < 2 or not lr > 0 or weight_decay < 0:
        raise ConfigError(
            f"need batch_size >= 2, lr > 0, weight_decay >= 0; got {batch_size}, {lr}, {weight_decay}"
        )


def _train_epochs(
    model: ClipClassifier, data: torch.Tensor, targets: torch.Tensor, g: torch.Generator, seed: int,
    epochs: int | None, minutes: float | None, batch_size: int, lr: float, weight_decay: float, augment: bool,
) -> tuple[int, float]:  # fmt: skip
    """train_classifier's loop (see there); returns the epochs run and the last epoch's training accuracy
    (on its augmented batches, the partial last batch dropped)."""
    dev = data.device
    batch = min(batch_size, len(data))
    # the last partial batch is dropped (batch norm likes full ones)
    steps_per_epoch = max(1, len(data) // batch)
    planned = None if minutes is not None else (epochs if epochs is not None else DEFAULT_EPOCHS)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    loss_fn = nn.CrossEntropyLoss()
    start = time.perf_counter()
    step, epoch, correct, seen = 0, 0, 0, 0
    cuda = [dev.index] if dev.type == "cuda" else []  # a tensor's CUDA device always names its index
    with torch.random.fork_rng(devices=cuda):
        torch.manual_seed(seed + 1)
        model.train()
        while planned is None or epoch < planned:
            order = torch.randperm(len(data), generator=g).to(dev)
            correct, seen = 0, 0
            for b in range(steps_per_epoch):
                idx = order[b * batch : (b + 1) * batch]
                xb = _augment(data[idx], g) if augment else data[idx]
                total = (planned or 2) * steps_per_epoch
                for group in opt.param_groups:
                    group["lr"] = lr * _lr_factor(step, steps_per_epoch, total)
                logits = model(xb)
                loss = loss_fn(logits, targets[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                step += 1
                correct += int((logits.argmax(1) == targets[idx]).sum())
                seen += len(idx)
            epoch += 1
            if planned is None:  # the minutes budget: fix the count once the first epoch is timed
                fit = int(minutes * 60 / max(time.perf_counter() - start, 1e-6))
                planned = max(1, min(fit, epochs if epochs is not None else fit))
    return epoch, correct / max(seen, 1)


def train_classifier(
    clips: np.ndarray,
    labels: np.ndarray,
    sample_rate: int,
    class_names: Sequence[str],
    *,
    epochs: int | None = None,
    minutes: float | None = None,
    seed: int = 0,
    valid: tuple[np.ndarray, np.ndarray] | None = None,
    batch_size: int = 64,
    lr: float = 3e-3,
    weight_decay: float = 1e-4,
    augment: bool = True,
    device: str | torch.device | None = None,
    **net: Any,
) -> ClipClassifier:
    """A :class:`ClipClassifier` trained on real ``clips`` (n, samples) with ``labels`` (n,) indexing
    ``class_names``.

    AdamW with a one-epoch warm-up and cosine decay; each batch randomly shifted in time, scaled and
    (half of it) noised (see ``_augment``), which carries accuracy over to unseen speakers. Runs
    ``epochs`` epochs (default 8); with ``minutes``, as many as the first epoch's duration says fit in
    that time (at most ``epochs``) -- then the count depends on the machine's speed, so only ``epochs``
    alone is reproducible. Deterministic for a ``seed`` on one machine and thread count; the global
    random state is left alone. ``net`` goes to the classifier (``n_mels``, ``width``, ``depth``,
    ``embed_dim``, ``dropout``, ``n_fft``, ``hop``). ``valid`` = (clips, labels): held-out clips whose
    accuracy lands in ``model.info["valid_accuracy"]``.
    """
    class_names = [str(c) for c in class_names]
    k = len(class_names)
    _check_training(class_names, epochs, minutes, batch_size, lr, weight_decay)
    with torch.random.fork_rng(devices=[]):  # the dropout and initial weights draw from the global stream
        torch.manual_seed(seed)
        model = ClipClassifier(sample_rate, class_names, **net)
    x = _check_clips(clips, "training clips", model.min_samples)
    y = _check_labels(labels, len(x), k, "training labels")
    present = np.unique(y)
    if len(present) < 2:
        raise DataError(f"training labels hold only {len(present)} class; a classifier needs at least 2")
    if len(x) < 2:
        raise DataError(f"need at least 2 training clips, got {len(x)}")
    if valid is not None:
        if not isinstance(valid, (tuple, list)) or len(valid) != 2:
            raise ConfigError("valid must be a (clips, labels) pair")
        vx = _check_clips(valid[0], "validation clips", model.min_samples)
        vy = _check_labels(valid[1], len(vx), k, "validation labels")
    dev = torch.device(device) if device is not None else torch.device("cpu")
    model.to(dev)
    data = torch.from_numpy(x).to(dev)
    targets = torch.from_numpy(y).to(dev)
    g = torch.Generator().manual_seed(seed)
    start = time.perf_counter()
    epoch, accuracy = _train_epochs(
        model, data, targets, g, seed, epochs, minutes, batch_size, lr, weight_decay, augment
    )
    _recalibrate_batch_norm(model, data[torch.randperm(len(x), generator=g)[:_RECALIBRATION_CLIPS].to(dev)])
    model.info = {
        "epochs": epoch,
        "seconds": round(time.perf_counter() - start, 2),
        "n_train": len(x),
        "clip_samples": int(x.shape[1]),
        "seed": int(seed),
        "train_accuracy_augmented_last_epoch": accuracy,
        "valid_accuracy": None,
        "n_valid": 0,
    }
    if valid is not None:
        _, probs = embed(model, vx)
        model.info["valid_accuracy"] = float((probs.argmax(1) == vy).mean())
        model.info["n_valid"] = len(vx)
    return model


# ---------------------------------------------------------------- files


def save_classifier(model: ClipClassifier, path_dir: str | Path) -> Path:
    """Write ``classifier.safetensors`` (weights) and ``classifier.json`` (configuration, training info,
    the weights' SHA-256) to ``path_dir``."""
    out = Path(path_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ConfigError(f"cannot write the clip classifier to {out}: {e.strerror or e}") from None
    digest = save_tensors_atomic(model.state_dict(), out / WEIGHTS, metadata={"format": FORMAT})
    body = {
        "format": FORMAT,
        "version": VERSION,
        "config": model.config,
        "info": model.info,
        "sha256": digest,
    }
    try:
        atomic_write_json(out / CONFIG, body)
    except OSError as e:
        raise ConfigError(f"cannot write the clip classifier to {out}: {e.strerror or e}") from None
    return out


def load_classifier(path_dir: str | Path) -> ClipClassifier:
    """Read a classifier written by :func:`save_classifier` (in eval mode, on the CPU)."""
    path = Path(path_dir)
    if not (path / CONFIG).is_file() or not (path / WEIGHTS).is_file():
        raise CheckpointError(f"no clip classifier in {path} (needs {CONFIG} and {WEIGHTS})")
    try:
        body = json.loads((path / CONFIG).read_text())
        if body.get("format") != FORMAT or body.get("version") != VERSION:
            raise CheckpointError(f"{path / CONFIG} is not a version-{VERSION} clip classifier")
        config = dict(body["config"])
        sample_rate, class_names = config.pop("sample_rate"), config.pop("class_names")
        model = ClipClassifier(sample_rate, class_names, **config)
        tensors = load_tensors_checked(
            path / WEIGHTS, body.get("sha256"), what="the clip classifier's weights"
        )
        model.load_state_dict(tensors, strict=True)
    except (json.JSONDecodeError, KeyError, TypeError, AttributeError, RuntimeError, ConfigError) as e:
        raise CheckpointError(
            f"the clip classifier in {path} is unreadable: {str(e).splitlines()[0]}"
        ) from None
    model.info = dict(body.get("info") or {})
    return model.eval()


def clips_fingerprint(clips: np.ndarray, labels: np.ndarray, sample_rate: int, *extra: str) -> str:
    """SHA-256 (hex, first 32 digits) of a training set -- clip and label bytes, shapes, dtypes, the rate
    -- plus this module's recipe VERSION and any ``extra`` strings (put non-default settings there): the
    ``key`` of :func:`cached_classifier`."""
    h = hashlib.sha256()
    for arr in (np.asarray(clips), np.asarray(labels)):
        h.update(f"{arr.shape}|{arr.dtype}|".encode())
        h.update(np.ascontiguousarray(arr).tobytes())
    h.update(f"{int(sample_rate)}|{FORMAT}-{VERSION}|{'|'.join(extra)}".encode())
    return h.hexdigest()[:32]


def cached_classifier(key: str, build: Callable[[], ClipClassifier], cache_dir: str | Path) -> ClipClassifier:
    """The classifier saved under ``cache_dir/clip-classifier-<key>``, or ``build()``'s, saved there
    first. ``key`` (letters, digits, '.', '_', '-'; e.g. :func:`clips_fingerprint`) must change when the
    training clips or settings do. An unreadable entry is rebuilt; concurrent builders each train, and
    the first to finish writing wins."""
    if not isinstance(key, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}", key):
        raise ConfigError(f"classifier cache key must be letters, digits, '.', '_' or '-', got {key!r}")
    path = Path(cache_dir) / f"clip-classifier-{key}"
    if path.is_dir():
        try:
            return load_classifier(path)
        except CheckpointError:
            shutil.rmtree(path, ignore_errors=True)
    model = build()
    if not isinstance(model, ClipClassifier):
        raise ConfigError(f"build() must return a ClipClassifier, got {type(model).__name__}")
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    try:
        save_classifier(model, tmp)
        tmp.rename(path)  # atomic; fails when another process got there first, whose copy then stays
    except OSError:
        pass
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return model


# ---------------------------------------------------------------- scores


def embed(model: ClipClassifier, clips: np.ndarray, batch: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """Embeddings (n, embed_dim) and class probabilities (n, classes) of clips (n, samples), float64.

    Runs the model in eval mode without gradients (and leaves it in the mode it was in)."""
    x = _check_clips(clips, "clips", model.min_samples)
    if batch < 1:
        raise ConfigError(f"batch must be >= 1, got {batch}")
    dev = _device_of(model)
    was_training = model.training
    model.eval()
    feats, probs = [], []
    try:
        with torch.inference_mode():
            for start in range(0, len(x), batch):
                e, logits = model.features(torch.from_numpy(x[start : start + batch]).to(dev))
                feats.append(e.double().cpu().numpy())
                probs.append(torch.softmax(logits.double(), dim=1).cpu().numpy())
    finally:
        model.train(was_training)
    return np.concatenate(feats), np.concatenate(probs)


def inception_score(probs: np.ndarray, splits: int = 10) -> tuple[float, float]:
    """Inception score (Salimans et al., 2016) of class probabilities ``probs`` (n, classes):

        IS = exp( E_x [ KL( p(y|x) || p(y) ) ] ),  p(y) = E_x [ p(y|x) ],

    computed on each of ``splits`` near-equal parts of the rows, taken in a fixed shuffled order (so rows
    sorted by class do not give one-class parts), p(y) from that part;
    returns the mean and standard deviation over the parts. It lies in [1, classes]: near the number of
    classes when every clip is confidently classified and the classes are balanced, near 1 when all
    clips get the same prediction (mode collapse) or every prediction is uncertain.
    """
    p = np.asarray(probs, dtype=np.float64) if np.asarray(probs).dtype.kind in "fiu" else None
    if p is None or p.ndim != 2 or p.shape[0] == 0 or p.shape[1] < 1:
        raise DataError(f"probs must be a non-empty numeric (n, classes) array, got shape {np.shape(probs)}")
    if not np.isfinite(p).all() or (p < 0).any() or not np.allclose(p.sum(axis=1), 1.0, atol=1e-3):
        raise DataError("probs must be finite, non-negative rows that sum to 1")
    if isinstance(splits, bool) or not isinstance(splits, (int, np.integer)) or not 1 <= splits <= len(p):
        raise ConfigError(
            f"splits must be an integer from 1 to the number of rows ({len(p)}), got {splits!r}"
        )
    scores = []
    order = np.random.default_rng(0).permutation(len(p))
    for part in np.array_split(p[order], splits):
        marginal = part.mean(axis=0, keepdims=True)
        with np.errstate(divide="ignore", invalid="ignore"):
            terms = np.where(part > 0, part * (np.log(part) - np.log(marginal)), 0.0)
        scores.append(math.exp(float(terms.sum(axis=1).mean())))
    return float(np.mean(scores)), float(np.std(scores))


def _label_distribution(pred: np.ndarray, class_names: list[str]) -> dict[str, Any]:
    k = len(class_names)
    counts = np.bincount(pred, minlength=k)
    share = counts / counts.sum()
    nz = share[share > 0]
    entropy = float(-(nz * np.log(nz)).sum())
    top = int(counts.argmax())
    return {
        "counts": {name: int(c) for name, c in zip(class_names, counts, strict=True)},
        "entropy": entropy,  # nats
        "normalised_entropy": entropy / math.log(k),  # 1 = uniform over the classes
        "top_class": class_names[top],
        "top_share": float(share[top]),
    }


def _mean_pairwise(feats: np.ndarray, rng: np.random.Generator) -> float:
    if len(feats) > _MAX_DIVERSITY_CLIPS:
        feats = feats[np.sort(rng.choice(len(feats), _MAX_DIVERSITY_CLIPS, replace=False))]
    sq = (feats * feats).sum(axis=1)
    d = np.sqrt(np.clip(sq[:, None] + sq[None] - 2 * feats @ feats.T, 0.0, None))
    n = len(feats)
    return float((d.sum() - np.trace(d)) / (n * (n - 1)))


def _diversity(
    gen_f: np.ndarray, gen_pred: np.ndarray, real_f: np.ndarray, real_pred: np.ndarray,
    class_names: list[str], seed: int,
) -> dict[str, Any]:  # fmt: skip
    rng = np.random.default_rng(seed)
    per_class: dict[str, Any] = {}
    ratios, weights = [], []
    for c, name in enumerate(class_names):
        g, r = gen_f[gen_pred == c], real_f[real_pred == c]
        dg = _mean_pairwise(g, rng) if len(g) >= 2 else None
        dr = _mean_pairwise(r, rng) if len(r) >= 2 else None
        ratio = dg / dr if dg is not None and dr is not None and dr > 0 else None
        per_class[name] = {
            "n_generated": len(g),
            "n_real": len(r),
            "generated": dg,
            "real": dr,
            "ratio": ratio,
        }
        if ratio is not None:
            ratios.append(ratio)
            weights.append(len(g))
    overall = float(np.average(ratios, weights=weights)) if ratios else None
    return {"ratio": overall, "per_class": per_class}


def _memorisation_space(model: ClipClassifier, clips: np.ndarray, batch: int = 256) -> np.ndarray:
    """Normalised log-mel spectrograms, averaged over 2 x 2 (band, frame) cells and flattened."""
    dev = _device_of(model)
    out = []
    with torch.inference_mode():
        for start in range(0, len(clips), batch):
            s = model.spectrogram(torch.from_numpy(clips[start : start + batch]).to(dev))[:, None]
            out.append(nn.functional.avg_pool2d(s, 2, ceil_mode=True).flatten(1).double().cpu().numpy())
    return np.concatenate(out)


def evaluate_clips(
    model: ClipClassifier,
    generated: np.ndarray,
    real: np.ndarray,
    asked: np.ndarray | None = None,
    train_clips: np.ndarray | None = None,
    *,
    splits: int = 10,
    sample_rate: int | None = None,
    seed: int = 0,
    batch: int = 256,
) -> dict[str, Any]:
    """Scores of ``generated`` clips (n, samples) against ``real`` clips under ``model``; JSON-ready.

    - ``inception_score`` / ``inception_score_real``: {"mean", "std"} over ``splits`` parts (fewer when
      a set has fewer clips); the real one is the ceiling a generator can hope for.
    - ``frechet_distance``: between the generated and real embeddings (lower is better; compare values
      computed with the same numbers of clips).
    - ``label_distribution`` / ``label_distribution_real``: counts of predicted classes, entropy (nats),
      entropy / log(classes), the most common class and its share.
    - ``diversity``: per predicted class, the mean pairwise embedding distance among generated clips over
      the same among real clips (up to 256 clips a side); ``ratio`` is their mean weighted by generated
      counts: near 1 good, near 0 mode collapse, None when no class has 2 clips on both sides.
    - ``conditional`` (when ``asked``, the class index each clip was generated for, is given): the share
      classified as the asked class, overall and per class (None for a class never asked), and chance.
    - ``memorisation`` (when ``train_clips`` is given, of the generated clips' length): each generated
      clip's nearest training clip by Euclidean distance between normalised log-mel spectrograms (2 x 2
      averaged; a copy sits near 0 whatever its loudness), against each of up to 1000 training clips'
      distance to its nearest *other* training clip. ``copy_share`` is the share of generated clips
      closer than the 5 % quantile of those real-to-real distances (about 0.05 for a generator that
      makes new clips; near 1 for one replaying its training set); ``median_distance_ratio`` is the
      median generated distance over the median real one (well below 1 = suspiciously close).
    """
    class_names = list(model.class_names)
    k = len(class_names)
    gen, ref, asked, train = _check_evaluation(model, generated, real, asked, train_clips, sample_rate)
    gen_f, gen_p = embed(model, gen, batch)
    real_f, real_p = embed(model, ref, batch)
    gen_pred, real_pred = gen_p.argmax(1), real_p.argmax(1)
    is_gen = inception_score(gen_p, min(splits, len(gen)))
    is_real = inception_score(real_p, min(splits, len(ref)))
    result: dict[str, Any] = {
        "classes": class_names,
        "n_generated": len(gen),
        "n_real": len(ref),
        "inception_score": {"mean": is_gen[0], "std": is_gen[1]},
        "inception_score_real": {"mean": is_real[0], "std": is_real[1]},
        "frechet_distance": features_frechet_distance(gen_f, real_f),
        "label_distribution": _label_distribution(gen_pred, class_names),
        "label_distribution_real": _label_distribution(real_pred, class_names),
        "diversity": _diversity(gen_f, gen_pred, real_f, real_pred, class_names, seed),
        "classifier_valid_accuracy": model.info.get("valid_accuracy"),
    }
    if asked is not None:
        hit = gen_pred == asked
        per_class = {
            name: (float(hit[asked == c].mean()) if (asked == c).any() else None)
            for c, name in enumerate(class_names)
        }
        result["conditional"] = {"accuracy": float(hit.mean()), "per_class": per_class, "chance": 1.0 / k}
    if train is not None:
        result["memorisation"] = _clip_memorisation(model, gen, train, batch, seed)
    return result


def _check_evaluation(
    model: ClipClassifier, generated: Any, real: Any, asked: Any, train_clips: Any, sample_rate: int | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
    """evaluate_clips' inputs checked, each problem one line (the clips' sample rate against the
    classifier's among them): generated, real, asked, training clips."""
    if sample_rate is not None and int(sample_rate) != model.sample_rate:
        raise ConfigError(
            f"clips are at {sample_rate} Hz but the classifier was trained at {model.sample_rate} Hz"
        )
    gen = _check_clips(generated, "generated clips", model.min_samples)
    ref = _check_clips(real, "real clips", model.min_samples)
    if len(gen) < 2 or len(ref) < 2:
        raise DataError(f"need at least 2 generated and 2 real clips, got {len(gen)} and {len(ref)}")
    if asked is not None:
        asked = _check_labels(asked, len(gen), len(model.class_names), "asked classes")
    train = None
    if train_clips is not None:
        train = _check_clips(train_clips, "training clips", model.min_samples)
        if train.shape[1] != gen.shape[1]:
            raise DataError(
                f"training clips are {train.shape[1]} samples long but generated ones {gen.shape[1]}; "
                "memorisation compares clips of one length"
            )
        if len(train) < 3:
            raise DataError(f"memorisation needs at least 3 training clips, got {len(train)}")
    return gen, ref, asked, train


def _clip_memorisation(
    model: ClipClassifier, gen: np.ndarray, train: np.ndarray, batch: int, seed: int
) -> dict[str, Any]:
    """evaluate_clips' ``memorisation`` entry (see there)."""
    m = memorisation(
        _memorisation_space(model, gen, batch), _memorisation_space(model, train, batch),
        quantile=COPY_QUANTILE, n_baseline=1000, n_pairs=5, seed=seed,
    )  # fmt: skip
    return {
        "space": "normalised log-mel, 2x2 averaged, Euclidean",
        "copy_share": m["memorised_share"],
        "baseline_share": m["baseline_share"],
        "threshold": m["threshold"],
        "quantile": m["quantile"],
        "median_distance_ratio": m["median_distance_ratio"],
        "flagged": m["flagged"],
        "closest": m["closest"],
        "n_train": m["n_train"],
        "n_baseline": m["n_baseline"],
    }
