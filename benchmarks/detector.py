"""Real-vs-generated detector: AUC on generators it was not trained on.

Trains (or reuses) three GANs on the same real data that differ in architecture, loss and seed, then for
each feature set and each run: fit the detector on held-out-free real images vs that run's samples, and
measure the AUC on held-out real images vs samples of the *other* runs (and of its own run, for
comparison). Also: trained on two runs, tested on the third.

    python benchmarks/detector.py [--data fashion-mnist] [--minutes 2] [-n 2000] [--effnet]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import save  # noqa: E402

from ganforge import ImageGAN  # noqa: E402
from ganforge.engine import checkpoint as ckpt  # noqa: E402
from ganforge.images.detector import train_detector  # noqa: E402

# name -> (preset, seed): a DCGAN with the modern recipe, the residual R3GAN-style net, the classic DCGAN
RUNS = {"dcgan-rpgan-s0": ("default", 0), "resnet-rpgan-s1": ("r3gan", 1), "dcgan-ns-s2": ("dcgan", 2)}


def ensure_runs(data: str, resolution: int, minutes: float, root: Path) -> dict[str, Path]:
    out = {}
    for name, (preset_name, seed) in RUNS.items():
        run = root / name
        if not (run / "model.safetensors").is_file() or not ckpt.has_checkpoint(run):
            print(f"training {name} for {minutes} min", flush=True)
            ImageGAN(resolution=resolution, conditional=False, preset_name=preset_name, steps=100_000,
                     seed=seed, device="cpu", max_seconds=minutes * 60).fit(data, out=run)  # fmt: skip
        out[name] = run
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", default="fashion-mnist")
    parser.add_argument("--resolution", type=int, default=28)
    parser.add_argument("--minutes", type=float, default=2.0, help="training time per GAN")
    parser.add_argument("-n", type=int, default=2000, help="real images (as many samples)")
    parser.add_argument("--root", type=Path, default=Path("runs/bench-detector"))
    parser.add_argument("--effnet", action="store_true", help="also the EfficientNet-lite0 feature block")
    args = parser.parse_args()
    runs = ensure_runs(args.data, args.resolution, args.minutes, args.root)
    feature_sets = [("pixels",), ("spectrum", "pixels"), ("spectrum",)]
    if args.effnet:
        feature_sets += [("spectrum", "pixels", "effnet"), ("effnet",)]
    results: dict[str, dict] = {}
    for features in feature_sets:
        key = "+".join(features)
        results[key] = {"train_on_one": {}, "train_on_two": {}}
        for name, run in runs.items():
            t = time.perf_counter()
            others = [r for n, r in runs.items() if n != name]
            det = train_detector(args.data, [run], test_fakes=others, n=args.n, features=features)
            results[key]["train_on_one"][name] = {
                "auc_seen": det.info["auc_seen"],
                "auc_unseen": {Path(r).name: auc for r, auc in det.info["auc_unseen"].items()},
                "seconds": round(time.perf_counter() - t, 1),
            }
            left_out = run
            det = train_detector(args.data, others, test_fakes=[left_out], n=args.n, features=features)
            results[key]["train_on_two"][f"unseen {name}"] = {
                "auc_seen": det.info["auc_seen"],
                "auc_unseen": det.info["auc_unseen"][str(left_out)],
            }
        unseen = [a for v in results[key]["train_on_one"].values() for a in v["auc_unseen"].values()]
        results[key]["min_auc_unseen_train_on_one"] = min(unseen)
        results[key]["mean_auc_unseen_train_on_one"] = round(sum(unseen) / len(unseen), 4)
        print(key, results[key]["mean_auc_unseen_train_on_one"], flush=True)
    settings = vars(args) | {
        "root": str(args.root),
        "runs": {n: {"preset": p, "seed": s} for n, (p, s) in RUNS.items()},
    }
    save("detector", {"settings": settings, "results": results})


if __name__ == "__main__":
    main()
