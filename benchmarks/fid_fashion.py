"""FID and KID on Fashion-MNIST after the demo's CPU budget: the default preset vs a plain DCGAN.

Both are trained class-conditionally at 28x28 for the same wall-clock budget on the same machine,
then N generated images (classes drawn uniformly) are compared with N test images through InceptionV3.

    python benchmarks/fid_fashion.py [--minutes 10] [--n 2000] [--presets default dcgan]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, save  # noqa: E402

from ganforge import ImageGAN  # noqa: E402
from ganforge.images.builtin import load_builtin  # noqa: E402
from ganforge.metrics.fid import image_distance  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--presets", nargs="+", default=["default", "dcgan", "r3gan"])
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()

    test = load_builtin("fashion-mnist", resolution=28, split="test").images
    real = test[np.sort(np.random.default_rng(0).choice(len(test), args.n, replace=False))]
    cache = RESULTS / f"fashion-mnist-test-{args.n}-inception.npz"
    rows, trained = [], []
    # Train everything first, then measure: the Inception pass must not share the CPU with a timed run.
    for name in args.presets:
        out = Path(tempfile.mkdtemp(prefix=f"fid-{name}-"))
        gan = ImageGAN(resolution=28, conditional=True, preset_name=name, steps=10**7, device=args.device,
                       max_seconds=args.minutes * 60, checkpoint_every=10**6)  # fmt: skip
        gan.fit("fashion-mnist", out=out / "run", sample_every=10**6)
        trained.append((name, gan, out))
        print(f"{name}: {gan.metrics['steps']} steps in {gan.metrics['train_seconds']} s", flush=True)
    for name, gan, out in trained:
        fake = gan.sample(args.n, seed=0)
        r = image_distance(real, fake, extractor="inception", kid=True, cache_path=cache)
        row = {"preset": name, "arch": gan.recipe_config.arch, "steps": gan.metrics["steps"],
               "images_seen": gan.metrics["images_seen"], "train_seconds": gan.metrics["train_seconds"],
               "fid": round(r["fid"], 2), "kid": round(r["kid"], 5), "kid_std": round(r["kid_std"], 5),
               "run_dir": str(out / "run")}  # fmt: skip
        print(row, flush=True)
        rows.append(row)
    save("fid_fashion", {"minutes": args.minutes, "n": args.n, "resolution": 28, "results": rows})


if __name__ == "__main__":
    main()
