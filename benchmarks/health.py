"""Training health: how often a collapse-prone run collapses without the monitor and with recovery,
and what the monitor costs in training time.

Collapse-prone configuration (documented cause): 2-D ring of 8 Gaussians, non-saturating loss, no
gradient penalty, no EMA, and a discriminator learning rate 5x the generator's. A run counts as
collapsed when fewer than 7 of the 8 modes hold at least 1 % of 2,000 samples (within 3 sigma).

Overhead: the same healthy configuration trained with and without the monitor (collapse check on,
every 100 steps), and an image run (digits, 16 px) and a table run (Adult) with and without the
monitor as `train images` / `train table` wire it; CPU seconds, best of ``--repeats`` each.

    .venv/bin/python benchmarks/health.py            # 10 seeds, ~25 minutes on 2 cores
    .venv/bin/python benchmarks/health.py --seeds 3  # quicker
    .venv/bin/python benchmarks/health.py --seeds 0  # the overhead figures only
"""

from __future__ import annotations

import argparse
import math
import time

import torch
from _common import save

from ganforge.core.config import TrainConfig
from ganforge.engine.health import HealthConfig, HealthMonitor, coverage, fixed_noise_sampler
from ganforge.engine.trainer import Trainer
from ganforge.vectors.recipe import TensorSource, VectorRecipe

SIGMA, RADIUS = 0.05, 2.0
CENTERS = torch.stack(
    [torch.tensor([math.cos(a), math.sin(a)]) * RADIUS for a in torch.arange(8) * 2 * math.pi / 8]
)
COLLAPSING = dict(steps=3000, batch_size=256, loss="ns", lr_g=2e-4, lr_d=1e-3, betas=(0.5, 0.9),
                  r1_gamma=0.0, r2_gamma=0.0, ema_halflife_images=0.0, log_every=100)  # fmt: skip
HEALTHY = dict(steps=3000, batch_size=256, loss="rpgan", lr_g=1e-3, lr_d=1e-3, betas=(0.5, 0.9),
               r1_gamma=0.1, r2_gamma=0.1, ema_halflife_images=50_000, log_every=100)  # fmt: skip


def ring(n: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return CENTERS[torch.randint(8, (n,), generator=g)] + SIGMA * torch.randn(n, 2, generator=g)


def modes_held(trainer: Trainer, min_share: float = 0.01) -> tuple[int, float]:
    """Modes holding more than ``min_share`` of 2,000 EMA samples, and the share within 3 sigma."""
    with torch.no_grad():
        x = trainer.G_ema(torch.randn(2000, 8, generator=torch.Generator().manual_seed(1)))
    dist, idx = torch.cdist(x, CENTERS).min(1)
    near = dist < 3 * SIGMA
    counts = torch.bincount(idx[near], minlength=8)
    return int((counts > min_share * len(x)).sum()), float(near.float().mean())


def run_ring(settings: dict, seed: int, monitor: bool, on_problem: str = "recover") -> dict:
    recipe = VectorRecipe()
    reference = ring(512, seed=10_000 + seed)
    callbacks = []
    mon = None
    if monitor:
        mon = HealthMonitor(
            HealthConfig(on_problem=on_problem), fixed_noise_sampler(recipe, n=512), reference
        )
        callbacks.append(mon)
    trainer = Trainer(recipe, TensorSource(ring(10_000, seed)), TrainConfig(**settings, seed=seed),
                      callbacks=callbacks)  # fmt: skip
    t0 = time.perf_counter()
    result = trainer.fit()
    seconds = time.perf_counter() - t0
    modes, near = modes_held(trainer)
    with torch.no_grad():
        cov = coverage(reference, fixed_noise_sampler(recipe, n=512, seed=99)(trainer.G_ema))
    return {
        "seed": seed, "seconds": round(seconds, 2), "steps": trainer.step, "stopped_by": result.stopped_by,
        "modes": modes, "share_near_mode": round(near, 3), "coverage": round(cov, 3),
        "collapsed": modes < 7, "events": [(e["step"], e["event"]) for e in (mon.events if mon else [])],
    }  # fmt: skip


def timed_fits(make_fit, repeats: int) -> dict:
    """CPU seconds of the same run with the monitor off and on (``make_fit(health)`` trains once),
    interleaved so both see the same machine load; best of ``repeats`` each."""
    times: dict[str, list[float]] = {"off": [], "recover": []}
    for _ in range(repeats):
        for health in times:
            t0 = time.process_time()
            make_fit(health)
            times[health].append(time.process_time() - t0)
    out = {k: round(min(v), 3) for k, v in times.items()}
    out["overhead"] = round(out["recover"] / out["off"] - 1, 4)
    return out


def image_overhead(steps: int, repeats: int) -> dict:
    """An image run on digits (16 px, default preset) with and without the monitor as `train images`
    wires it (collapse check included)."""
    from ganforge import ImageGAN

    def fit(health: str) -> None:
        gan = ImageGAN(resolution=16, steps=steps, batch_size=64, seed=0, device="cpu")
        gan.fit("digits", health=health, sample_every=10**9)

    return timed_fits(fit, repeats)


def table_overhead(steps: int, repeats: int) -> dict:
    """A table run on 5,000 Adult rows with and without the monitor as `train table` wires it."""
    from table_vs_ctgan import load_dataset

    from ganforge import TableGAN

    train = load_dataset("adult")[0].iloc[:5000]

    def fit(health: str) -> None:
        TableGAN(steps=steps, seed=0, device="cpu").fit(train, health=health)

    return timed_fits(fit, repeats)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--image-steps", type=int, default=500)
    ap.add_argument("--table-steps", type=int, default=300)
    args = ap.parse_args()
    torch.set_num_threads(1)  # tiny nets: one thread is fastest and timings are steadier

    runs = {"no_monitor": [], "recover": []}
    for seed in range(args.seeds):
        runs["no_monitor"].append(run_ring(COLLAPSING, seed, monitor=False))
        runs["recover"].append(run_ring(COLLAPSING, seed, monitor=True))
        print(seed, runs["no_monitor"][-1], runs["recover"][-1], flush=True)
    ring = timed_fits(lambda h: run_ring(HEALTHY, 0, monitor=h != "off", on_problem="warn"), args.repeats)
    overhead = {
        "timing": "CPU seconds (process time), best of --repeats, monitor off/on interleaved",
        "ring_collapse_check": ring,
        "image_digits_16px": image_overhead(args.image_steps, args.repeats),
        "table_adult_5000_rows": table_overhead(args.table_steps, args.repeats),
    }
    print(overhead, flush=True)
    if not args.seeds:  # overhead only: keep the collapse figures of the last full run
        save("health_overhead", overhead)
        return
    summary = {
        name: {
            "collapsed": sum(r["collapsed"] for r in rs),
            "runs": len(rs),
            "mean_modes": round(sum(r["modes"] for r in rs) / len(rs), 2),
            "mean_coverage": round(sum(r["coverage"] for r in rs) / len(rs), 3),
        }
        for name, rs in runs.items()
    }

    save("health", {
        "config": {"collapsing": COLLAPSING, "healthy": HEALTHY, "seeds": args.seeds},
        "summary": summary,
        "overhead": overhead,
        "runs": runs,
    })  # fmt: skip


if __name__ == "__main__":
    main()
