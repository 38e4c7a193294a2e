"""A realistic degradation pipeline: high-resolution crops in, the low-quality inputs a model must undo out.

Blur, downsampling, noise and JPEG compression, each with its strength drawn at random per image (in the
spirit of Real-ESRGAN's first-order degradation), so a model learns from high-resolution images alone.
numpy + Pillow only; every draw comes from the ``numpy.random.Generator`` passed in, so a seed fixes
the output.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFilter

from ganforge.errors import ConfigError, DataError

SUPPORTED_SCALES = (1, 2, 3, 4)
_RESAMPLERS = (Image.Resampling.BICUBIC, Image.Resampling.BILINEAR, Image.Resampling.BOX)


@dataclass(frozen=True)
class DegradeConfig:
    """Ranges each degradation's strength is drawn from (uniformly), per image."""

    scale: int = 4
    blur_sigma: tuple[float, float] = (0.2, 1.5)  # Gaussian blur in high-resolution pixels
    noise_sigma: tuple[float, float] = (0.0, 8.0)  # Gaussian noise, in 0..255 units
    jpeg_quality: tuple[int, int] = (40, 95)
    grey_noise_p: float = 0.4  # share of images with the same noise on every channel

    def __post_init__(self) -> None:
        check_scale(self.scale)
        for name in ("blur_sigma", "noise_sigma", "jpeg_quality"):
            lo, hi = getattr(self, name)
            if lo < 0 or hi < lo:
                raise ConfigError(f"{name} must be a range 0 <= low <= high (got {lo}, {hi})")
        if not 1 <= self.jpeg_quality[0] <= self.jpeg_quality[1] <= 100:
            raise ConfigError("jpeg_quality must lie in 1..100")

    @classmethod
    def light(cls, scale: int) -> DegradeConfig:
        """Mild degradations (slight blur, little noise, high JPEG quality)."""
        return cls(scale=scale, blur_sigma=(0.2, 0.8), noise_sigma=(0.0, 3.0), jpeg_quality=(75, 95))


DEGRADATIONS = ("realistic", "light", "bicubic")


def degrade_config(name: str, scale: int) -> DegradeConfig:
    """A named degradation: realistic (default), light, or bicubic (plain downsampling, nothing else)."""
    if name == "realistic":
        return DegradeConfig(scale=scale)
    if name == "light":
        return DegradeConfig.light(scale)
    if name == "bicubic":
        return DegradeConfig(scale=scale, blur_sigma=(0, 0), noise_sigma=(0, 0), jpeg_quality=(100, 100))
    raise ConfigError(f"unknown degradation {name!r} (choose from: {', '.join(DEGRADATIONS)})")


def check_scale(scale: int) -> int:
    """``scale`` if supported, else a ConfigError naming the supported factors."""
    if scale not in SUPPORTED_SCALES:
        raise ConfigError(
            f"scale {scale} is not supported (choose from: {', '.join(map(str, SUPPORTED_SCALES))}; "
            "1 = restoration without upscaling)"
        )
    return scale


def _pil(image: np.ndarray) -> Image.Image:
    return Image.fromarray(image[..., 0] if image.shape[2] == 1 else image)


def _array(img: Image.Image) -> np.ndarray:
    arr = np.asarray(img, dtype=np.uint8)
    return arr[..., None] if arr.ndim == 2 else arr


def degrade(image: np.ndarray, config: DegradeConfig, rng: np.random.Generator) -> np.ndarray:
    """One high-resolution uint8 ``(H, W, C)`` image -> its degraded ``(H/scale, W/scale, C)`` version.

    H and W must be multiples of the scale. Blur, then downsampling with a random kernel, then noise,
    then a JPEG round trip.
    """
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] not in (1, 3):
        raise DataError(f"degrade needs a uint8 (H, W, 1|3) image; got {image.dtype} {image.shape}")
    h, w, c = image.shape
    s = config.scale
    if h % s or w % s:
        raise DataError(f"image size {w}x{h} is not a multiple of the scale {s}")
    img = _pil(image)
    sigma = rng.uniform(*config.blur_sigma)
    if sigma > 0.05:
        img = img.filter(ImageFilter.GaussianBlur(float(sigma)))
    if s > 1:
        img = img.resize((w // s, h // s), _RESAMPLERS[int(rng.integers(len(_RESAMPLERS)))])
    arr = _array(img).astype(np.float32)
    noise = rng.uniform(*config.noise_sigma)
    if noise > 0:
        shape = arr.shape[:2] + (1,) if rng.random() < config.grey_noise_p else arr.shape
        arr = arr + rng.normal(0.0, noise, size=shape).astype(np.float32)
    arr = np.clip(np.rint(arr), 0, 255).astype(np.uint8)
    quality = int(rng.integers(config.jpeg_quality[0], config.jpeg_quality[1] + 1))
    if quality < 100:
        buf = io.BytesIO()
        _pil(arr).save(buf, format="JPEG", quality=quality)
        buf.seek(0)
        with Image.open(buf) as jpeg:
            arr = _array(jpeg.convert("L" if c == 1 else "RGB"))
    return arr


def degrade_batch(images: np.ndarray, config: DegradeConfig, seed: int) -> np.ndarray:
    """Degrade ``(N, H, W, C)`` uint8 images, each with its own draws from one seeded generator."""
    rng = np.random.default_rng(seed)
    return np.stack([degrade(im, config, rng) for im in images])


def bicubic_resize(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """Pillow bicubic resize of a uint8 ``(H, W, C)`` image (the baseline super-resolution is compared to)."""
    return _array(_pil(image).resize((width, height), Image.Resampling.BICUBIC))
