"""Super-resolution benchmark: PSNR/SSIM against bicubic on held-out real photos after a fixed training
budget, and upscaling throughput in megapixels/s.

    .venv/bin/python benchmarks/superres.py --steps 400 --scale 2
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import save  # noqa: E402

from ganforge.images.img2img.evaluate import evaluate_superres  # noqa: E402
from ganforge.images.img2img.model import train_superres  # noqa: E402


def throughput(model, side: int, tile: int, repeats: int = 2) -> float:
    """Megapixels of input upscaled per second on a random ``side`` x ``side`` image."""
    image = np.random.default_rng(0).integers(0, 256, (side, side, model.recipe_config.channels), np.uint8)
    model.upscale(image[:64, :64], tile=tile)  # warm-up
    start = time.perf_counter()
    for _ in range(repeats):
        model.upscale(image, tile=tile)
    return repeats * side * side / 1e6 / (time.perf_counter() - start)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--steps", type=int, default=400)
    p.add_argument("--scale", type=int, default=2)
    p.add_argument("--degradation", default="light")
    p.add_argument("--device", default="cpu")
    p.add_argument("--side", type=int, default=512, help="input side for the throughput figure")
    p.add_argument("--width", type=int, default=32)
    p.add_argument("--blocks", type=int, default=2)
    p.add_argument("--growth", type=int, default=16)
    p.add_argument("--perceptual-weight", type=float, default=5.0)
    p.add_argument("--name", default="", help="suffix of the results file")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp) / "sr"
        start = time.perf_counter()
        model = train_superres("photos", run, scale=args.scale, crop=16 * args.scale, steps=args.steps,
                               degradation=args.degradation, device=args.device, lr_g=1e-3, batch_size=8,
                               width=args.width, blocks=args.blocks, growth=args.growth,
                               perceptual_weight=args.perceptual_weight)  # fmt: skip
        seconds = time.perf_counter() - start
        figures = evaluate_superres(model, n=10)
        result = {
            "scale": args.scale,
            "degradation": args.degradation,
            "generator": {"width": args.width, "blocks": args.blocks, "growth": args.growth},
            "perceptual_weight": args.perceptual_weight,
            "steps": args.steps,
            "train_seconds": round(seconds, 1),
            "train_images_per_s": round(args.steps * 8 / seconds, 1),
            "held_out": figures,
            "upscale_megapixels_per_s": {
                f"tile{t}": round(throughput(model, args.side, t), 4) for t in (64, 256)
            },
            "device": str(model.device),
            "torch_threads": torch.get_num_threads(),
        }
    save(f"superres_x{args.scale}{args.name}", result)


if __name__ == "__main__":
    main()
