"""A real-vs-generated image detector: cheap forensic features + logistic regression.

Feature blocks of each image (at the detector's resolution):

- ``pixels`` (the default): intensity histogram, the share of exactly black / white pixels,
  per-channel mean and spread, high-pass residual energy per channel.
- ``spectrum`` (optional): the log amplitude spectrum of the high-pass residual (image minus its 3x3
  local mean), averaged over a grid of horizontal x vertical frequency bands, where upsampling layers
  leave periodic traces. Measured on three Fashion-MNIST GANs (benchmarks/detector.py) it adds
  generator-specific cues: it helps on some unseen generators and hurts on others (worst-case AUC
  0.72 with it, 0.93 without), so it is not on by default.
- ``effnet`` (optional): pooled EfficientNet-lite0 ImageNet features (see ``metrics/features.py``) at a
  small input size; semantic rather than forensic, slower.

Every feature is turned into its deviation from real images (``_deviation``), and an L2-regularised
logistic regression (scikit-learn) sits on top. The fitted numbers are stored as
``detector.safetensors`` with ``detector.json`` (configuration and the figures measured when training);
nothing is pickled.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy.ndimage import uniform_filter

from ganforge.core.io import atomic_write_json
from ganforge.errors import CheckpointError, ConfigError, DataError

WEIGHTS = "detector.safetensors"
CONFIG = "detector.json"
FEATURE_BLOCKS = ("spectrum", "pixels", "effnet")
BANDS = 6  # frequency bands per axis in the spectrum block
HIST_BINS = 16


@dataclass
class DetectorConfig:
    """What the detector sees: image size and channels, and which feature blocks."""

    resolution: int
    channels: int
    features: tuple[str, ...] = ("pixels",)
    regularisation: float = 1.0  # inverse L2 strength (scikit-learn's C)
    effnet_input: int = 64

    def __post_init__(self) -> None:
        self.features = tuple(self.features)
        unknown = [f for f in self.features if f not in FEATURE_BLOCKS]
        if unknown or not self.features:
            raise ConfigError(
                f"detector features must be some of {', '.join(FEATURE_BLOCKS)} (got {unknown})"
            )
        if self.channels not in (1, 3) or self.resolution < 8:
            raise ConfigError("detector images must have 1 or 3 channels and at least 8 px")
        if self.regularisation <= 0:
            raise ConfigError("regularisation must be > 0")


def _check(images: np.ndarray, config: DetectorConfig) -> np.ndarray:
    if not isinstance(images, np.ndarray) or images.dtype != np.uint8 or images.ndim != 4:
        raise DataError("images must be a uint8 array of shape (N, H, W, C)")
    want = (config.resolution, config.resolution, config.channels)
    if images.shape[1:] != want:
        raise DataError(f"the detector takes {want[0]}x{want[1]}x{want[2]} images, got {images.shape[1:]}")
    if len(images) == 0:
        raise DataError("no images given")
    return images


def spectrum_features(images: np.ndarray) -> np.ndarray:
    """(N, BANDS*BANDS) mean log amplitude of the grey high-pass residual per frequency band."""
    grey = images.astype(np.float32).mean(axis=3) / 255.0
    residual = grey - uniform_filter(grey, size=(1, 3, 3), mode="reflect")
    amplitude = np.log1p(np.abs(np.fft.fft2(residual)) * 10.0)
    size = images.shape[1]
    band = np.minimum((np.abs(np.fft.fftfreq(size)) * 2 * BANDS).astype(int), BANDS - 1)
    index = band[:, None] * BANDS + band[None, :]  # (H, W) -> band id
    counts = np.bincount(index.ravel(), minlength=BANDS * BANDS)
    out = np.stack([np.bincount(index.ravel(), a.ravel(), BANDS * BANDS) for a in amplitude])
    return out / np.maximum(counts, 1)


def pixel_features(images: np.ndarray) -> np.ndarray:
    """(N, HIST_BINS + 2 + 3*C) intensity histogram, black/white shares, channel stats, residual energy."""
    x = images.astype(np.float32) / 255.0
    n = len(images)
    flat = images.reshape(n, -1)
    hist = np.stack([np.bincount(row >> 4, minlength=HIST_BINS) for row in flat]) / flat.shape[1]
    extremes = np.stack([(flat == 0).mean(1), (flat == 255).mean(1)], axis=1)
    residual = x - uniform_filter(x, size=(1, 3, 3, 1), mode="reflect")
    stats = [x.mean(axis=(1, 2)), x.std(axis=(1, 2)), np.log(residual.std(axis=(1, 2)) + 1e-4)]
    return np.concatenate([hist, extremes, *stats], axis=1)


def effnet_features(images: np.ndarray, input_size: int) -> np.ndarray:
    """(N, 1280) pooled EfficientNet-lite0 features."""
    from ganforge.metrics.features import EfficientNetLiteFeatures

    return EfficientNetLiteFeatures(batch_size=64, input_size=input_size)(images)


def extract_features(images: np.ndarray, config: DetectorConfig) -> np.ndarray:
    """The detector's feature vector of every image, float64 (N, F)."""
    _check(images, config)
    blocks = []
    for name in config.features:
        if name == "spectrum":
            blocks.append(spectrum_features(images))
        elif name == "pixels":
            blocks.append(pixel_features(images))
        else:
            blocks.append(effnet_features(images, config.effnet_input))
    return np.concatenate(blocks, axis=1).astype(np.float64)


def _deviation(x: np.ndarray, mean: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """How far each feature lies from real images, in either direction: log(1 + z^2) of its z-score
    under the real images' statistics. A linear model on signed features learns the one direction in
    which the training generator differs from real images and can score a generator that errs the other
    way (too smooth instead of too noisy) as "more real than real"; on deviations it cannot."""
    return np.log1p(((x - mean) / scale) ** 2)


@dataclass
class Detector:
    """A fitted detector: ``Detector.load(dir).predict_proba(images)`` -> probability each is synthetic."""

    config: DetectorConfig
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float
    info: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def fit(cls, real: np.ndarray, fake: np.ndarray, config: DetectorConfig) -> Detector:
        """Fit on real and generated uint8 images of the configured size."""
        from sklearn.linear_model import LogisticRegression

        if len(real) < 4 or len(fake) < 4:
            raise DataError(f"need at least 4 real and 4 generated images (got {len(real)} and {len(fake)})")
        x_real = extract_features(real, config)
        mean, scale = x_real.mean(0), x_real.std(0)
        scale[scale < 1e-8] = 1e-8
        x = _deviation(np.concatenate([x_real, extract_features(fake, config)]), mean, scale)
        y = np.r_[np.zeros(len(real)), np.ones(len(fake))]
        model = LogisticRegression(C=config.regularisation, max_iter=2000, class_weight="balanced")
        model.fit(x, y)
        return cls(config, mean, scale, model.coef_[0].copy(), float(model.intercept_[0]))

    def predict_proba(self, images: np.ndarray) -> np.ndarray:
        """Probability that each image is synthetic, float64 (N,)."""
        x = _deviation(extract_features(images, self.config), self.mean, self.scale)
        return 1.0 / (1.0 + np.exp(-np.clip(x @ self.coef + self.intercept, -500, 500)))

    def predict_files(self, paths: list[str | Path]) -> np.ndarray:
        """Probability synthetic for image files (centre-cropped and resized to the detector's size)."""
        return self.predict_proba(read_images(paths, self.config.resolution, self.config.channels))

    def save(self, out: str | Path) -> Path:
        """Write detector.safetensors and detector.json to ``out``."""
        from safetensors.numpy import save_file

        out = Path(out)
        try:
            out.mkdir(parents=True, exist_ok=True)
            tensors = {"mean": self.mean, "scale": self.scale, "coef": self.coef,
                       "intercept": np.array([self.intercept])}  # fmt: skip
            save_file(tensors, str(out / WEIGHTS), metadata={"format": "ganforge-detector"})
            body = {"kind": "detector", "config": asdict(self.config), "info": self.info}
            atomic_write_json(out / CONFIG, body)
        except OSError as e:
            raise ConfigError(f"cannot write the detector to {out}: {e.strerror or e}") from None
        return out

    @classmethod
    def load(cls, path: str | Path) -> Detector:
        """Read a detector written by ``save``."""
        from safetensors import SafetensorError
        from safetensors.numpy import load_file

        path = Path(path)
        if not (path / CONFIG).is_file() or not (path / WEIGHTS).is_file():
            raise CheckpointError(
                f"no detector in {path} (needs {CONFIG} and {WEIGHTS}); train one with: "
                "ganforge train detector --real DATA --fake RUN --out DIR"
            )
        try:
            body = json.loads((path / CONFIG).read_text())
            config = DetectorConfig(**body["config"])
            t = load_file(str(path / WEIGHTS))
            detector = cls(
                config, t["mean"], t["scale"], t["coef"], float(t["intercept"][0]), body.get("info", {})
            )
        except (json.JSONDecodeError, KeyError, TypeError, SafetensorError) as e:
            raise CheckpointError(f"the detector in {path} is unreadable: {e}") from None
        if not detector.mean.shape == detector.scale.shape == detector.coef.shape:
            raise CheckpointError(f"the detector in {path} is inconsistent (feature sizes differ)")
        return detector


def read_images(paths: list[str | Path], resolution: int, channels: int) -> np.ndarray:
    """Image files as uint8 (N, resolution, resolution, channels); a missing or unreadable file raises."""
    from ganforge.images.data import decode_file, set_channels

    if not paths:
        raise DataError("no image files given")
    out = []
    for p in map(Path, paths):
        if not p.is_file():
            raise DataError(f"no such image file: {p}")
        decoded = decode_file(p, resolution)
        if decoded is None:
            raise DataError(f"{p} is not a readable image")
        out.append(set_channels(decoded[0][None], channels)[0])
    return np.stack(out)


# ------------------------------------------------------------------------------------------- training
def _image_run(run: str | Path) -> Any:
    from ganforge.engine import artifact
    from ganforge.engine.model import load

    kind = artifact.read_config(Path(run)).get("kind")
    if kind != "image":
        raise ConfigError(f"{run} is a {kind} model; the detector needs image runs (--fake)")
    return load(run, device="cpu")


def generated(run_or_model: Any, n: int, seed: int) -> np.ndarray:
    """``n`` samples of a run (or loaded ImageGAN) without the watermark: the detector must learn the
    generator's traces, not the mark (which ``verify`` reads directly)."""
    gan = _image_run(run_or_model) if isinstance(run_or_model, (str, Path)) else run_or_model
    return gan.sample(n, seed=seed, watermark=False)


def _auc(detector: Detector, real: np.ndarray, fake: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    scores = np.r_[detector.predict_proba(real), detector.predict_proba(fake)]
    return float(roc_auc_score(np.r_[np.zeros(len(real)), np.ones(len(fake))], scores))


def train_detector(
    real: str | Path,
    fakes: list[str | Path],
    out: str | Path | None = None,
    test_fakes: list[str | Path] | None = None,
    n: int = 1000,
    holdout: float = 0.2,
    features: tuple[str, ...] = ("pixels",),
    seed: int = 0,
) -> Detector:
    """Fit a detector on real images (folder or built-in name) against samples of the ``fakes`` runs.

    ``n`` real images are used (fewer if the data has fewer) and as many samples, shared among the runs;
    ``holdout`` of the real images are kept aside. Figures in ``detector.info``: AUC on held-out real
    images vs fresh samples of the training runs (``auc_seen``) and, for each of ``test_fakes`` — runs
    the detector was not trained on — ``auc_unseen``. With ``out`` the detector is saved there.
    """
    from ganforge.images.builtin import resolve_image_source

    if not fakes:
        raise ConfigError("give at least one generated-image run (--fake RUN)")
    if n < 20:
        raise ConfigError(f"n must be >= 20 (got {n})")
    if not 0.05 <= holdout <= 0.5:
        raise ConfigError(f"holdout must be in [0.05, 0.5] (got {holdout})")
    models = [_image_run(r) for r in fakes]
    tests = [_image_run(r) for r in test_fakes or []]
    shapes = {(m.recipe_config.resolution, m.recipe_config.channels) for m in models + tests}
    if len(shapes) > 1:
        raise ConfigError(f"all runs must share one image size and channel count (got {sorted(shapes)})")
    resolution, channels = shapes.pop()
    ds = resolve_image_source(real, resolution, channels=channels, max_images=n)
    if len(ds.images) < 20:
        raise DataError(f"need at least 20 real images, {real} has {len(ds.images)}")
    order = np.random.default_rng(seed).permutation(len(ds.images))
    cut = int(round(len(order) * (1 - holdout)))
    real_train, real_test = ds.images[order[:cut]], ds.images[order[cut:]]
    per_run = -(-cut // len(models))
    fake_train = np.concatenate([generated(m, per_run, seed + 1 + i) for i, m in enumerate(models)])
    config = DetectorConfig(resolution=resolution, channels=channels, features=tuple(features))
    detector = Detector.fit(real_train, fake_train, config)
    k = len(real_test)
    seen = np.concatenate([generated(m, -(-k // len(models)), seed + 1001 + i) for i, m in enumerate(models)])
    unseen = {
        str(r): round(_auc(detector, real_test, generated(m, k, seed + 2001)), 4)
        for r, m in zip(test_fakes or [], tests, strict=True)
    }
    detector.info = {
        "real": str(real), "fake_runs": [str(r) for r in fakes], "real_train": cut,
        "fake_train": len(fake_train), "real_holdout": k,
        "auc_seen": round(_auc(detector, real_test, seen[:k]), 4), "auc_unseen": unseen,
    }  # fmt: skip
    if out is not None:
        detector.save(out)
    return detector
