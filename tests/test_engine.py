"""The engine learns a known distribution, and only when it is configured to learn."""

import math

import pytest
import torch

from ganforge.core.config import TrainConfig
from ganforge.core.losses import LOSSES, get_loss
from ganforge.engine.callbacks import Callback
from ganforge.engine.health import HealthConfig, HealthMonitor, fixed_noise_sampler
from ganforge.engine.trainer import Trainer
from ganforge.errors import ConfigError, TrainingError
from ganforge.vectors.recipe import TensorSource, VectorRecipe

SIGMA, RADIUS = 0.05, 2.0
CENTERS = torch.stack(
    [torch.tensor([math.cos(a), math.sin(a)]) * RADIUS for a in torch.arange(8) * 2 * math.pi / 8]
)


def ring(n: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return CENTERS[torch.randint(8, (n,), generator=g)] + SIGMA * torch.randn(n, 2, generator=g)


def coverage(x: torch.Tensor) -> tuple[int, float]:
    """Modes hit by at least one sample within 3 sigma, and the share of samples within 3 sigma."""
    dist, idx = torch.cdist(x, CENTERS).min(1)
    near = dist < 3 * SIGMA
    return len(set(idx[near].tolist())), float(near.float().mean())


def train_ring(lr_g: float, steps: int = 3000, callbacks=()) -> Trainer:
    cfg = TrainConfig(
        steps=steps, batch_size=256, lr_g=lr_g, lr_d=1e-3, betas=(0.5, 0.9), loss="rpgan",
        r1_gamma=0.1, r2_gamma=0.1, ema_halflife_images=50_000, log_every=1000, seed=0,
    )  # fmt: skip
    trainer = Trainer(VectorRecipe(), TensorSource(ring(10_000)), cfg, callbacks=list(callbacks))
    trainer.fit()
    return trainer


def ema_coverage(trainer: Trainer) -> tuple[int, float]:
    with torch.no_grad():
        x = trainer.G_ema(torch.randn(2000, 8, generator=torch.Generator().manual_seed(1)))
    return coverage(x)


@pytest.fixture(scope="module")
def learned_ring() -> tuple[Trainer, HealthMonitor]:
    """The stable recipe trained once on the ring (3,000 steps) with the health monitor watching it,
    shared by the engine's learning test and the monitor's no-false-alarm test. A monitor that finds
    nothing only observes: its checks use their own fixed noise and its snapshots are copies, so G_ema
    and D come out bit-identical with and without it (compared over 300 steps with three checks)."""
    monitor = HealthMonitor(
        HealthConfig(every=100), fixed_noise_sampler(VectorRecipe(), n=512), ring(512, seed=5)
    )
    return train_ring(lr_g=1e-3, callbacks=[monitor]), monitor


def test_ring_of_gaussians_is_learned_and_a_broken_config_is_not(learned_ring):
    trainer, monitor = learned_ring
    assert monitor.events == []  # nothing was rolled back or changed: this is the engine's own run
    modes, share = ema_coverage(trainer)
    assert modes >= 7, f"only {modes} of 8 modes covered"
    assert share >= 0.70, f"only {share:.0%} of samples within 3 sigma of a mode"
    # Same run with a generator that cannot learn (lr 0): the check must fail. Its weights (and so the
    # EMA copy) never move, so a short run shows what a long one would.
    modes_broken, share_broken = ema_coverage(train_ring(lr_g=0.0, steps=100))
    assert modes_broken < 7 or share_broken < 0.70


def test_a_healthy_run_raises_no_alarm(learned_ring):
    """The health monitor (tests/test_health.py has its other tests) finds nothing in 30 checks of a
    healthy run, including the 21 from step 1,000 on where divergence and collapse are both judged."""
    trainer, monitor = learned_ring
    assert monitor.events == []
    assert ema_coverage(trainer)[0] >= 7


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_losses_reward_the_right_side(name):
    loss = get_loss(name)
    good_real, bad_fake = torch.full((16,), 3.0), torch.full((16,), -3.0)
    # D is doing well when reals score high and fakes low; its loss must be lower there than reversed.
    assert loss.d_loss(good_real, bad_fake) < loss.d_loss(bad_fake, good_real)
    # G is doing well when its fakes score high.
    assert loss.g_loss(good_real, good_real) < loss.g_loss(good_real, bad_fake)


def test_unknown_loss_and_bad_config_are_refused():
    with pytest.raises(ConfigError, match="unknown loss 'foo'"):
        TrainConfig(loss="foo")
    with pytest.raises(ConfigError, match="steps"):
        TrainConfig(steps=0)
    with pytest.raises(ConfigError, match="ada_target"):
        TrainConfig(ada_target=1.5)


def test_nan_stops_with_a_clear_error_and_the_hook_can_handle_it(tmp_path):
    cfg = TrainConfig(steps=20, batch_size=8, lr_g=1e-3, lr_d=1e-3, checkpoint_every=5, loss="ns")
    data = ring(64)
    data[3] = float("nan")  # one poisoned example is enough to make the losses NaN
    trainer = Trainer(VectorRecipe(), TensorSource(data), cfg, run_dir=tmp_path)
    with pytest.raises(TrainingError, match="NaN"):
        trainer.fit()

    from ganforge.engine.callbacks import Callback

    class Skip(Callback):
        calls = 0

        def on_nonfinite(self, trainer, stats):
            Skip.calls += 1
            return True

    trainer = Trainer(VectorRecipe(), TensorSource(data), cfg, callbacks=[Skip()])
    trainer.fit()
    assert Skip.calls > 0 and trainer.step == 20


class _BatchNormVectors(VectorRecipe):
    """The vector recipe with batch norm in G (as the image and table generators have)."""

    def build_generator(self) -> torch.nn.Module:
        z, h = self.z_dim, self.hidden
        net = torch.nn.Sequential(
            torch.nn.Linear(z, h), torch.nn.ReLU(), torch.nn.Linear(h, h), torch.nn.BatchNorm1d(h),
            torch.nn.ReLU(), torch.nn.Linear(h, self.dim),
        )  # fmt: skip
        return _NoCondition(net)


class _NoCondition(torch.nn.Module):
    def __init__(self, net: torch.nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(z)


@pytest.mark.parametrize(("halflife", "every"), [(20_000.0, 1), (20_000.0, 4), (0.0, 1)])
def test_the_weight_average_keeps_batch_norm_statistics_of_its_own(halflife, every):
    # Averaged weights give other activations than G's; sampling in eval mode must use statistics that
    # fit them, i.e. agree with what G_ema measures on a large batch of its own (train mode). Measured
    # every 4th step with the momentum raised to match, they must fit as well.
    cfg = TrainConfig(steps=300, batch_size=512, lr_g=1e-2, lr_d=1e-2, betas=(0.0, 0.99), loss="rpgan",
                      r1_gamma=0.1, r2_gamma=0.1, ema_halflife_images=halflife, ema_rampup=0.0, log_every=1000,
                      seed=0, ema_stats_every=every)  # fmt: skip
    trainer = Trainer(_BatchNormVectors(), TensorSource(ring(5_000)), cfg)
    trainer.fit()
    z = torch.randn(20_000, 8, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        own = trainer.G_ema.net[:3](z)  # G_ema's activations where its batch norm sees them
    own_mean, own_var = own.mean(0), own.var(0)
    ema_norm, g_norm = trainer.G_ema.net[3], trainer.G.net[3]
    ema_stats, g_stats = ema_norm.running_mean, g_norm.running_mean
    ema_error = ((ema_stats - own_mean).norm() + (ema_norm.running_var - own_var).norm()).item()
    g_error = ((g_stats - own_mean).norm() + (g_norm.running_var - own_var).norm()).item()
    print(f"G_ema's statistics off by {ema_error:.3f}, G's by {g_error:.3f}")
    if halflife:  # the comparison can fail: G's statistics (what a copy would give) are far off
        assert ema_error < 0.25 * g_error
    else:  # no average: the two nets are one, and G's statistics are copied unchanged
        assert torch.equal(ema_stats, g_stats)


def _counted_vectors(share_fake: bool, steps: int) -> tuple[Trainer, list[bool]]:
    """The batch-norm vector recipe trained on the ring, recording each generator pass (grad on or off)."""
    cfg = TrainConfig(steps=steps, batch_size=256, lr_g=1e-3, lr_d=1e-3, betas=(0.5, 0.9), loss="ns",
                      ema_halflife_images=20_000.0, ema_stats_every=4, share_fake=share_fake, log_every=1000,
                      seed=0)  # fmt: skip
    trainer = Trainer(_BatchNormVectors(), TensorSource(ring(5_000)), cfg)
    passes: list[bool] = []
    trainer.G.register_forward_hook(lambda *_: passes.append(torch.is_grad_enabled()))
    trainer.fit()
    return trainer, passes


def _distance_to_modes(G: torch.nn.Module) -> float:
    """Mean distance of 2,000 samples to their nearest mode of the ring."""
    with torch.no_grad():
        x = G(torch.randn(2000, 8, generator=torch.Generator().manual_seed(1)))
    return float(torch.cdist(x, CENTERS).min(1).values.mean())


def test_a_shared_batch_saves_one_generator_pass_per_step_and_still_learns():
    """With ``share_fake`` D learns on the batch G's own step then takes through the updated D: one
    generator pass a step instead of two (the G_ema statistics pass runs on G_ema, not on G). The shared
    run must learn as the fresh-batch run does: its samples move onto the ring's modes as far."""
    shared, shared_passes = _counted_vectors(True, steps=600)
    fresh, fresh_passes = _counted_vectors(False, steps=600)
    assert len(shared_passes) == 600 and all(shared_passes)  # one pass per step, with gradients
    assert len(fresh_passes) == 1200 and fresh_passes.count(False) == 600  # D's own pass, without
    start = _distance_to_modes(Trainer(_BatchNormVectors(), TensorSource(ring(5_000)), shared.config).G_ema)
    moved, moved_fresh = _distance_to_modes(shared.G_ema), _distance_to_modes(fresh.G_ema)
    print(f"mean distance to the modes: untrained {start:.3f}, shared {moved:.3f}, fresh {moved_fresh:.3f}")
    assert moved < 0.4 * start and moved < 1.2 * moved_fresh


class _LearningRates(Callback):
    """Records both optimisers' learning rates at every step."""

    def __init__(self) -> None:
        self.g: list[float] = []
        self.d: list[float] = []

    def on_step_end(self, trainer: Trainer, stats: dict[str, float]) -> None:
        self.g.append(trainer.opt_g.param_groups[0]["lr"])
        self.d.append(trainer.opt_d.param_groups[0]["lr"])


def _cooldown_config(**kw) -> TrainConfig:
    return TrainConfig(**({"steps": 40, "batch_size": 64, "lr_g": 1e-3, "lr_d": 2e-3, "lr_cooldown": 0.25,
                           "log_every": 1000, "checkpoint_every": 20} | kw))  # fmt: skip


def test_the_cooldown_brings_both_learning_rates_down_to_zero_over_the_last_share_of_the_run():
    rates = _LearningRates()
    Trainer(VectorRecipe(), TensorSource(ring(1_000)), _cooldown_config(), callbacks=[rates]).fit()
    assert rates.g[:31] == [1e-3] * 31 and rates.d[:31] == [2e-3] * 31  # constant for 3/4 of the run
    # then 9/10, 8/10 ... 1/10 of the base rates: the last step still learns a little, nothing after it
    assert rates.g[31:] == pytest.approx([k / 10 * 1e-3 for k in range(9, 0, -1)])
    assert rates.d[31:] == pytest.approx([k / 10 * 2e-3 for k in range(9, 0, -1)])
    off = _LearningRates()
    Trainer(
        VectorRecipe(), TensorSource(ring(1_000)), _cooldown_config(lr_cooldown=0.0), callbacks=[off]
    ).fit()
    assert set(off.g) == {1e-3} and set(off.d) == {2e-3}


def test_the_cooldown_follows_the_time_budget():
    rates = _LearningRates()
    trainer = Trainer(VectorRecipe(), TensorSource(ring(1_000)),
                      _cooldown_config(steps=10**6, max_seconds=1.5, lr_cooldown=0.5), callbacks=[rates])  # fmt: skip
    trainer.fit()
    assert trainer.step < 10**6  # stopped by the clock, so the clock drove the cooldown
    assert rates.g[0] == 1e-3 and all(a >= b for a, b in zip(rates.g, rates.g[1:], strict=False))
    assert rates.g[-1] < 0.5e-3  # the last steps ran at under half the rate (a tenth on an idle machine)
    assert [d / g for g, d in zip(rates.g, rates.d, strict=True)] == pytest.approx([2.0] * len(rates.g))
    trainer._elapsed = 1.2  # a fifth of the budget left, four fifths of the last half: 0.4
    assert trainer.lr_factor() == pytest.approx(0.4)
    trainer._elapsed = 1.9  # past the budget (the last step overruns it): zero, never negative
    assert trainer.lr_factor() == 0.0
    for bad in (1.0, -0.1):
        with pytest.raises(ConfigError, match="lr_cooldown must be in"):
            TrainConfig(lr_cooldown=bad)


def test_the_cooldown_multiplies_the_rates_a_recovery_lowered():
    trainer = Trainer(VectorRecipe(), TensorSource(ring(1_000)), _cooldown_config())
    trainer.step = 35  # half of the last quarter left: 0.5
    trainer.extra_state["health"] = {"lr_g_scale": 0.5, "lr_d_scale": 0.25, "r1_boost": 0.1, "retries": 1}
    monitor = HealthMonitor(HealthConfig(), fixed_noise_sampler(VectorRecipe(), n=64), ring(64))
    monitor._apply_remedies(trainer)  # what a recovery, or a resumed run's monitor, does
    assert trainer.opt_g.param_groups[0]["lr"] == pytest.approx(1e-3 * 0.5 * 0.5)
    assert trainer.opt_d.param_groups[0]["lr"] == pytest.approx(2e-3 * 0.25 * 0.5)
    rates = _LearningRates()
    trainer.callbacks.append(rates)
    trainer.fit()  # the cooldown goes on from there, keeping the recovery's scales
    assert rates.g == pytest.approx([k / 10 * 0.5e-3 for k in range(5, 0, -1)])
    assert rates.d == pytest.approx([k / 10 * 0.5e-3 for k in range(5, 0, -1)])


class _StopAt(Callback):
    def __init__(self, step: int) -> None:
        self.step = step

    def on_step_end(self, trainer: Trainer, stats: dict[str, float]) -> None:
        if trainer.step == self.step:
            trainer.stop_reason = "test"


def test_a_run_resumed_inside_the_cooldown_equals_an_uninterrupted_one(tmp_path):
    data = TensorSource(ring(1_000))
    (tmp_path / "whole").mkdir()
    (tmp_path / "parts").mkdir()
    whole = Trainer(VectorRecipe(), data, _cooldown_config(), run_dir=tmp_path / "whole")
    whole.fit()
    Trainer(VectorRecipe(), data, _cooldown_config(), tmp_path / "parts", callbacks=[_StopAt(34)]).fit()
    rates = _LearningRates()
    parts = Trainer(VectorRecipe(), data, _cooldown_config(), run_dir=tmp_path / "parts", callbacks=[rates])
    parts.fit(resume=True)
    assert parts.step == whole.step == 40
    assert rates.g == pytest.approx([k / 10 * 1e-3 for k in range(6, 0, -1)])  # the cooldown went on
    for a, b in ((whole.G, parts.G), (whole.D, parts.D), (whole.G_ema, parts.G_ema)):
        for (name, x), y in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
            assert torch.equal(x, y), name


def test_a_resumed_run_keeps_the_rates_a_recovery_lowered_without_the_health_monitor(tmp_path):
    data = TensorSource(ring(1_000))
    first = Trainer(VectorRecipe(), data, _cooldown_config(), tmp_path, callbacks=[_StopAt(34)])
    first.lr_scale = {"g": 0.5, "d": 0.25}  # as a recovery leaves them
    first.fit()
    rates = _LearningRates()
    Trainer(VectorRecipe(), data, _cooldown_config(), tmp_path, callbacks=[rates]).fit(resume=True)
    assert rates.g == pytest.approx([k / 10 * 0.5e-3 for k in range(6, 0, -1)])
    assert rates.d == pytest.approx([k / 10 * 0.5e-3 for k in range(6, 0, -1)])
