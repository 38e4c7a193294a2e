"""Seconds per table fit of a fixed step count, with and without the engine's two step savings.

`share_fake` (one generated batch per step for D and G) and `ema_stats_every` (G_ema's batch-norm
statistics measured every k steps) each remove part of a generator pass per step; a table step is
mostly the generator's matrix products. Every variant fits the same table for the same steps, in turn,
``--repeats`` times (so a slow spell of the machine hits all variants alike); the best and the median of
the repeats are compared, in wall and in CPU seconds (this machine's wall times vary by a third between
runs).

    python benchmarks/table_step_time.py [--datasets credit] [--steps 400] [--repeats 4]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
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


def fit_seconds(train, target: str, steps: int, settings: dict) -> tuple[float, float]:
    """(wall seconds, CPU seconds of all this process's threads) of one fit."""
    gan = TableGAN(steps=steps, seed=0, device="cpu")
    gan.train_config = replace(gan.train_config, **settings)
    out = Path(tempfile.mkdtemp(prefix="ganforge-steptime-"))
    try:
        t, cpu = time.perf_counter(), time.process_time()
        gan.fit(train, out=out / "run", target=target)
        return time.perf_counter() - t, time.process_time() - cpu
    finally:
        shutil.rmtree(out, ignore_errors=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--datasets", default="credit")
    p.add_argument("--steps", type=int, default=400)
    p.add_argument("--repeats", type=int, default=4)
    p.add_argument("--out", default="table_step_time")
    args = p.parse_args()
    results = {}
    for name in args.datasets.split(","):
        train, _, target = load_dataset(name)
        times: dict[str, list[float]] = {label: [] for label in VARIANTS}
        cpu: dict[str, list[float]] = {label: [] for label in VARIANTS}
        for _ in range(args.repeats):
            for label, settings in VARIANTS.items():
                wall, used = fit_seconds(train, target, args.steps, settings)
                times[label].append(round(wall, 1))
                cpu[label].append(round(used, 1))
                print(f"{name} {label}: {wall:.1f} s wall, {used:.1f} s CPU", flush=True)
        first = next(iter(VARIANTS))
        base, base_cpu = min(times[first]), min(cpu[first])
        results[name] = {label: {"fit_seconds": t, "cpu_seconds": cpu[label],
                                 "best_vs_before": round(min(t) / base, 3),
                                 "cpu_best_vs_before": round(min(cpu[label]) / base_cpu, 3),
                                 "median_vs_before": round(statistics.median(t) / statistics.median(times[first]), 3)}
                         for label, t in times.items()}  # fmt: skip
    save(args.out, {"steps": args.steps, "repeats": args.repeats, "variants": VARIANTS, "results": results})


if __name__ == "__main__":
    main()
