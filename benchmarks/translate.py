"""Translation benchmark: training speed (it/s) and FID/KID of translated vs target images after a fixed
budget, for CycleGAN (fashion-mnist -> inverted fashion-mnist, unpaired) and pix2pix (emoji edges ->
emoji).

    .venv/bin/python benchmarks/translate.py --steps 300
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import save  # noqa: E402

from ganforge.images.builtin import load_builtin  # noqa: E402
from ganforge.images.data import to_pil  # noqa: E402
from ganforge.images.img2img.evaluate import evaluate_translate  # noqa: E402
from ganforge.images.img2img.model import train_translate  # noqa: E402
from ganforge.images.img2img.paired import write_edge_pairs  # noqa: E402


def _folder(path: Path, images) -> Path:
    path.mkdir(parents=True)
    for i, im in enumerate(images):
        to_pil(im).save(path / f"{i:05d}.png")
    return path


def run(
    name: str, a: Path, b: Path, mode: str, resolution: int, steps: int, n: int, extractor: str, lr: float
) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        model = train_translate(a, b, mode, Path(tmp) / name, resolution=resolution, steps=steps, width=16,
                                d_width=16, batch_size=4, lr_g=lr, lr_d=lr / 2)  # fmt: skip
        seconds = time.perf_counter() - start
        figures = evaluate_translate(model, n=n, extractor=extractor)
    return {"mode": mode, "steps": steps, "train_seconds": round(seconds, 1),
            "it_per_s": round(steps / seconds, 2), "evaluation": figures}  # fmt: skip


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--n", type=int, default=300, help="images per side for FID/KID")
    p.add_argument("--extractor", default="inception", help="inception | effnet-lite0 (faster)")
    p.add_argument("--lr", type=float, default=2e-4, help="generator learning rate (D: half)")
    args = p.parse_args()
    result = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        fashion = load_builtin("fashion-mnist", 32, split="test", max_images=2 * args.n).images
        a = _folder(tmp / "clothes", fashion[: args.n])
        b = _folder(tmp / "inverted", 255 - fashion[args.n :])
        result["cyclegan_fashion_inversion"] = run(
            "cycle", a, b, "unpaired", 32, args.steps, args.n, args.extractor, args.lr
        )
        emoji = load_builtin("emoji", split="train", max_images=args.n).images
        write_edge_pairs(emoji, tmp / "edges", tmp / "emoji")
        result["pix2pix_emoji_edges"] = run("p2p", tmp / "edges", tmp / "emoji", "paired", 64, args.steps,
                                            args.n, args.extractor, args.lr)  # fmt: skip
    save(f"translate_lr{args.lr:g}", result | {"lr_g": args.lr})


if __name__ == "__main__":
    main()
