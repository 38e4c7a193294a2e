"""Differentially private training of the table GAN: DP-SGD on the discriminator through Opacus.

Only the discriminator touches real rows. Each step draws a Poisson sample of the table (every row
joins with probability ``q = batch / n``), Opacus computes one gradient per (real row, fake row) pair,
clips it to ``max_grad_norm`` and adds Gaussian noise of ``noise_multiplier * max_grad_norm`` before the
optimiser step. The generator learns only from the discriminator's output, so it — and every sample drawn
from it — is post-processing of a DP mechanism. The spent epsilon follows from (noise, q, steps) through
Opacus's accountant (RDP or PRV), so it is a function of the step count and survives resume exactly.
"""

from __future__ import annotations

import math
import os
import warnings
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import torch

from ganforge.engine.callbacks import Callback
from ganforge.errors import ConfigError

if TYPE_CHECKING:
    from ganforge.engine.trainer import Trainer

ACCOUNTANTS = ("rdp", "prv")


@dataclass
class DPConfig:
    """The privacy budget and DP-SGD settings of a run (JSON-ready; saved in config.json)."""

    epsilon: float = 3.0
    delta: float | None = None  # default: 1 / (10 n), well below 1 / n
    max_grad_norm: float = 1.0
    noise_multiplier: float | None = None  # default: calibrated so the planned steps spend the budget
    accountant: str = "rdp"
    metadata_share: float = 0.1  # share of epsilon (and delta) spent on metadata computed from the data

    def validate(self) -> DPConfig:
        """Check the settings that do not depend on the data; returns self."""
        if not isinstance(self.epsilon, (int, float)) or not math.isfinite(self.epsilon) or self.epsilon <= 0:
            raise ConfigError(f"--epsilon must be a positive number (got {self.epsilon}); try 1, 3 or 10")
        if self.delta is not None and not 0 < self.delta < 1:
            raise ConfigError(f"--delta must be between 0 and 1/n (got {self.delta}); try 1e-5")
        if self.max_grad_norm <= 0:
            raise ConfigError(f"max_grad_norm must be > 0 (got {self.max_grad_norm})")
        if self.noise_multiplier is not None and self.noise_multiplier <= 0:
            raise ConfigError(f"--noise-multiplier must be > 0 (got {self.noise_multiplier})")
        if self.accountant not in ACCOUNTANTS:
            raise ConfigError(f"unknown accountant {self.accountant!r} (choose rdp or prv)")
        if not 0 < self.metadata_share < 1:
            raise ConfigError(f"metadata_share must be in (0, 1) (got {self.metadata_share})")
        return self

    def for_rows(self, n: int) -> DPConfig:
        """The settings for a table of ``n`` rows: default delta, and delta < 1/n enforced."""
        delta = self.delta if self.delta is not None else 1.0 / (10 * n)
        if delta >= 1.0 / n:
            raise ConfigError(
                f"--delta {delta:g} is not below 1/n = {1 / n:.3g} for {n} rows: a delta that large allows "
                f"releasing a whole row; use --delta {10 ** math.floor(math.log10(0.1 / n)):g} or smaller"
            )
        return DPConfig(**(asdict(self) | {"delta": delta}))


def check_compatible(train: dict[str, Any], health: str) -> str:
    """Refuse training settings DP-SGD cannot support; returns the health mode to use.

    R1/R2 penalties differentiate D's output with respect to real rows and then differentiate again —
    per-sample double backward, which Opacus cannot do. The relativistic loss feeds D's score of real
    rows into the generator's loss, which would bypass the noise. The health monitor decides (to stop,
    to roll back, to add R1/R2) from statistics of real rows outside the noise, so it is turned off.
    """
    if train.get("r1_gamma", 0) or train.get("r2_gamma", 0):
        raise ConfigError(
            "--dp cannot use R1/R2 gradient penalties (Opacus has no per-sample double backward); "
            "leave r1_gamma/r2_gamma at 0 — the DP recipe uses the non-saturating loss without them"
        )
    if train.get("loss") not in ("ns", "hinge", "wgan"):
        raise ConfigError(
            f"--dp cannot use the {train.get('loss')!r} loss: its generator loss reads D's score of real "
            "rows, outside the noise; use loss='ns' (the table default) or 'hinge'"
        )
    return "off"


def epsilon_after(cfg: DPConfig, sample_rate: float, steps: int) -> float:
    """Epsilon spent after ``steps`` noisy steps, from Opacus's accountant."""
    from opacus.accountants import create_accountant

    if steps <= 0:
        return 0.0
    accountant = create_accountant(mechanism=cfg.accountant)
    accountant.history = [(cfg.noise_multiplier, sample_rate, int(steps))]
    with warnings.catch_warnings():  # "optimal order is the largest alpha": the bound is still valid
        warnings.simplefilter("ignore")
        return float(accountant.get_epsilon(delta=cfg.delta))


def calibrate_noise(cfg: DPConfig, epsilon: float, sample_rate: float, steps: int) -> float:
    """The noise multiplier with which ``steps`` steps at ``sample_rate`` spend at most ``epsilon``."""
    from opacus.accountants.utils import get_noise_multiplier

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return float(get_noise_multiplier(target_epsilon=epsilon, target_delta=cfg.delta,
                                              sample_rate=sample_rate, steps=steps, accountant=cfg.accountant))  # fmt: skip
    except ValueError:
        raise ConfigError(
            f"epsilon {epsilon:g} is too small for {steps} steps at sample rate {sample_rate:.3g}; "
            "train fewer epochs or raise --epsilon"
        ) from None


def max_steps(cfg: DPConfig, epsilon: float, sample_rate: float, limit: int) -> int:
    """The most steps (up to ``limit``) whose spent epsilon stays within ``epsilon`` (binary search)."""
    if epsilon_after(cfg, sample_rate, limit) <= epsilon:
        return limit
    lo, hi = 0, limit  # epsilon(lo) <= budget < epsilon(hi)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if epsilon_after(cfg, sample_rate, mid) <= epsilon:
            lo = mid
        else:
            hi = mid
    return lo


class PoissonTableSource:
    """Encoded rows drawn by Poisson sampling (each row independently with probability ``sample_rate``),
    the sampling DP-SGD's accountant assumes. No conditional vector: it would carry real categories into
    the generator outside the noise."""

    def __init__(self, x: torch.Tensor, sample_rate: float) -> None:
        self.x, self.sample_rate = x, sample_rate

    def __len__(self) -> int:
        return self.x.shape[0]

    def get(self, indices: torch.Tensor) -> tuple[torch.Tensor, None]:
        return self.x[indices], None

    def sample(self, n: int, rng: torch.Generator) -> tuple[torch.Tensor, None]:
        """A Poisson batch (its size varies around ``n``, the expected size)."""
        keep = torch.rand(len(self), generator=rng) < self.sample_rate
        return self.x[keep], None


class PrivacyBudget(Callback):
    """Stops training before the first step that would spend more than the budget."""

    def __init__(self, cfg: DPConfig, epsilon: float, sample_rate: float, steps_allowed: int) -> None:
        self.cfg, self.epsilon, self.sample_rate, self.steps_allowed = (
            cfg,
            epsilon,
            sample_rate,
            steps_allowed,
        )
        self.spent = False

    def on_fit_start(self, trainer: Trainer) -> None:
        self._check(trainer)

    def on_step_end(self, trainer: Trainer, stats: dict[str, float]) -> None:
        self._check(trainer)

    def _check(self, trainer: Trainer) -> None:
        if trainer.step >= self.steps_allowed and trainer.step < trainer.config.steps:
            self.spent = True
            trainer.stop_reason = (
                f"privacy budget spent (epsilon {self.epsilon:g} after {trainer.step} steps)"
            )


def make_private(trainer: Trainer, cfg: DPConfig) -> None:
    """Wrap the trainer's discriminator and its optimiser for DP-SGD (per-sample clipping and noise).

    The noise comes from :func:`noise_generator`, so a DP run is not bit-for-bit reproducible (a resumed
    one continues with fresh noise; its accounting is unchanged). The wrapped D's weights are under
    ``_module.``; :func:`plain_module` returns the bare network for saving.
    """
    from opacus import GradSampleModule
    from opacus.optimizers import DPOptimizer
    from opacus.validators import ModuleValidator

    # D's forward on detached rows has no input gradients; Opacus's hooks still see every output gradient
    warnings.filterwarnings("ignore", message="Full backward hook is firing")
    errors = ModuleValidator.validate(trainer.D, strict=False)
    if errors:
        raise ConfigError(
            f"--dp cannot train this discriminator: {errors[0]}; use the default table networks"
        )

    class _FrozenAware(GradSampleModule):
        """The generator's step runs D forward, then freezes it for the backward: Opacus has recorded
        that forward pass and would wait for its per-sample gradients forever. Unfreezing forgets it."""

        def requires_grad_(self, requires_grad: bool = True) -> GradSampleModule:
            (self.enable_hooks if requires_grad else self.disable_hooks)()
            if requires_grad:
                for m in self.modules():
                    for name in ("activations", "max_batch_len"):
                        if hasattr(m, name):
                            delattr(m, name)
                for p in self.parameters():
                    p._forward_counter, p.grad_sample = 0, None
            return super().requires_grad_(requires_grad)

    trainer.D = _FrozenAware(trainer.D)
    trainer.opt_d = DPOptimizer(
        torch.optim.Adam(trainer.D.parameters(), lr=trainer.config.lr_d, betas=trainer.config.betas),
        noise_multiplier=cfg.noise_multiplier,
        max_grad_norm=cfg.max_grad_norm,
        expected_batch_size=trainer.config.batch_size,
        generator=noise_generator(trainer.device),
    )


def noise_generator(device: torch.device) -> torch.Generator:
    """A generator for the DP noise seeded from the operating system's entropy and never saved: noise
    drawn from the run's seed (which checkpoints and config.json record) could be subtracted again."""
    return torch.Generator(device=device).manual_seed(int.from_bytes(os.urandom(8), "little") >> 1)


def plain_module(module: torch.nn.Module) -> torch.nn.Module:
    """The network inside an Opacus wrapper (or the module itself)."""
    return getattr(module, "_module", module)
