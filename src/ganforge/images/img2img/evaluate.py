"""``ganforge evaluate`` for super-resolution and translation runs, plus the before/after panels.

Super-resolution: reference images are degraded exactly as in training (fixed seed), upscaled by the
model and by bicubic interpolation, and both are scored against the original with PSNR and SSIM
(scikit-image). For restoration (scale 1) the baseline is the degraded input itself.
Translation: FID/KID of translated images against the target domain, next to the same distance for the
untranslated inputs (what the model has to beat); paired runs also get L1 / PSNR to their targets.
Figures go to config.json (``metrics.evaluation``) and card.md; panels to ``RUN/evaluation/``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from ganforge.engine import artifact
from ganforge.errors import ConfigError
from ganforge.images.data import make_grid, to_pil
from ganforge.images.img2img.degrade import bicubic_resize, degrade
from ganforge.images.img2img.model import ImageToImage, load_img2img, translate_source
from ganforge.images.img2img.paired import PHOTOS, load_hr_images
from ganforge.images.img2img.report import PANELS, ZOOM

EVALUATION_DIR = "evaluation"
MAX_SIDE = 512  # reference images are centre-cropped to this, to keep evaluation quick


def psnr_ssim(reference: np.ndarray, image: np.ndarray) -> tuple[float, float]:
    """PSNR (dB) and SSIM of a uint8 image against a reference of the same shape."""
    psnr = peak_signal_noise_ratio(reference, image, data_range=255)
    ssim = structural_similarity(reference, image, data_range=255, channel_axis=2)
    return float(psnr), float(ssim)


def _centre(image: np.ndarray, side: int, multiple: int) -> np.ndarray:
    h, w = image.shape[:2]
    ch, cw = min(h, side) // multiple * multiple, min(w, side) // multiple * multiple
    top, left = (h - ch) // 2, (w - cw) // 2
    return image[top : top + ch, left : left + cw]


def superres_reference(model: ImageToImage, ref: str | None) -> tuple[list[np.ndarray], str]:
    """Held-out images when the data has them (photos, built-ins: test split), else ``ref`` or the
    training folder (then the figures are on training images, which the source says)."""
    spec = ref or model.data_info.get("spec")
    if spec is None:
        raise ConfigError("this run does not record its training data; pass --ref FOLDER")
    path = Path(spec)
    if path.is_dir():
        images, source = load_hr_images(path)
        return images, source + ("" if ref else " (training images)")
    return load_hr_images(spec, split="test") if spec == PHOTOS or not path.exists() else load_hr_images(spec)


def evaluate_superres(
    model: ImageToImage, ref: str | None = None, n: int = 20, seed: int = 0
) -> dict[str, Any]:
    """PSNR/SSIM of the model and of the bicubic (or no-op) baseline on degraded reference images."""
    rc = model.recipe_config
    images, source = superres_reference(model, ref)
    images = [_centre(im, MAX_SIDE, rc.scale) for im in images[:n] if min(im.shape[:2]) >= 4 * rc.scale]
    if not images:
        raise ConfigError(f"no reference image is large enough for scale {rc.scale}")
    rng = np.random.default_rng(seed)
    rows, panels = [], []
    for hr in images:
        lr = degrade(hr, rc.degrade_config(), rng)
        out = model.upscale(lr)
        base = bicubic_resize(lr, hr.shape[1], hr.shape[0])
        rows.append(psnr_ssim(hr, out) + psnr_ssim(hr, base))
        panels.append((base, out, hr))
    m = np.asarray(rows).mean(axis=0)
    baseline = "bicubic" if rc.scale > 1 else "input"
    result = {"reference": source, "images": len(images), "degradation": rc.degradation,
              "psnr": round(m[0], 3), "ssim": round(m[1], 4), f"psnr_{baseline}": round(m[2], 3),
              f"ssim_{baseline}": round(m[3], 4), f"psnr_gain_over_{baseline}": round(m[0] - m[2], 3)}  # fmt: skip
    _write_panels(model.run_dir, panels[:4], zoom=True)
    return result


def evaluate_translate(
    model: ImageToImage, n: int = 500, extractor: str = "inception", seed: int = 0
) -> dict[str, Any]:
    """FID/KID of translated vs target-domain images (and of the untranslated inputs, for scale)."""
    from ganforge.metrics.fid import image_distance

    rc, info = model.recipe_config, model.data_info
    if "a" not in info:
        raise ConfigError(
            "this run does not record its image folders (trained in memory); evaluate it in Python"
        )
    _, _, xa, xb = translate_source(info["a"], info["b"], rc.mode, rc.resolution)
    pick = np.random.default_rng(seed)
    xa = xa[np.sort(pick.permutation(len(xa))[:n])] if rc.mode == "unpaired" else xa[:n]
    xb = xb[np.sort(pick.permutation(len(xb))[:n])] if rc.mode == "unpaired" else xb[:n]
    fake_b = model.translate_batch(xa, "a2b")
    result: dict[str, Any] = {"extractor": extractor, "images_a": len(xa), "images_b": len(xb)}
    result["a2b"] = _distances(xb, fake_b, xa, extractor, image_distance)
    if rc.mode == "paired":
        result["a2b"]["l1"] = round(float(np.abs(fake_b.astype(np.float32) - xb).mean() / 255), 4)
        result["a2b"]["psnr"] = round(
            float(np.mean([psnr_ssim(t, f)[0] for t, f in zip(xb, fake_b, strict=False)])), 3
        )
        panels = list(zip(_as_rgb(xa[:4]), fake_b[:4], xb[:4], strict=False))
    else:
        fake_a = model.translate_batch(xb, "b2a")
        result["b2a"] = _distances(xa, fake_a, xb, extractor, image_distance)
        panels = list(
            zip(_as_rgb(xa[:4]), _as_rgb(fake_b[:4]), _as_rgb(xb[:4]), _as_rgb(fake_a[:4]), strict=False)
        )
    _write_panels(model.run_dir, panels, zoom=False)
    return result


def _distances(
    target: np.ndarray, fake: np.ndarray, inputs: np.ndarray, extractor: str, dist: Any
) -> dict[str, Any]:
    out = dist(_as_rgb(target), _as_rgb(fake), extractor=extractor)
    before = dist(_as_rgb(target), _as_rgb(inputs), extractor=extractor)
    return {"fid": round(float(out["fid"]), 3), "kid": round(float(out["kid"]), 5),
            "fid_untranslated": round(float(before["fid"]), 3), "kid_untranslated": round(float(before["kid"]), 5)}  # fmt: skip


def _as_rgb(images: np.ndarray) -> np.ndarray:
    return np.repeat(images, 3, axis=-1) if images.shape[-1] == 1 else images


def _write_panels(run_dir: Path | None, rows: list[tuple[np.ndarray, ...]], zoom: bool) -> None:
    """One row per image (e.g. bicubic | model | original); with ``zoom`` also the central crops x4."""
    if run_dir is None or not rows:
        return
    out = Path(run_dir) / EVALUATION_DIR
    out.mkdir(parents=True, exist_ok=True)
    side = min(min(im.shape[0], im.shape[1]) for row in rows for im in row)
    side = min(side, 256)
    cells = [_as_rgb(_centre(im, side, 1)[None])[0] for row in rows for im in row]
    cells = [np.asarray(to_pil(c).resize((side, side))) for c in cells]
    to_pil(make_grid(np.stack(cells), nrow=len(rows[0]), padding=4, pad_value=255)).save(out / PANELS)
    if zoom:
        k = max(8, side // 8)
        crops = [_centre(c, k, 1) for c in cells]
        big = [np.asarray(to_pil(c).resize((k * 4, k * 4), 0)) for c in crops]
        to_pil(make_grid(np.stack(big), nrow=len(rows[0]), padding=4, pad_value=255)).save(out / ZOOM)


def evaluate_img2img_run(
    run: str | Path, ref: str | None = None, n: int | None = None, extractor: str = "inception", seed: int = 0
) -> dict[str, Any]:
    """Evaluate a super-resolution or translation run and record the figures in config.json and card.md."""
    model = load_img2img(run)
    if model.kind == "superres":
        result = evaluate_superres(model, ref, n or 20, seed)
    else:
        if ref is not None:
            raise ConfigError(
                "--ref is for super-resolution runs; translation is scored on its A and B folders"
            )
        result = evaluate_translate(model, n or 500, extractor, seed)
    model.metrics["evaluation"] = result
    artifact.update_config(Path(run), metrics=model.metrics)
    model.write_card(Path(run))
    return result
