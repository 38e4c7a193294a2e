"""FID/KID maths, the two feature extractors on real images, and the statistics caches."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
import scipy.linalg
from PIL import Image

from ganforge.errors import ConfigError, DataError
from ganforge.metrics.features import EfficientNetLiteFeatures, get_extractor
from ganforge.metrics.fid import FeatureStats, frechet_distance, image_distance, kid, reference_stats

FASHION_TEST = Path("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz")
DAISY, PALACE = 985, 698  # ImageNet class indices


def read_idx_images(path: Path) -> np.ndarray:
    """IDX image file (gzip): 16-byte big-endian header (magic 2051, n, rows, cols) then uint8 pixels."""
    raw = gzip.decompress(path.read_bytes())
    magic, n, rows, cols = np.frombuffer(raw[:16], dtype=">u4")
    assert magic == 2051
    return np.frombuffer(raw[16:], dtype=np.uint8).reshape(n, rows, cols, 1)


@pytest.fixture(scope="module")
def fashion() -> np.ndarray:
    if not FASHION_TEST.is_file():
        pytest.skip("Fashion-MNIST not installed (Debian package dataset-fashion-mnist)")
    return read_idx_images(FASHION_TEST)


def digits_28(n: int) -> np.ndarray:
    """sklearn's 8x8 digits scaled to uint8 and upsampled to Fashion-MNIST's 28x28."""
    from sklearn.datasets import load_digits

    small = (load_digits().images[:n] * (255 / 16)).astype(np.uint8)
    big = [np.asarray(Image.fromarray(im).resize((28, 28), Image.BILINEAR)) for im in small]
    return np.stack(big)[..., None]


def noise_28(n: int) -> np.ndarray:
    return np.random.default_rng(1).integers(0, 256, (n, 28, 28, 1), dtype=np.uint8)


class CountingExtractor:
    """Wraps an extractor and counts the images it embeds."""

    def __init__(self, inner) -> None:
        self.inner, self.name, self.dim, self.images_seen = inner, inner.name, inner.dim, 0

    def __call__(self, images, progress=None):
        self.images_seen += len(images)
        return self.inner(images, progress=progress)


# ------------------------------------------------------------------------------------------ maths


def test_frechet_distance_matches_closed_form_for_diagonal_gaussians() -> None:
    rng = np.random.default_rng(0)
    mu1, mu2 = rng.normal(size=6), rng.normal(size=6)
    v1, v2 = rng.uniform(0.1, 3, 6), rng.uniform(0.1, 3, 6)
    expected = np.sum((mu1 - mu2) ** 2) + np.sum(v1 + v2 - 2 * np.sqrt(v1 * v2))
    got = frechet_distance(mu1, np.diag(v1), mu2, np.diag(v2))
    assert got == pytest.approx(expected, rel=1e-9)


def test_frechet_distance_agrees_with_the_sqrtm_formula_for_full_covariances() -> None:
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=(30, 12)), rng.normal(size=(30, 12)) @ rng.normal(size=(12, 12)) + 0.3
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    mu1, mu2 = a.mean(0), b.mean(0)
    reference = np.sum((mu1 - mu2) ** 2) + np.trace(s1 + s2 - 2 * np.real(scipy.linalg.sqrtm(s1 @ s2)))
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(reference, rel=1e-8)


def test_frechet_distance_is_zero_for_identical_stats_even_when_singular() -> None:
    rng = np.random.default_rng(1)
    feats = rng.normal(size=(10, 32))  # fewer samples than dimensions: rank-deficient covariance
    stats = FeatureStats.from_features(feats, "x")
    assert abs(frechet_distance(stats.mu, stats.sigma, stats.mu, stats.sigma)) < 1e-4
    with pytest.raises(DataError):
        frechet_distance(stats.mu, stats.sigma, stats.mu[:5], stats.sigma)


def test_kid_is_unbiased_near_zero_for_same_distribution_and_positive_when_shifted() -> None:
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(400, 16)), rng.normal(size=(400, 16))
    same_mean, same_std = kid(a, b, num_subsets=50)  # subset_size 1000 is clipped to 400
    shifted_mean, _ = kid(a, b + 0.5, num_subsets=50)
    assert abs(same_mean) < 0.02 and same_std < 0.05
    assert shifted_mean > 0.5 and shifted_mean > 50 * abs(same_mean)
    with pytest.raises(DataError):
        kid(a[:1], b)


def test_stats_save_load_round_trip(tmp_path: Path) -> None:
    feats = np.random.default_rng(3).normal(size=(20, 8))
    stats = FeatureStats.from_features(feats, "effnet-lite0", keep=True)
    stats.save(tmp_path / "s.npz")
    back = FeatureStats.load(tmp_path / "s.npz")
    assert (back.n, back.extractor) == (20, "effnet-lite0")
    np.testing.assert_array_equal(back.mu, stats.mu)
    np.testing.assert_array_equal(back.sigma, stats.sigma)
    np.testing.assert_array_equal(back.features, feats)
    (tmp_path / "bad.npz").write_bytes(b"not an npz")
    with pytest.raises(DataError):
        FeatureStats.load(tmp_path / "bad.npz")


def test_bad_inputs_get_clear_errors() -> None:
    with pytest.raises(ConfigError):
        get_extractor("vgg16")
    with pytest.raises(ConfigError):
        get_extractor("inception", input_size=128)  # Inception's input size is fixed
    ext = get_extractor("effnet-lite0", input_size=64)
    with pytest.raises(DataError):
        ext(np.zeros((2, 28, 28, 1), dtype=np.float32))
    with pytest.raises(DataError):
        ext(np.zeros((2, 28, 28, 2), dtype=np.uint8))


# ------------------------------------------------------------------------------- extractors on data


def test_effnet_recognises_a_daisy_and_a_palace() -> None:
    from sklearn.datasets import load_sample_images

    sample = load_sample_images()
    photos = {Path(f).name: im for f, im in zip(sample.filenames, sample.images, strict=True)}

    def centre_square(im: np.ndarray) -> np.ndarray:
        h, w = im.shape[:2]
        s = min(h, w)
        return im[(h - s) // 2 : (h - s) // 2 + s, (w - s) // 2 : (w - s) // 2 + s]

    batch = np.stack([centre_square(photos["flower.jpg"]), centre_square(photos["china.jpg"])])
    logits = EfficientNetLiteFeatures().classify(batch)
    top5 = np.argsort(-logits, axis=1)[:, :5]
    assert DAISY in top5[0], top5[0]
    assert PALACE in top5[1], top5[1]


def _check_distance_ordering(fashion: np.ndarray, extractor, n: int, tmp_path: Path) -> dict[str, float]:
    """Halves of Fashion-MNIST are close, digits further, noise far; the real side is cached once."""
    counting = CountingExtractor(extractor)
    real, other_half = fashion[:n], fashion[5000 : 5000 + n]
    cache = tmp_path / "real.npz"
    seen = []
    halves = image_distance(real, other_half, counting, cache_path=cache, progress=seen.append)
    assert sum(seen) == 2 * n and counting.images_seen == 2 * n
    digits = image_distance(real, digits_28(n), counting, cache_path=cache)
    noise = image_distance(real, noise_28(n), counting, cache_path=cache)
    assert counting.images_seen == 4 * n  # real features came from the cache after the first call
    assert halves["n_real"] == halves["n_fake"] == n and halves["extractor"] == extractor.name
    # FID of the halves is mostly small-sample bias at these n, so its ratio to noise is only ~3.5;
    # KID is unbiased, so there the halves are ~0 and the gap is two orders of magnitude.
    assert halves["fid"] < digits["fid"] < noise["fid"] and noise["fid"] > 3 * halves["fid"]
    assert abs(halves["kid"]) < 0.05 * digits["kid"] and digits["kid"] < noise["kid"]
    assert noise["kid"] > 50 * abs(halves["kid"])
    return {k: (d["fid"], d["kid"]) for k, d in (("halves", halves), ("digits", digits), ("noise", noise))}


def test_effnet_distances_order_real_data_correctly(fashion: np.ndarray, tmp_path: Path) -> None:
    fids = _check_distance_ordering(fashion, get_extractor("effnet-lite0", input_size=128), 200, tmp_path)
    print("effnet-lite0@128 (FID, KID), n=200:", fids)


def test_inception_distances_order_real_data_correctly(fashion: np.ndarray, tmp_path: Path) -> None:
    # n=50 in 2048-d: FIDs are biased upward, only their order and ratios are meaningful.
    fids = _check_distance_ordering(fashion, get_extractor("inception"), 50, tmp_path)
    print("inception (FID, KID), n=50:", fids)


# ------------------------------------------------------------------------------------------- caches


def test_cache_is_keyed_by_image_content(fashion: np.ndarray, tmp_path: Path) -> None:
    counting = CountingExtractor(get_extractor("effnet-lite0", input_size=64))
    cache = tmp_path / "real.npz"
    real, fake = fashion[:16], fashion[100:116]
    first = image_distance(real, fake, counting, cache_path=cache)
    second = image_distance(real, fake, counting, cache_path=cache)
    assert counting.images_seen == 48 and second == first
    changed = real.copy()
    changed[0, 0, 0, 0] ^= 1
    image_distance(changed, fake, counting, cache_path=cache)
    assert counting.images_seen == 80  # one changed pixel: real side recomputed


def test_reference_stats_computed_once(fashion: np.ndarray, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("GANFORGE_CACHE", str(tmp_path))
    calls = []

    def images_fn() -> np.ndarray:
        calls.append(1)
        return fashion[:12]

    ext = get_extractor("effnet-lite0", input_size=64)
    first = reference_stats("fashion-test-12", images_fn, ext)
    second = reference_stats("fashion-test-12", images_fn, ext)
    assert len(calls) == 1 and (tmp_path / "stats").is_dir()
    np.testing.assert_array_equal(first.mu, second.mu)
    assert second.n == 12 and second.features is not None
    with pytest.raises(ConfigError):
        reference_stats("../escape", images_fn, ext)
