"""One row of the time-series ablation (docs/timeseries.md): train the direct recipe for a fixed number of
steps in one thread (so two rows can run side by side on two cores and still compare), sample as many
windows as are compared, and score them with the benchmark's code (ganforge.timeseries.metrics): the
discriminative score (2 classifier seeds by default), the mean KS of the marginals, and the spread of the
first step across windows relative to the real one (median over channels). Appends a JSON line to
results/timeseries_ablation.jsonl. The base keeps the GRU at 64 units on every data set (`--hidden`), the
package default before the width followed the channels (128 for Energy since 2026-12-05).

    .venv/bin/python benchmarks/timeseries_ablation.py energy --steps 3000                 # the ablation's base
    .venv/bin/python benchmarks/timeseries_ablation.py energy --steps 3000 --sliced 0      # without the term
    .venv/bin/python benchmarks/timeseries_ablation.py sines --steps 2000 --lr-g 2.5e-4 --lr-d 1e-3
    .venv/bin/python benchmarks/timeseries_ablation.py energy --recipe d_width=128 --train r1_gamma=1.0
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch
from _common import RESULTS, machine, parse_overrides
from timeseries import WINDOW, draw_windows, plain_windows

from ganforge.timeseries import metrics as tm
from ganforge.timeseries.data import builtin_frame
from ganforge.timeseries.model import SeriesGAN


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data", choices=["sines", "stocks", "energy"])
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--sliced", type=float, default=None, help="weight of the sliced term (default: the model's)"
    )
    ap.add_argument("--lr-g", type=float, default=None)
    ap.add_argument("--lr-d", type=float, default=None)
    ap.add_argument("--z-dim", type=int, default=16)
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--scaling", default="minmax")
    ap.add_argument("--windows", type=int, default=3000, help="real windows compared (0: every one)")
    ap.add_argument("--classifier-seeds", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument(
        "--recipe", nargs="*", default=[], metavar="KEY=VALUE",
        help="recipe fields set before training, values as JSON or bare words (e.g. d_width=128 pac=8)",
    )  # fmt: skip
    ap.add_argument(
        "--train", nargs="*", default=[], metavar="KEY=VALUE",
        help="training settings set before training, values as JSON or bare words (e.g. r1_gamma=1)",
    )  # fmt: skip
    ap.add_argument("--save-windows", default=None, metavar="NPZ", help="keep the real and generated windows")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    frame, time_col, id_col = builtin_frame(args.data)
    features = [c for c in frame.columns if c not in (time_col, id_col)]
    low, high = frame[features].min().to_numpy(float), frame[features].max().to_numpy(float)
    windows = plain_windows(frame, features, low, high, id_col, WINDOW)
    real = draw_windows(windows, args.windows, np.random.default_rng(0))

    gan = SeriesGAN(steps=args.steps, seed=args.seed, device="cpu", sliced=args.sliced, lr_g=args.lr_g,
                    lr_d=args.lr_d, z_dim=args.z_dim, hidden=args.hidden, scaling=args.scaling,
                    batch_size=args.batch_size)  # fmt: skip
    for target, items in ((gan.recipe, args.recipe), (gan.train_config, args.train)):
        for key, value in parse_overrides(items).items():
            if not hasattr(target, key):
                raise SystemExit(f"no setting {key!r} on {type(target).__name__}")
            setattr(target, key, value)
    t0 = time.perf_counter()
    gan.fit(frame, time=time_col, id=id_col, health="off")
    fit_s = time.perf_counter() - t0
    rows = gan.sample(len(real), length=WINDOW, seed=args.seed)
    fake = plain_windows(rows, features, low, high, gan.codec.id or "sequence", WINDOW)[: len(real)]
    if args.save_windows:
        np.savez_compressed(args.save_windows, real=real, fake=fake)
    disc = tm.discriminative_score(real, fake, seed=0, seeds=args.classifier_seeds, iterations=2000)
    spread = np.median(fake[:, 0].std(0) / np.maximum(real[:, 0].std(0), 1e-6))
    row = {
        "args": vars(args), "sliced_weight": gan.recipe.sliced, "discriminative": round(disc["score"], 4),
        "per_seed": [round(x, 4) for x in disc["per_seed"]],
        "marginal_ks_mean": round(float(np.mean(tm.marginal_distances(real, fake))), 4),
        "spread_first_step": round(float(spread), 3), "steps": gan.metrics["steps"], "fit_seconds": round(fit_s),
        "machine": machine(),
    }  # fmt: skip
    print(json.dumps(row))
    RESULTS.mkdir(parents=True, exist_ok=True)
    with open(RESULTS / "timeseries_ablation.jsonl", "a") as f:
        f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
