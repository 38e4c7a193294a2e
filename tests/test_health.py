"""The health monitor catches collapse and NaNs while training and recovers; healthy runs raise nothing
(that check shares the engine's ring run: test_engine.py::test_a_healthy_run_raises_no_alarm)."""

import json

import torch
from test_engine import CENTERS, SIGMA, ring
from test_engine import coverage as mode_coverage

from ganforge.core.config import TrainConfig
from ganforge.engine.callbacks import Callback
from ganforge.engine.health import HealthConfig, HealthMonitor, coverage, fixed_noise_sampler
from ganforge.engine.trainer import Trainer
from ganforge.vectors.recipe import TensorSource, VectorRecipe

REAL = ring(10_000)
REFERENCE = ring(512, seed=5)  # held-out real examples the fixed-noise samples must cover


def ring_trainer(
    cfg: TrainConfig, health: HealthConfig | None, run_dir=None, extra=()
) -> tuple[Trainer, HealthMonitor]:
    recipe = VectorRecipe()
    monitor = HealthMonitor(health or HealthConfig(), fixed_noise_sampler(recipe, n=512), REFERENCE)
    callbacks = ([monitor] if health is not None else []) + list(extra)
    return Trainer(recipe, TensorSource(REAL), cfg, run_dir=run_dir, callbacks=callbacks), monitor


# Collapse-prone on purpose: the non-saturating loss with no gradient penalty, no EMA and a discriminator
# that learns 5x faster than the generator chases the generator from mode to mode; it ends on 1-2 modes.
# Seeds 0-5, 3,000 steps: 'warn' sees the collapse at step 1,000 (seeds 0, 1, 2, 5; 1,100 and 1,300 for 4
# and 3), and those four sit on 1-2 modes from step 1,250 to the end. 'recover' rolls back at the same
# steps and by step 2,000 every run holds all 8 modes with >= 1 % each and coverage 0.41-0.56 (0.45-0.60 at
# step 3,000): longer runs add no margin, so the tests stop at 1,500 and 2,000 steps.
COLLAPSING = dict(steps=3000, batch_size=256, loss="ns", lr_g=2e-4, lr_d=1e-3, betas=(0.5, 0.9),
                  r1_gamma=0.0, r2_gamma=0.0, ema_halflife_images=0.0, log_every=100, seed=0)  # fmt: skip
HEALTHY = dict(steps=3000, batch_size=256, loss="rpgan", lr_g=1e-3, lr_d=1e-3, betas=(0.5, 0.9),
               r1_gamma=0.1, r2_gamma=0.1, ema_halflife_images=50_000, log_every=100, seed=0)  # fmt: skip


def modes_of(trainer: Trainer, min_share: float = 0.0) -> tuple[int, float]:
    """Modes holding more than ``min_share`` of 2,000 samples (within 3 sigma), and the share near a mode."""
    with torch.no_grad():
        x = trainer.G_ema(torch.randn(2000, 8, generator=torch.Generator().manual_seed(1)))
    if min_share == 0.0:
        return mode_coverage(x)
    dist, idx = torch.cdist(x, CENTERS).min(1)
    counts = torch.bincount(idx[dist < 3 * SIGMA], minlength=8)
    return int((counts > min_share * len(x)).sum()), float((dist < 3 * SIGMA).float().mean())


def test_collapse_is_detected_and_warned_once():
    cfg = TrainConfig(**(COLLAPSING | {"steps": 1500}))
    trainer, monitor = ring_trainer(cfg, HealthConfig(every=100, on_problem="warn"))
    trainer.fit()
    assert [e["event"] for e in monitor.events] == ["mode_collapse"], monitor.events
    assert monitor.events[0]["step"] <= 1000 and monitor.events[0]["action"] == "warned"
    assert modes_of(trainer)[0] <= 3  # the run really did collapse


def test_recovery_turns_a_collapsing_run_into_one_that_covers_the_modes():
    cfg = TrainConfig(**(COLLAPSING | {"steps": 2000}))
    trainer, monitor = ring_trainer(cfg, HealthConfig(every=100, on_problem="recover"))
    trainer.fit()
    assert trainer.step == 2000 and monitor.events and monitor.events[0]["event"] == "mode_collapse"
    assert "loss -> rpgan" in monitor.events[0]["action"]
    modes, _ = modes_of(trainer, min_share=0.01)  # each mode with at least 1 % of the samples
    assert modes >= 7, modes
    with torch.no_grad():
        final = coverage(REFERENCE, fixed_noise_sampler(trainer.recipe, n=512, seed=99)(trainer.G_ema))
    assert final >= HealthConfig().collapse_coverage  # the monitor itself now calls it healthy


class PoisonD(Callback):
    """Sets one discriminator weight to NaN after each of the given steps, once (an injected failure;
    a rolled-back run passing the same step again is not poisoned again)."""

    def __init__(self, at: set[int]) -> None:
        self.at = set(at)

    def on_step_end(self, trainer, stats) -> None:
        if trainer.step in self.at:
            self.at.discard(trainer.step)
            with torch.no_grad():
                next(trainer.D.parameters()).view(-1)[0] = float("nan")


def test_injected_nan_rolls_back_and_training_continues(tmp_path):
    cfg = TrainConfig(**(HEALTHY | {"steps": 600, "checkpoint_every": 100}))
    trainer, monitor = ring_trainer(cfg, HealthConfig(every=50), run_dir=tmp_path, extra=[PoisonD({230})])
    result = trainer.fit()
    assert result.stopped_by == "steps" and trainer.step == 600
    assert [e["event"] for e in monitor.events] == ["nan"]
    assert all(torch.isfinite(p).all() for p in trainer.D.parameters())
    logged = [json.loads(ln) for ln in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert any(r.get("event") == "nan" and "rolled back to step 200" in r["action"] for r in logged)


def test_exhausted_recovery_stops_cleanly_on_the_last_healthy_state(tmp_path):
    cfg = TrainConfig(**(HEALTHY | {"steps": 600, "checkpoint_every": 100}))
    poison = PoisonD(set(range(120, 600)))
    trainer, monitor = ring_trainer(
        cfg, HealthConfig(every=50, max_retries=2), run_dir=tmp_path, extra=[poison]
    )
    result = trainer.fit()
    assert result.stopped_by == "health" and "exhausted" in trainer.stop_reason
    assert [e["event"] for e in monitor.events] == ["nan"] * 3
    assert trainer.step == 100  # the last healthy check before the first failure
    assert all(torch.isfinite(p).all() for p in trainer.D.parameters())
    from ganforge.engine import checkpoint as ckpt

    tensors, state = ckpt.read_checkpoint(tmp_path)  # the checkpoint left behind is the healthy state
    assert state["step"] == 100 and all(
        torch.isfinite(v).all() for v in tensors.values() if v.is_floating_point()
    )


def test_coverage_separates_a_collapsed_generator():
    assert coverage(REFERENCE, ring(512, seed=6)) > 0.8
    two_modes = ring(4000, seed=7)
    two_modes = two_modes[torch.cdist(two_modes, CENTERS[:2]).min(1).values < 0.3][:512]
    assert abs(coverage(REFERENCE, two_modes) - 0.25) < 0.1  # about the share of modes kept
