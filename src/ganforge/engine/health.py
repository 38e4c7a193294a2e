"""Training health: detect divergence, an overpowering discriminator, mode collapse and NaNs while
training, and recover automatically by rolling back to the last healthy state with a remedy
chosen by the diagnosis (see :meth:`HealthMonitor._prescribe` and docs/health.md).

The monitor is a Callback, so the loop itself stays small. Every ``every`` steps it checks:

- ``nan``: a loss or gradient became NaN/Inf (reported by the Trainer's ``on_nonfinite`` hook);
- ``divergence``: the discriminator's gradient norm or loss grew far beyond its healthy level;
- ``d_overpowering``: the discriminator's loss stays near zero — it separates every real from every
  fake — for several checks in a row (the generator gets no useful gradient);
- ``mode_collapse`` (when given a sampler and real examples): the *coverage* of real data by a
  fixed-noise batch — the share of real examples with a sample among their nearest neighbours — fell
  below a threshold.

Healthy checks take an in-memory snapshot of the whole training state. A problem is logged as an
``event`` record in metrics.jsonl; with ``on_problem="recover"`` the state goes back to the snapshot,
the remedy is applied and the noise stream is re-seeded; after ``max_retries`` recoveries the run stops
cleanly on its last healthy state.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from ganforge.core.losses import get_loss
from ganforge.engine.callbacks import Callback
from ganforge.errors import ConfigError

if TYPE_CHECKING:
    from ganforge.engine.trainer import Trainer

SampleFn = Callable[[nn.Module], torch.Tensor]
ACTIONS = ("recover", "stop", "warn")


@dataclass
class HealthConfig:
    """When the monitor calls a run unhealthy and what it does then."""

    every: int = 100  # steps between checks
    on_problem: str = "recover"  # recover | stop | warn
    max_retries: int = 3
    collapse_coverage: float = (
        0.35  # coverage of real data by fixed-noise samples below this -> mode_collapse
    )
    collapse_drop: float = 0.0  # and/or coverage below this share of its best so far (0 = off)
    warmup: int = 1000  # an untrained generator covers little yet: judge collapse after this many steps,
    # or earlier once coverage has been reached (a fall from there is a collapse)
    overpower_loss: float = 0.02  # D's loss below this: it separates reals from fakes perfectly
    overpower_share: float = 0.95  # ... in this share of a window's steps
    overpower_checks: int = 3  # ... for this many checks in a row -> d_overpowering
    # D pulling away without a perfect split (bounded losses): G's gradient norm this many times its
    # healthy median while D's loss is below this share of its healthy median, for ``takeover_checks``
    # checks in a row -> d_overpowering too (a table run: D loss 1.4 -> 0.34, G gradient 4 -> 1,300)
    takeover_grad: float = 20.0
    takeover_loss: float = 0.75
    takeover_checks: int = 2
    r1_start: float = 0.1  # R1 gamma added by the first recovery (doubled by each further one)
    divergence_factor: float = 50.0  # D gradient norm or |loss| this many times its healthy median

    def __post_init__(self) -> None:
        if self.on_problem not in ACTIONS:
            raise ConfigError(f"on-problem must be one of {', '.join(ACTIONS)} (got {self.on_problem!r})")
        if self.every < 1 or self.max_retries < 0:
            raise ConfigError("health checks need every >= 1 and max_retries >= 0")


def health_callbacks(
    on_problem: str, thresholds: dict[str, float] | None = None,
    probe: Callable[[], tuple[Any, torch.Tensor]] | None = None,
) -> list[Callback]:  # fmt: skip
    """The health monitor as callbacks to add to a run: none when ``on_problem`` is "off", else one
    ``HealthMonitor`` with the kind's collapse ``thresholds`` (HealthConfig fields) and its coverage check
    fed by ``probe()`` -> ``(sample, real)`` (called only when the monitor is on)."""
    if on_problem == "off":
        return []
    config = HealthConfig(on_problem=on_problem, **(thresholds or {}))
    return [HealthMonitor(config, *(probe() if probe is not None else ()))]


class HealthMonitor(Callback):
    """Watches a Trainer. With ``sample`` (generator -> a fixed batch of samples, as features) and
    ``real`` (real examples in the same space) it also checks for mode collapse via coverage."""

    def __init__(
        self,
        config: HealthConfig | None = None,
        sample: SampleFn | None = None,
        real: torch.Tensor | None = None,
    ) -> None:
        self.config = config or HealthConfig()
        self.sample, self.real = sample, real
        self.events: list[dict[str, Any]] = []
        self._snapshot: tuple[dict[str, torch.Tensor], dict[str, Any]] | None = None
        self._window: list[tuple[float, float, float, float]] = []  # (grad_d, |loss_d|, D perfect, grad_g)
        self._healthy: list[tuple[float, float, float]] = []  # medians (grad_d, |loss_d|, grad_g), healthy
        self._overpowered = 0
        self._taking_over = 0
        self._was_covering = False
        self._best_coverage = 0.0  # best coverage of a judged healthy check (for ``collapse_drop``)
        self._warned: set[str] = set()
        self._grace_until = 0  # after a recovery, the remedies get time to act before collapse is judged

    # ------------------------------------------------------------------ hooks
    def on_fit_start(self, trainer: Trainer) -> None:
        self._apply_remedies(trainer)  # a resumed run keeps the remedies applied before it stopped
        self._take_snapshot(trainer)

    def on_step_end(self, trainer: Trainer, stats: dict[str, float]) -> None:
        if "loss_d" in stats:  # (no D figures while D waits for the warm-up to end: nothing to judge)
            loss_d = stats["loss_d"]
            # D's loss near zero: it tells every real from every fake (bounded losses: ns, hinge, rpgan)
            perfect = (
                1.0 if trainer.config.loss != "wgan" and 0 <= loss_d < self.config.overpower_loss else 0.0
            )
            self._window.append((stats.get("grad_d", 0.0), abs(loss_d), perfect, stats.get("grad_g", 0.0)))
        if trainer.step % self.config.every == 0:
            problem = self._diagnose(trainer)
            if problem is None:
                if not (self._overpowered or self._taking_over):
                    # (a check on the way to an overpowering D is not a state to roll back to)
                    self._take_snapshot(trainer)
                    self._warned.clear()
            elif not (self.config.on_problem == "warn" and problem[0] in self._warned):
                self._act(trainer, *problem)  # a warning is given once until the run is healthy again
            self._window.clear()

    def on_nonfinite(self, trainer: Trainer, stats: dict[str, float]) -> bool:
        bad = ", ".join(k for k, v in stats.items() if not math.isfinite(v))
        self._act(trainer, "nan", f"{bad} became NaN/Inf")
        self._window.clear()
        return True

    # ------------------------------------------------------------------ diagnosis
    def _diagnose(self, trainer: Trainer) -> tuple[str, str] | None:
        cfg = self.config
        if not self._window:
            return None
        g_med, l_med, _, gg_med = torch.tensor(self._window).median(dim=0).values.tolist()
        above = sum(w[2] for w in self._window) / len(self._window)
        # medians of the healthy windows so far, once there are enough of them after the warm-up
        healthy = (
            torch.tensor(self._healthy) if len(self._healthy) >= 2 and trainer.step >= cfg.warmup else None
        )
        if healthy is not None:
            # both the gradient and the loss far above their healthy levels (either alone also happens
            # while a healthy run finds its balance early on)
            ref_g, ref_l = healthy[:, 0].max().item(), healthy[:, 1].max().item()
            diverged_g = g_med > cfg.divergence_factor * max(ref_g, 1e-3)
            if diverged_g and l_med > cfg.divergence_factor * max(ref_l, 1e-2):
                return (
                    "divergence",
                    f"D gradient {g_med:.3g} / loss {l_med:.3g} vs healthy {ref_g:.3g} / {ref_l:.3g}",
                )
        self._overpowered = self._overpowered + 1 if above >= cfg.overpower_share else 0
        if self._overpowered >= cfg.overpower_checks:
            self._overpowered = 0
            return "d_overpowering", f"D told every real from every fake for {cfg.overpower_checks} checks"
        suspect = False
        if healthy is not None and trainer.config.loss != "wgan":
            typical_gg, typical_l = healthy[:, 2].median().item(), healthy[:, 1].median().item()
            suspect = (
                gg_med > cfg.takeover_grad * max(typical_gg, 1e-3) and l_med < cfg.takeover_loss * typical_l
            )
            self._taking_over = self._taking_over + 1 if suspect else 0
            if self._taking_over >= cfg.takeover_checks:
                self._taking_over = 0
                return (
                    "d_overpowering",
                    f"D is pulling away: G gradient {gg_med:.3g} vs healthy {typical_gg:.3g}, D loss "
                    f"{l_med:.3g} vs healthy {typical_l:.3g}",
                )
        # Coverage needs more real examples than neighbours in its k-NN balls: on a handful of examples
        # (a 4-image folder) mode collapse is not judged, the other checks still run.
        if self.sample is not None and self.real is not None and len(self.real) > COVERAGE_K:
            was_training = trainer.G_ema.training
            with torch.no_grad():
                fake = self.sample(trainer.G_ema.eval())
            trainer.G_ema.train(was_training)
            cov = coverage(self.real, fake)
            trainer.log_record({"step": trainer.step, "coverage": round(cov, 4)})
            judged = (trainer.step >= cfg.warmup or self._was_covering) and trainer.step >= self._grace_until
            fell = cov < cfg.collapse_drop * self._best_coverage
            if judged and (cov < cfg.collapse_coverage or fell):
                since = f" (best so far {self._best_coverage:.0%})" if fell else ""
                return "mode_collapse", f"fixed-noise samples cover {cov:.0%} of the real data{since}"
            self._was_covering = self._was_covering or cov >= cfg.collapse_coverage
            if judged:
                self._best_coverage = max(self._best_coverage, cov)
        if not suspect:  # a window on the way to a takeover is not a healthy reference
            self._healthy.append((g_med, l_med, gg_med))
        return None

    # ------------------------------------------------------------------ actions
    def _take_snapshot(self, trainer: Trainer) -> None:
        tensors, state = trainer.state_tensors()
        self._snapshot = ({k: v.detach().clone() for k, v in tensors.items()}, state)

    def _act(self, trainer: Trainer, name: str, detail: str) -> None:
        health = trainer.extra_state.setdefault(
            "health", {"retries": 0, "lr_g_scale": 1.0, "lr_d_scale": 1.0, "r1_boost": 0.0, "r2_boost": 0.0}
        )
        event: dict[str, Any] = {"step": trainer.step, "event": name, "detail": detail}
        action = self.config.on_problem
        if action == "recover" and health["retries"] >= self.config.max_retries:
            action = "stop"
            event["detail"] += f"; recovery budget ({self.config.max_retries}) exhausted"
        if action in ("recover", "stop") and self._snapshot is not None:
            trainer.restore_state(*self._snapshot)
            trainer.extra_state["health"] = health  # the counters outlive the rollback
        if action == "recover":
            health["retries"] += 1
            event["action"] = f"rolled back to step {trainer.step}; " + self._prescribe(trainer, name, health)
            self._apply_remedies(trainer)
            if name == "mode_collapse":  # Adam's moments remember the collapsed dynamics
                trainer.opt_g.state.clear()
                trainer.opt_d.state.clear()
            self._grace_until, self._was_covering = trainer.step + self.config.warmup, False
            self._best_coverage = 0.0
            trainer.rng.manual_seed(
                trainer.config.seed + 7919 * health["retries"]
            )  # a different noise stream
            self._take_snapshot(trainer)
        elif action == "stop":
            event["action"] = f"stopped on the last healthy state (step {trainer.step})"
            trainer.stop_reason = f"{name}: {event['detail']}"
        else:
            event["action"] = "warned"
            self._warned.add(name)
        self._healthy.clear()
        self._taking_over = 0
        self.events.append(event)
        trainer.log_record(event)

    def _prescribe(self, trainer: Trainer, name: str, health: dict[str, Any]) -> str:
        """Change what the diagnosis suggests; returns what was done, for the event record.

        - ``nan`` / ``divergence`` (a numerical blow-up): both learning rates halved, R1 added.
        - ``d_overpowering`` (D wins too easily): D's learning rate halved, R1 added.
        - ``mode_collapse``: the stable recipe (below), applied once.
        R1 starts at ``r1_start`` and doubles with each further nan/divergence/overpowering recovery.
        """
        done = []
        if name == "mode_collapse":
            # The stable recipe, applied once: the relativistic pairing loss in place of a bounded one,
            # R1 and R2, an EMA generator (averaged weights smooth out a generator that hops between
            # modes), and one learning rate for both nets (a discriminator that learns faster than the
            # generator chases it from mode to mode). A further collapse re-seeds and gives it time.
            if trainer.config.loss in ("ns", "hinge"):
                health["loss"] = "rpgan"
                done.append("loss -> rpgan")
            if trainer.config.ema_halflife_images <= 0:
                health["ema_halflife_images"] = 200.0 * trainer.config.batch_size
                done.append(f"EMA half-life {health['ema_halflife_images']:g} images")
            health["r1_boost"] = max(health["r1_boost"], self.config.r1_start)
            health["r2_boost"] = max(health.get("r2_boost", 0.0), self.config.r1_start)
            lr_d = trainer.config.lr_d * health["lr_d_scale"]
            health["lr_g_scale"] = max(health["lr_g_scale"], lr_d / trainer.config.lr_g)
        else:
            health["lr_d_scale"] *= 0.5
            if name in ("nan", "divergence"):
                health["lr_g_scale"] *= 0.5
            health["r1_boost"] = max(2 * health["r1_boost"], self.config.r1_start)
        done += [f"lr G x{health['lr_g_scale']:g}", f"lr D x{health['lr_d_scale']:g}",
                 f"R1 gamma +{health['r1_boost']:g}"]  # fmt: skip
        if health.get("r2_boost"):
            done.append(f"R2 gamma +{health['r2_boost']:g}")
        return ", ".join(done) + f", noise re-seeded (recovery {health['retries']})"

    def _apply_remedies(self, trainer: Trainer) -> None:
        health = trainer.extra_state.get("health")
        if not health:
            return
        trainer.lr_scale = {"g": health["lr_g_scale"], "d": health["lr_d_scale"]}
        trainer.apply_lr()
        trainer.r1_boost = health["r1_boost"]
        trainer.r2_boost = health.get("r2_boost", 0.0)
        if health.get("loss"):
            trainer.loss = get_loss(health["loss"])
        if health.get("ema_halflife_images"):
            trainer.ema_halflife_images = health["ema_halflife_images"]


COVERAGE_K = 5  # neighbours in the coverage balls


def coverage(real: torch.Tensor, fake: torch.Tensor, k: int = COVERAGE_K) -> float:
    """Share of real examples with a generated one inside their k-nearest-real-neighbour ball
    (the "coverage" of Naeem et al. 2020): ~1 when every region of the data is generated, and about the
    share of modes kept when the generator has collapsed onto a few."""
    from ganforge.metrics.prdc import coverage as prdc_coverage

    return prdc_coverage(real.flatten(1).double().numpy(), fake.flatten(1).double().numpy(), k)


def pairwise_diversity(samples: torch.Tensor) -> float:
    """Mean pairwise Euclidean distance of a batch of samples (flattened)."""
    x = samples.flatten(1).float()
    d = torch.cdist(x, x)
    n = x.shape[0]
    return float(d.sum() / max(n * (n - 1), 1))


def fixed_noise_sampler(
    recipe: Any, n: int = 256, seed: int = 12345, cond: torch.Tensor | None = None
) -> SampleFn:
    """``n`` samples from fixed noise (and fixed conditioning ``cond``), for any recipe's generator."""
    z = recipe.sample_latents(n, torch.Generator().manual_seed(seed))

    @torch.no_grad()
    def sample(generator: nn.Module) -> torch.Tensor:
        device = next(generator.parameters()).device
        return generator(z.to(device), cond.to(device) if cond is not None else None).cpu()

    return sample
