"""Colour emoji at 64 px (the small-data case): every preset trained for the same CPU budget, measured alike.

The emoji built-in holds ~2.1k training images, unlabelled, so each preset is trained unconditionally
at 64x64 for the same wall-clock minutes. Each run is its own process with ``--threads`` torch threads
(default 1), and as many run at once as the machine has cores for, so every preset gets the same
CPU-minutes and no run shares a core with another. Measurement starts after all training has ended:

- Inception FID / KID of n generated images against all training images, marked (what users get) and
  unmarked, and precision / recall / density / coverage (Inception features, k=5);
- a reference: the held-out emoji (the test split, 237 images) against the training images;
- one 8x8 grid of marked samples per preset, saved next to the JSON (results/NAME_PRESET.png).

    python benchmarks/fid_emoji.py [--minutes 20] [--n 1000] [--presets default small-data] [--out NAME]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, parse_overrides, save  # noqa: E402

from ganforge import ImageGAN  # noqa: E402
from ganforge.images import watermark as wm  # noqa: E402
from ganforge.images.builtin import load_builtin  # noqa: E402
from ganforge.images.data import save_grid  # noqa: E402
from ganforge.images.model import load_image  # noqa: E402
from ganforge.metrics.features import get_extractor  # noqa: E402
from ganforge.metrics.fid import features_frechet_distance, kid  # noqa: E402
from ganforge.metrics.prdc import prdc  # noqa: E402


def train_one(preset: str, minutes: float, out: Path, overrides: dict[str, Any]) -> None:
    """The worker: one preset, unconditional, 64 px, for ``minutes`` of wall clock."""
    gan = ImageGAN(resolution=64, conditional=False, preset_name=preset, steps=10**7, max_seconds=minutes * 60,
                   checkpoint_every=10**6, **overrides)  # fmt: skip
    gan.fit("emoji", out=out, sample_every=10**6)
    m = gan.metrics
    print(f"{preset}: {m['steps']} steps, {m['images_seen']:,} images in {m['train_seconds']} s", flush=True)


def train_all(presets: list[str], minutes: float, threads: int, overrides: list[str], root: Path) -> None:
    """Every preset in its own process, as many at once as the cores allow."""
    slots = max(1, (os.cpu_count() or 1) // threads)
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    pending, running = list(presets), []
    while pending or running:
        while pending and len(running) < slots:
            name = pending.pop(0)
            cmd = [sys.executable, __file__, "--worker", name, "--minutes", str(minutes),
                   "--threads", str(threads), "--run-dir", str(root / name), "--set", *overrides]  # fmt: skip
            running.append((name, subprocess.Popen(cmd, env=env)))
        time.sleep(2)
        for name, proc in list(running):
            if proc.poll() is not None:
                running.remove((name, proc))
                if proc.returncode != 0:
                    raise SystemExit(f"training {name} failed (exit {proc.returncode})")


def measure(real: np.ndarray, images: np.ndarray, inception: Any) -> dict[str, Any]:
    feats = inception(images)
    k_mean, k_std = kid(real, feats)
    row: dict[str, Any] = {"fid": round(features_frechet_distance(real, feats), 2), "kid": round(k_mean, 5),
                           "kid_std": round(k_std, 5)}  # fmt: skip
    row["prdc"] = {k: round(v, 4) for k, v in prdc(real, feats).items() if k in (
        "precision", "recall", "density", "coverage")}  # fmt: skip
    return row


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=20.0, help="wall-clock minutes per preset")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per training process")
    parser.add_argument("--n", type=int, default=1000, help="generated images per preset")
    parser.add_argument("--presets", nargs="*", default=["default", "small-data"])
    parser.add_argument("--out", default="fid_emoji", help="results/NAME.json (and NAME_PRESET.png)")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                        help="ImageGAN keywords for every preset, values as JSON or bare words")  # fmt: skip
    parser.add_argument("--runs", type=Path, help="measure the runs already trained in this folder")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--run-dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    overrides = parse_overrides(args.set)
    if args.worker:
        torch.set_num_threads(args.threads)
        train_one(args.worker, args.minutes, Path(args.run_dir), overrides)
        return

    root = args.runs
    if root is None:
        root = Path(tempfile.mkdtemp(prefix="fid-emoji-"))
        t = time.perf_counter()
        train_all(args.presets, args.minutes, args.threads, args.set, root)
        print(f"training done in {time.perf_counter() - t:.0f} s (runs in {root})", flush=True)

    train, held_out = load_builtin("emoji", 64, "train"), load_builtin("emoji", 64, "test")
    inception = get_extractor("inception")
    real = inception(train.images)
    reference = {"n": len(held_out.images), **measure(real, held_out.images, inception)}
    print("held-out emoji vs training images:", reference, flush=True)

    rows = []
    for name in args.presets:
        gan = load_image(root / name)
        m = gan.metrics
        row: dict[str, Any] = {"preset": name, "steps": m["steps"], "images_seen": m["images_seen"],
                               "train_seconds": m["train_seconds"], "run_dir": str(root / name)}  # fmt: skip
        plain = gan.sample(args.n, seed=0, watermark=False)
        marked = wm.mark(plain, gan.model_id)
        row["marked"] = measure(real, marked, inception)
        row["unmarked"] = measure(real, plain, inception)
        grid = RESULTS / f"{args.out}_{name}.png"
        save_grid(marked[:64], grid, nrow=8, text={"comment": f"synthetic (ganforge model {gan.model_id})"})
        row["grid"] = grid.name
        print(row, flush=True)
        rows.append(row)
    save(args.out, {"minutes": args.minutes, "threads_per_run": args.threads, "n": args.n, "resolution": 64,
                    "conditional": False, "train_images": len(train.images), "overrides": overrides,
                    "held_out_reference": reference, "results": rows})  # fmt: skip


if __name__ == "__main__":
    main()
