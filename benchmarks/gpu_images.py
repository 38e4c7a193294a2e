"""Fashion-MNIST on a GPU for a fixed wall-clock budget per preset: training images/s and generation speed.

Trains each preset class-conditionally at 28x28 (the same call `fid_fashion.py` makes, on ``--device``),
then times generation of 10,000 images (marked, as users get them), and packs each run's model files
into ``OUT/NAME.tar`` (no optimiser checkpoint). The FID figures are measured afterwards on any machine
with the same code as every other row, from the unpacked runs:

    python benchmarks/gpu_images.py --device cuda --budget r3gan=4 default=2 --out-dir OUT
    python benchmarks/fid_fashion.py --presets --no-plain-dcgan --runs r3gan=DIR/run default=DIR/run

``--budget NAME=MINUTES`` per preset (presets run one after another; each result is written as soon as
it exists, so a run cut short still leaves the rows before it). ``--set KEY=VALUE`` as in fid_fashion.py.
"""

from __future__ import annotations

import argparse
import json
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, parse_overrides  # noqa: E402

from ganforge import ImageGAN  # noqa: E402

GENERATE = 10_000
MODEL_FILES = ("config.json", "model.safetensors", "card.md", "metrics.jsonl", "samples", "tensorboard")


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def generation_speed(gan: ImageGAN, device: str) -> dict[str, Any]:
    """Seconds for 10,000 marked images, classes balanced, after one warm-up call (images as numpy)."""
    labels = np.repeat(np.arange(10), GENERATE // 10).tolist()
    gan.sample(100, labels=labels[:100], seed=1)
    _sync(device)
    t = time.perf_counter()
    images = gan.sample(GENERATE, labels=labels, seed=0)
    _sync(device)
    seconds = time.perf_counter() - t
    assert images.shape[0] == GENERATE
    return {"images": GENERATE, "seconds": round(seconds, 3), "images_per_s": round(GENERATE / seconds)}


def pack(run: Path, target: Path) -> None:
    with tarfile.open(target, "w") as tar:
        for name in MODEL_FILES:
            if (run / name).exists():
                tar.add(run / name, arcname=f"run/{name}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--budget", nargs="+", required=True, metavar="PRESET=MINUTES")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--out-dir", required=True, help="folder for NAME.tar and gpu_images.json")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE")
    args = parser.parse_args()
    overrides = parse_overrides(args.set)
    budget = {k: float(v) for k, v in (b.split("=", 1) for b in args.budget)}
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {"machine": machine(), "device": args.device, "batch_size": args.batch_size,
                              "overrides": overrides, "results": []}  # fmt: skip
    for name, minutes in budget.items():
        run = Path(tempfile.mkdtemp(prefix=f"gpu-{name}-")) / "run"
        gan = ImageGAN(resolution=28, conditional=True, preset_name=name, steps=10**8, device=args.device,
                       batch_size=args.batch_size, max_seconds=minutes * 60, checkpoint_every=10**7,
                       **overrides)  # fmt: skip
        gan.fit("fashion-mnist", out=run, sample_every=10**7)
        m = gan.metrics
        row = {"preset": name, "arch": gan.recipe_config.arch, "minutes": minutes, "steps": m["steps"],
               "images_seen": m["images_seen"], "train_seconds": m["train_seconds"],
               "train_images_per_s": round(m["images_seen"] / m["train_seconds"], 1),
               "generation": generation_speed(gan, args.device), "tar": f"{name}.tar"}  # fmt: skip
        pack(run, out_dir / f"{name}.tar")
        report["results"].append(row)
        print(json.dumps(row), flush=True)
        (out_dir / "gpu_images.json").write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
