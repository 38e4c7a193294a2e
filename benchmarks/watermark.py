"""Watermark benchmark: robustness, false positives, image quality, FID/KID effect and speed.

    python benchmarks/watermark.py [--run DIR] [--minutes 3] [--n 200] [--fid-n 1000] [--no-fid | --only-fid]

Trains a short class-conditional GAN on Fashion-MNIST (28 px) (or loads ``--run``), then:
- robustness: for generated images (and marked real Fashion-MNIST at 28 px, digits at 32 px, emoji at
  64 px), bit accuracy and detection rate after JPEG quality 90/75/50, resize 0.5x and back, a 10 % crop
  (random position, not resized back) and brightness +-10 %; "blind" = verify without knowing the
  model, "matched" = verify given the run (`--runs`);
- false positives: verify on 1,000 real images (fashion-mnist, digits, emoji);
- PSNR of marked vs unmarked images; FID/KID with and without the mark (same generated images, and real
  training images standing in for a well-trained generator);
- embed / verify time per image;
- the pip `invisible-watermark` package (DWT-DCT) on the same 28/32 px images, for comparison.
Results go to benchmarks/results/watermark.json (FID/KID: watermark_fid.json).
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageEnhance

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, save  # noqa: E402

from ganforge import ImageGAN, load  # noqa: E402
from ganforge.images import watermark as wm  # noqa: E402
from ganforge.images.builtin import load_builtin  # noqa: E402


def pil(a: np.ndarray) -> Image.Image:
    return Image.fromarray(a[..., 0] if a.shape[2] == 1 else a)


def jpeg(quality: int):
    def attack(im: Image.Image, rng: np.random.Generator) -> Image.Image:
        buf = io.BytesIO()
        im.save(buf, "JPEG", quality=quality)
        buf.seek(0)
        return Image.open(buf).convert(im.mode)

    return attack


def resize_half(im: Image.Image, rng: np.random.Generator) -> Image.Image:
    w, h = im.size
    small = im.resize((w // 2, h // 2), Image.Resampling.BICUBIC)
    return small.resize((w, h), Image.Resampling.BICUBIC)


def crop10(im: Image.Image, rng: np.random.Generator) -> Image.Image:
    w, h = im.size
    cw, ch = round(w * 0.9), round(h * 0.9)
    x, y = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
    return im.crop((x, y, x + cw, y + ch))


def brightness(factor: float):
    return lambda im, rng: ImageEnhance.Brightness(im).enhance(factor)


ATTACKS = {
    "none": lambda im, rng: im,
    "jpeg90": jpeg(90),
    "jpeg75": jpeg(75),
    "jpeg50": jpeg(50),
    "resize0.5": resize_half,
    "crop10%": crop10,
    "brightness+10%": brightness(1.1),
    "brightness-10%": brightness(0.9),
}


def robustness(marked: np.ndarray, model_id: str) -> dict[str, Any]:
    rng = np.random.default_rng(0)
    runs = {model_id: "run"}
    out = {}
    for name, attack in ATTACKS.items():
        acc, blind, matched, wrong = [], 0, 0, 0
        for image in marked:
            attacked = attack(pil(image), rng)
            acc.append(wm.bit_accuracy(attacked, model_id))
            r = wm.verify(attacked)
            blind += r.found and r.model_id == model_id
            wrong += r.found and r.model_id != model_id
            m = wm.verify(attacked, runs=runs)
            matched += m.found and m.model_id == model_id
        n = len(marked)
        out[name] = {"bit_accuracy": round(float(np.mean(acc)), 4), "detected_blind": round(blind / n, 3),
                     "detected_matched": round(matched / n, 3), "wrong_id": round(wrong / n, 3)}  # fmt: skip
        print(name, out[name], flush=True)
    return out


def psnr(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    mse = ((a.astype(np.float64) - b) ** 2).mean(axis=(1, 2, 3))
    values = 10 * np.log10(255**2 / np.maximum(mse, 1e-10))
    return {"mean": round(float(values.mean()), 2), "min": round(float(values.min()), 2),
            "max_abs_change": int(np.abs(a.astype(int) - b).max())}  # fmt: skip


def false_positives(n_total: int, known_ids: list[str]) -> dict[str, Any]:
    per = {"fashion-mnist": (28, n_total * 2 // 5), "digits": (32, n_total * 3 // 10)}
    per["emoji"] = (64, n_total - sum(k for _, k in per.values()))
    split = {"fashion-mnist": "test", "digits": "test", "emoji": "all"}  # emoji's test split is only 237
    runs = {i: f"run-{i}" for i in known_ids}
    out: dict[str, Any] = {}
    total_blind = total_matched = total = 0
    for name, (res, k) in per.items():
        images = load_builtin(name, res, split=split[name], max_images=k).images[:k]
        blind = sum(wm.verify(im).found for im in images)
        matched = sum(wm.verify(im, runs=runs).found for im in images)
        out[name] = {"images": len(images), "resolution": res, "blind": blind, "matched": matched}
        total_blind, total_matched, total = total_blind + blind, total_matched + matched, total + len(images)
    out["total"] = {"images": total, "false_positive_rate_blind": total_blind / total,
                    "false_positive_rate_matched": total_matched / total, "known_ids": len(known_ids)}  # fmt: skip
    print("false positives", out, flush=True)
    return out


def speed(images: np.ndarray, model_id: str) -> dict[str, float]:
    t = time.perf_counter()
    marked = wm.mark(images, model_id)
    embed = (time.perf_counter() - t) / len(images)
    t = time.perf_counter()
    for im in marked[:100]:
        wm.verify(pil(im))
    ver = (time.perf_counter() - t) / min(100, len(marked))
    crops = [crop10(pil(im), np.random.default_rng(0)) for im in marked[:50]]
    t = time.perf_counter()
    for im in crops:
        wm.verify(im)
    return {"embed_ms_per_image": round(embed * 1000, 3), "verify_ms_per_image": round(ver * 1000, 2),
            "verify_cropped_ms_per_image": round((time.perf_counter() - t) / len(crops) * 1000, 2)}  # fmt: skip


def invisible_watermark(images: np.ndarray) -> dict[str, Any]:
    """The pip package at these sizes: its encoder refuses images under 256x256, so we try it (a) on the
    image as it is, calling its DWT-DCT embedding class directly (it marks the two chroma channels, so
    grey images become RGB), and (b) by upscaling to 256 px, embedding and downscaling to the original
    size (what a user of small images would have to do). Decoding of (b) upscales to 256 px again."""
    try:
        from imwatermark import WatermarkDecoder, WatermarkEncoder
        from imwatermark.maxDct import EmbedMaxDct
    except ImportError:
        return {"skipped": "pip install --no-deps invisible-watermark PyWavelets (opencv needed)"}
    payload = b"gf01"  # 32 bits
    bits = np.unpackbits(np.frombuffer(payload, np.uint8))
    out: dict[str, Any] = {}
    enc = WatermarkEncoder()
    enc.set_watermark("bytes", payload)
    try:
        enc.encode(np.repeat(images[0], 3, axis=2) if images.shape[3] == 1 else images[0], "dwtDct")
        out["encoder_on_small_image"] = "accepted"
    except RuntimeError as e:
        out["encoder_on_small_image"] = f"refused: {e}"
    dec = WatermarkDecoder("bytes", 32)
    direct = EmbedMaxDct(watermarks=list(bits), wmLen=32)  # the package's DWT-DCT, minus the size check
    rng = np.random.default_rng(0)
    for how in ("direct", "upscale-256"):
        acc: dict[str, list[float]] = {name: [] for name in ATTACKS}
        ps = []
        for im in images:
            bgr = np.ascontiguousarray(np.repeat(im, 3, axis=2) if im.shape[2] == 1 else im[..., ::-1])
            if how == "direct":
                marked = direct.encode(bgr)
            else:
                big = np.asarray(pil(bgr).resize((256, 256), Image.Resampling.BICUBIC))
                marked = np.clip(enc.encode(big, "dwtDct"), 0, 255).astype(np.uint8)
                marked = np.asarray(pil(marked).resize(im.shape[:2][::-1], Image.Resampling.BICUBIC))
            marked = np.clip(marked, 0, 255).astype(np.uint8)
            ps.append(psnr(marked[None], bgr[None])["mean"])
            for name, attack in ATTACKS.items():
                read = np.asarray(attack(Image.fromarray(marked), rng).convert("RGB"))
                if how == "direct":
                    got = direct.decode(np.ascontiguousarray(read)).astype(np.uint8)
                else:
                    read = np.asarray(Image.fromarray(read).resize((256, 256), Image.Resampling.BICUBIC))
                    got = np.unpackbits(np.frombuffer(dec.decode(read, "dwtDct"), np.uint8))[:32]
                acc[name].append(float((got == bits).mean()))
        out[how] = {"psnr": round(float(np.mean(ps)), 2)} | {
            f"bit_accuracy_{name}": round(float(np.mean(v)), 4) for name, v in acc.items()
        }
        out[how]["exact_payload_rate_none"] = round(float(np.mean([a == 1.0 for a in acc["none"]])), 3)
    print("invisible-watermark", out, flush=True)
    return out


def fid_effect(gan: ImageGAN, n: int) -> dict[str, Any]:
    """FID/KID against 2,000 Fashion-MNIST test images, with and without the mark, for the same generated
    images (same latents) and for n real training images (a stand-in for a well-trained generator)."""
    from ganforge.metrics.fid import image_distance

    test = load_builtin("fashion-mnist", resolution=28, split="test").images
    real = test[np.sort(np.random.default_rng(0).choice(len(test), 2000, replace=False))]
    cache = RESULTS / "fashion-mnist-test-2000-inception.npz"
    train = load_builtin("fashion-mnist", resolution=28, split="train", max_images=n).images
    plain = gan.sample(n, seed=0, watermark=False)
    out: dict[str, Any] = {"n": n, "reference": "fashion-mnist test, 2000 images, InceptionV3"}
    for name, images in (("generated", plain), ("real train images", train)):
        row: dict[str, Any] = {"psnr": psnr(wm.mark(images, gan.model_id), images)}
        for variant, x in (("unmarked", images), ("marked", wm.mark(images, gan.model_id))):
            d = image_distance(real, x, extractor="inception", kid=True, cache_path=cache)
            row[variant] = {"fid": round(float(d["fid"]), 3), "kid": round(float(d["kid"]), 5)}
        row["fid_change"] = round(row["marked"]["fid"] - row["unmarked"]["fid"], 3)
        row["kid_change"] = round(row["marked"]["kid"] - row["unmarked"]["kid"], 5)
        out[name] = row
        print("fid", name, row, flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=float, default=3.0, help="training budget of the test GAN")
    parser.add_argument("--n", type=int, default=200, help="images per robustness row")
    parser.add_argument("--fp-n", type=int, default=1000, help="real images for the false-positive rate")
    parser.add_argument("--fid-n", type=int, default=1000, help="generated images per FID/KID figure")
    parser.add_argument("--no-fid", action="store_true")
    parser.add_argument("--only-fid", action="store_true", help="skip everything but FID/KID")
    parser.add_argument("--run", help="an image run to use (trained here first when it does not exist)")
    parser.add_argument("--shared", action="store_true", help="record that other jobs shared the CPU")
    args = parser.parse_args()

    if args.run and (Path(args.run) / "model.safetensors").is_file():
        gan = load(args.run)
    else:
        out = Path(args.run) if args.run else Path(tempfile.mkdtemp(prefix="wm-bench-")) / "run"
        gan = ImageGAN(resolution=28, conditional=True, steps=10**7, max_seconds=args.minutes * 60,
                       checkpoint_every=10**6, device="cpu", width=16)  # fmt: skip
        gan.fit("fashion-mnist", out=out, sample_every=10**6)
    model_id = gan.model_id
    print(f"model: {gan.metrics.get('steps')} training steps; model id {model_id}", flush=True)
    result: dict[str, Any] = {"settings": {"code": f"{wm.ID_BITS}-bit id + {wm.CHECK_BITS}-bit check, "
                              f"BCH t={wm.BCH_T}, {wm.CODE_BITS} coded bits", "step": wm.STEP,
                              "floor": wm.FLOOR, "band": wm.BAND, "border": wm.BORDER,
                              "match_agree": wm.MATCH_AGREE, "gan_train_steps": gan.metrics.get("steps"),
                              "machine_shared": args.shared}}  # fmt: skip
    if not args.only_fid:
        plain = gan.sample(args.n, seed=1, watermark=False)
        generated = wm.mark(plain, model_id)
        result["psnr"] = {"generated-28": psnr(generated, plain)}
        result["robustness"] = {"generated fashion-mnist GAN, 28 px": robustness(generated, model_id)}
        for data, res in (("fashion-mnist", 28), ("digits", 32), ("emoji", 64)):
            real = load_builtin(data, res, split="train", max_images=args.n).images[: args.n]
            marked = wm.mark(real, model_id)
            result["psnr"][f"{data}-{res}"] = psnr(marked, real)
            result["robustness"][f"{data} (real images, marked), {res} px"] = robustness(marked, model_id)
            save("watermark", result)
        known = [model_id] + [wm.new_model_id() for _ in range(9)]
        result["false_positives"] = false_positives(args.fp_n, known)
        result["speed"] = {"28px": speed(plain, model_id)}
        digits32 = load_builtin("digits", 32, split="test", max_images=args.n).images[: args.n]
        result["invisible_watermark"] = {"generated-28": invisible_watermark(plain[:50]),
                                         "digits-32": invisible_watermark(digits32[:50])}  # fmt: skip
        save("watermark", result)
    if not args.no_fid:
        save("watermark_fid", {"settings": result["settings"], "fid": fid_effect(gan, args.fid_n)})


if __name__ == "__main__":
    main()
