"""Seconds per table fit of a fixed step count, with and without the engine's two step savings.

`share_fake` (one generated batch per step for D and G) and `ema_stats_every` (G_ema's batch-norm
statistics measured every k steps) each remove part of a generator pass per step; a table step is
mostly the generator's matrix products. Every variant fits the same table for the same steps, in turn,
``--repeats`` times (so a slow spell of the machine hits all variants alike).

    python benchmarks/table_step_time.py [--datasets credit] [--steps 800] [--repeats 2]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import save  # noqa: E402
from tables import load_dataset  # noqa: E402

from ganforge import TableGAN  # noqa: E402

VARIANTS = {
    "fresh batch for D, statistics every step (before)": {"share_fake": False, "ema_stats_every": 1},
    "shared batch": {"share_fake": True, "ema_stats_every": 1},
    "statistics every 4 steps": {"share_fake": False, "ema_stats_every": 4},
    "both (the table default)": {"share_fake": True, "ema_stats_every": 4},
}


def fit_seconds(train, target: str, steps: int, settings: dict) -> float:
    gan = TableGAN(steps=steps, seed=0, device="cpu")
    gan.train_config = replace(gan.train_config, **settings)
    out = Path(tempfile.mkdtemp(prefix="ganforge-steptime-"))
    try:
        t = time.perf_counter()
        gan.fit(train, out=out / "run", target=target)
        return time.perf_counter() - t
    finally:
        shutil.rmtree(out, ignore_errors=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--datasets", default="credit")
    p.add_argument("--steps", type=int, default=800)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--out", default="table_step_time")
    args = p.parse_args()
    results = {}
    for name in args.datasets.split(","):
        train, _, target = load_dataset(name)
        times: dict[str, list[float]] = {label: [] for label in VARIANTS}
        for _ in range(args.repeats):
            for label, settings in VARIANTS.items():
                times[label].append(round(fit_seconds(train, target, args.steps, settings), 1))
                print(name, label, times[label][-1], "s", flush=True)
        base = min(times[next(iter(VARIANTS))])
        results[name] = {label: {"fit_seconds": t, "best_vs_before": round(min(t) / base, 3)}
                         for label, t in times.items()}  # fmt: skip
    save(args.out, {"steps": args.steps, "repeats": args.repeats, "variants": VARIANTS, "results": results})


if __name__ == "__main__":
    main()
