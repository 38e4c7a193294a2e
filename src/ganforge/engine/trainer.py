"""The one adversarial training loop, shared by every recipe.

Per step: sample a real batch and noise, update D (loss + lazy R1/R2), update G, update the EMA
generator, adapt the augmentation probability. The loop's randomness comes from one CPU
``torch.Generator`` whose state is checkpointed (with torch's per-process stream, from which dropout,
Gumbel noise and recipe terms draw), so a resumed run reproduces an uninterrupted one bit for bit.

Under ``torchrun`` the same loop runs in every process with DistributedDataParallel (engine/distributed.py):
``batch_size`` is the global batch; every rank draws the global batch's indices and noise from the shared
stream and trains on its slice, DDP averages the gradients, and only rank 0 writes files.
"""

from __future__ import annotations

import contextlib
import copy
import json
import math
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from ganforge.core.config import TrainConfig, to_json
from ganforge.core.io import atomic_write_text
from ganforge.core.losses import get_loss
from ganforge.core.protocols import (
    BatchSource,
    FeatureMatching,
    GeneratorPenalty,
    LatentGame,
    PairedLoss,
    PerRankSource,
    Recipe,
    ReplayDiscriminator,
    SampledSource,
    StatefulSource,
)
from ganforge.core.regularizers import r1_penalty, r2_penalty
from ganforge.engine import checkpoint as ckpt
from ganforge.engine import distributed
from ganforge.engine.callbacks import Callback
from ganforge.engine.ema import ema_beta, has_batch_norm, track_norm_stats, update_ema
from ganforge.errors import CheckpointError, ConfigError, TrainingError


@dataclass
class FitResult:
    """How a call to :meth:`Trainer.fit` ended."""

    steps: int
    examples_seen: int
    seconds: float
    stopped_by: str  # "steps" | "time" | "interrupt" | "health" (| "privacy_budget", set by a caller)


def resolve_device(name: str) -> torch.device:
    """'auto' picks CUDA when present; asking for CUDA without one is a clear error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError("device 'cuda' requested but no CUDA GPU is available (use --device cpu or auto)")
    if name not in ("cpu",) and not name.startswith("cuda"):
        raise ConfigError(f"unknown device '{name}' (choose cpu, cuda or auto)")
    return torch.device(name)


def _grad_norm(params: list[nn.Parameter], clip: float | None) -> float:
    if clip:
        return float(torch.nn.utils.clip_grad_norm_(params, clip))
    grads = [p.grad.norm() for p in params if p.grad is not None]
    return float(torch.stack(grads).norm()) if grads else 0.0


@contextlib.contextmanager
def _deferred_interrupt() -> Iterator[Any]:
    """Turn the first Ctrl-C into a request to stop after the current step (so the checkpoint holds whole
    steps and resumes exactly); a second Ctrl-C interrupts at once."""
    requested = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield requested.is_set
        return

    def handler(signum: int, frame: Any) -> None:
        if requested.is_set():
            raise KeyboardInterrupt
        requested.set()

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield requested.is_set
    finally:
        signal.signal(signal.SIGINT, previous)


class Trainer:
    """``Trainer(recipe, data, config, run_dir).fit()`` trains; ``resume=True`` continues exactly."""

    def __init__(
        self,
        recipe: Recipe,
        data: BatchSource,
        config: TrainConfig,
        run_dir: Path | None = None,
        callbacks: list[Callback] | None = None,
        extra_state: dict[str, Any] | None = None,
    ) -> None:
        if len(data) < 2:
            raise ConfigError("training needs at least 2 examples")
        self.recipe, self.data, self.config = recipe, data, config
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.callbacks = list(callbacks or [])
        self.extra_state = dict(extra_state or {})  # saved with checkpoints for the caller's use
        self.device = distributed.local_device(resolve_device(config.device))
        distributed.check_batch(config.batch_size)
        self.world = distributed.init(self.device)
        self.loss = get_loss(config.loss)
        if config.adversarial_start and not isinstance(recipe, (PairedLoss, GeneratorPenalty)):
            raise ConfigError(
                "adversarial_start needs a recipe with terms of its own for the generator to learn"
            )
        self.amp = config.precision == "bf16"

        torch.manual_seed(config.seed)  # network initialisation (the same on every rank)
        self.rng = torch.Generator().manual_seed(config.seed)
        self.G = recipe.build_generator().to(self.device)
        self.D = recipe.build_discriminator().to(self.device)
        if config.channels_last:  # NHWC weights (and batches, see _real_batch) for GPU convolutions
            self.G, self.D = (
                self.G.to(memory_format=torch.channels_last),
                self.D.to(memory_format=torch.channels_last),
            )
        self.G_ema = copy.deepcopy(self.G).eval().requires_grad_(False)
        # Batch norm in G: G_ema measures its own running statistics on G's inputs (see _update_ema).
        self._ema_own_norms = has_batch_norm(self.G)
        self._g_inputs: tuple[torch.Tensor, torch.Tensor | None] | None = None
        self.latent_game = isinstance(self.G, LatentGame)  # checked once: a Protocol isinstance is slow
        if self.latent_game and self.world.distributed:
            raise ConfigError("this recipe trains in one process only (not under torchrun)")
        # The modules the updates go through: DDP wrappers under torchrun (gradients averaged over ranks).
        self.G_train, self.D_train = self._wrap(self.G), self._wrap(self.D)
        # The multi-tensor Adam: on a 2-core CPU the per-tensor loop of the plain one took 3 ms a step for
        # a table GAN's two networks, this one 1 ms (the fused kernel, 0.3 ms, broke exact resume here).
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=config.lr_g, betas=config.betas, foreach=True)
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=config.lr_d, betas=config.betas, foreach=True)

        self.step = 0
        self.examples_seen = 0
        self.augment_p = config.augment_p
        self._ada_sum = 0.0
        self._ada_count = 0
        self.train_seconds = 0.0
        self.last_stats: dict[str, float] = {}
        self.stop_reason: str | None = None
        self.r1_boost = 0.0  # added to r1_gamma / r2_gamma by automatic recovery (see engine/health.py)
        self.r2_boost = 0.0
        self.ema_halflife_images = config.ema_halflife_images  # automatic recovery may switch it on
        self.lr_scale = {"g": 1.0, "d": 1.0}  # automatic recovery lowers them (see engine/health.py)
        self._elapsed = 0.0  # training seconds as every rank agrees on them (for the cooldown)
        self._rank_streams_restored = False  # per-rank torch streams came back from a checkpoint

    def _wrap(self, module: nn.Module) -> nn.Module:
        if not self.world.distributed:
            return module
        if self.device.type == "cuda":  # batch statistics over the global batch (CPU: per rank)
            module = nn.SyncBatchNorm.convert_sync_batchnorm(module)
        ids = [self.device.index] if self.device.type == "cuda" else None
        return DistributedDataParallel(module, device_ids=ids)

    @property
    def images_seen(self) -> int:
        """``examples_seen`` under its name before 0.2.0 (callbacks written for image runs read it)."""
        return self.examples_seen

    def _autocast(self, enabled: bool = True) -> contextlib.AbstractContextManager[Any]:
        """bf16 autocast for the forward passes when ``precision == "bf16"`` (a no-op otherwise)."""
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.amp and enabled)

    # ------------------------------------------------------------------ one step
    def _real_batch(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        n, mine = self.config.batch_size, self.world.shard(self.config.batch_size)
        if isinstance(self.data, PerRankSource) and self.data.per_rank:  # reads this rank's shard itself
            x, c = self.data.sample(n // self.world.size, self.rng)
        elif isinstance(self.data, SampledSource):  # the source chooses its own rows (training-by-sampling)
            x, c = self.data.sample(n, self.rng)
            x, c = x[mine], (c[mine] if c is not None else None)
        else:  # every rank draws the global batch's indices and reads only its slice
            idx = torch.randint(len(self.data), (n,), generator=self.rng)[mine]
            x, c = self.data.get(idx)
        x = x.to(self.device)
        if x.dim() == 4 and self.config.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return x, (c.to(self.device) if c is not None else None)

    def _mine(self, global_batch: torch.Tensor) -> torch.Tensor:
        return global_batch[self.world.shard(global_batch.shape[0])]

    def _latents(self, n: int) -> torch.Tensor:
        # Noise for the global batch (n per rank), so N ranks see exactly one process's noise.
        return self._mine(self.recipe.sample_latents(n * self.world.size, self.rng)).to(self.device)

    def _fake(self, z: torch.Tensor, c: torch.Tensor | None, G: nn.Module) -> torch.Tensor:
        with self._autocast():
            return G(z, c)

    def _augment(self, x: torch.Tensor) -> torch.Tensor:
        """The recipe's augmentation; under torchrun drawn for the global batch, so every rank's slice gets
        the transforms one process would have given it (and the shared random stream stays in step)."""
        p = self.augment_p
        if not self.world.distributed or p <= 0:
            return self.recipe.augment(x, p, self.rng)
        n, mine = x.shape[0], self.world.shard(x.shape[0] * self.world.size)
        pad = x.new_zeros((n, *x.shape[1:]))
        full = torch.cat([pad] * self.world.rank + [x] + [pad] * (self.world.size - self.world.rank - 1))
        return self.recipe.augment(full, p, self.rng)[mine]

    def _seen_by_d(self, real: torch.Tensor) -> torch.Tensor:
        """A real batch as D sees it: itself, or its embedding when G plays in a space of its own."""
        if not self.latent_game:
            return real
        with torch.no_grad(), self._autocast():
            return self.G.embed_real(real)

    def _all_finite(self, *values: float) -> bool:
        """True when every value is finite on every rank (so all ranks step, or none)."""
        return not distributed.any_rank(not all(math.isfinite(v) for v in values), self.device)

    def _d_step(
        self, real: torch.Tensor, c: torch.Tensor | None, fake: torch.Tensor | None = None
    ) -> dict[str, float]:
        """D's update on ``real`` and a generated batch (``fake``, detached here, or a fresh one)."""
        cfg = self.config
        if fake is None:
            with torch.no_grad():
                fake = self._fake(self._latents(real.shape[0]), c, self.G)
        fake = fake.detach()
        if isinstance(self.D, ReplayDiscriminator):  # a D may keep a history of fakes
            fake = self.D.replay(fake, self.rng)
        r1_gamma, r2_gamma = cfg.r1_gamma + self.r1_boost, cfg.r2_gamma + self.r2_boost
        do_reg = (r1_gamma > 0 or r2_gamma > 0) and self.step % cfg.reg_interval == 0
        real_aug = self._augment(self._seen_by_d(real)).detach().float().requires_grad_(do_reg)
        fake_aug = self._augment(fake).detach().float().requires_grad_(do_reg)
        # Steps that carry the R1/R2 penalty run D in full precision: a gradient penalty taken through
        # bf16 activations is too coarse to be the penalty the recipe asks for.
        with self._autocast(enabled=not do_reg):
            d_real, d_fake = self.D_train(real_aug, c), self.D_train(fake_aug, c)
        d_real, d_fake = d_real.float(), d_fake.float()
        loss = self.loss.d_loss(d_real, d_fake)
        total = loss
        stats = {
            "loss_d": float(loss.detach()),
            "d_real": float(d_real.detach().mean()),
            "d_fake": float(d_fake.detach().mean()),
        }
        if do_reg:
            # Lazy regularisation: a k-times stronger penalty every k steps keeps the expected strength.
            if r1_gamma > 0:
                r1 = r1_penalty(real_aug, d_real)
                total = total + r1_gamma / 2 * r1 * cfg.reg_interval
                stats["r1"] = float(r1.detach())
            if r2_gamma > 0:
                r2 = r2_penalty(fake_aug, d_fake)
                total = total + r2_gamma / 2 * r2 * cfg.reg_interval
                stats["r2"] = float(r2.detach())
        self.opt_d.zero_grad(set_to_none=True)
        total.backward()
        stats["grad_d"] = _grad_norm(list(self.D.parameters()), cfg.grad_clip)
        if self._all_finite(stats["loss_d"], stats["grad_d"]):
            self.opt_d.step()
        ada = torch.tensor([float(torch.sign(d_real.detach() - d_fake.detach()).sum()), d_real.numel()])
        if cfg.ada_target is not None and self.world.distributed:
            ada = distributed.all_reduce(ada.to(self.device)).cpu()  # the same p on every rank
        self._ada_sum += float(ada[0])
        self._ada_count += int(ada[1])
        return stats

    def _g_step(
        self, real: torch.Tensor, c: torch.Tensor | None, shared: tuple | None = None
    ) -> dict[str, float]:
        self.D.requires_grad_(False)  # G's loss must not leave gradients in D (and D's DDP sync stays idle)
        try:
            return self._g_update(real, c, shared)
        finally:
            self.D.requires_grad_(True)

    @property
    def adversarial(self) -> bool:
        """False during the warm-up in which G learns from its own terms alone (``adversarial_start``)."""
        return self.step >= self.config.adversarial_start

    def _g_update(
        self, real: torch.Tensor, c: torch.Tensor | None, shared: tuple | None = None
    ) -> dict[str, float]:
        """G's update; ``shared`` is ``(z, fake)`` when the D step already generated this step's batch."""
        if shared is None:
            z = self._latents(real.shape[0])
            fake = self._fake(z, c, self.G_train)
        else:
            z, fake = shared
        self._g_inputs = (z, c)  # G_ema's batch-norm statistics are measured on these (_update_ema)
        stats: dict[str, float] = {}
        if not self.adversarial:
            return self._g_apply(fake.new_zeros(()), fake, real, c, stats)
        fake_aug = self._augment(fake)
        fm = None
        with self._autocast():
            if isinstance(self.D, FeatureMatching):  # D's activations on fakes pulled toward those on reals
                d_fake, feats_fake = self.D.features(fake_aug, c)
                with torch.no_grad():
                    _, feats_real = self.D.features(self._augment(self._seen_by_d(real)), c)
                fm = sum((f - r).abs().float().mean() for f, r in zip(feats_fake, feats_real, strict=True))
                fm = fm * self.D.feature_matching_weight
            else:
                d_fake = self.D(fake_aug, c)
        d_fake = d_fake.float()
        if self.loss.needs_real_for_g:
            with torch.no_grad(), self._autocast():
                d_real = self.D(self._augment(self._seen_by_d(real)), c).float()
        else:
            d_real = torch.zeros_like(d_fake)
        loss = self.loss.g_loss(d_real, d_fake)
        if fm is not None:
            stats["fm"] = float(fm.detach())
            loss = loss + fm
        return self._g_apply(loss, fake, real, c, stats)

    def _g_apply(self, loss: torch.Tensor, fake: torch.Tensor, real: torch.Tensor, c: torch.Tensor | None,
                 stats: dict[str, float]) -> dict[str, float]:  # fmt: skip
        """Add the recipe's own terms to G's adversarial ``loss`` and take G's optimiser step."""
        extra = self.recipe.generator_penalty(fake, c) if isinstance(self.recipe, GeneratorPenalty) else None
        if extra is not None:  # a recipe's own term, e.g. "generate the asked-for category"
            stats["penalty_g"] = float(extra.detach())
            loss = loss + extra
        if isinstance(self.recipe, PairedLoss):  # terms that need G itself or the real batch (pixel, cycle)
            for name, term in self.recipe.paired_loss(self.G, fake, real, c).items():
                stats[name] = float(term.detach())
                loss = loss + term
        self.opt_g.zero_grad(set_to_none=True)
        loss.backward()
        grad = _grad_norm(list(self.G.parameters()), self.config.grad_clip)
        if self._all_finite(float(loss.detach()), grad):
            self.opt_g.step()
        return stats | {"loss_g": float(loss.detach()), "grad_g": grad}

    def _adapt_augment(self) -> None:
        cfg = self.config
        if cfg.ada_target is None or self.step % cfg.ada_interval != 0 or self._ada_count == 0:
            return
        r_t = self._ada_sum / self._ada_count  # +1 when D always ranks reals above fakes
        adjust = math.copysign(1.0, r_t - cfg.ada_target) * cfg.batch_size * cfg.ada_interval  # global batch
        self.augment_p = min(max(self.augment_p + adjust / (cfg.ada_kimg * 1000), 0.0), 1.0)
        self._ada_sum, self._ada_count = 0.0, 0

    def lr_factor(self) -> float:
        """The cooldown's share of the base learning rates at this step: 1 until the last
        ``lr_cooldown`` of the run, then falling linearly to 0 at its end (steps or time budget)."""
        share = self.config.lr_cooldown
        if share <= 0:
            return 1.0
        done = self.step / self.config.steps
        if self.config.max_seconds is not None:
            done = max(done, self._elapsed / self.config.max_seconds)
        return min(1.0, max(0.0, (1.0 - done) / share))

    def apply_lr(self) -> None:
        """Set both optimisers' learning rates: base x recovery scale x cooldown."""
        k = self.lr_factor()
        for opt, base, scale in (
            (self.opt_g, self.config.lr_g, self.lr_scale["g"]),
            (self.opt_d, self.config.lr_d, self.lr_scale["d"]),
        ):
            for group in opt.param_groups:
                group["lr"] = base * scale * k

    def train_step(self) -> dict[str, float]:
        """One D update and one G update; returns the step's figures."""
        if self.config.lr_cooldown:
            self.apply_lr()
        real, c = self._real_batch()
        shared = None
        if self.config.share_fake and self.adversarial:  # one generated batch for both players
            z = self._latents(real.shape[0])
            shared = (z, self._fake(z, c, self.G_train))
        stats = self._d_step(real, c, shared[1] if shared else None) if self.adversarial else {}
        stats.update(self._g_step(real, c, shared))
        stats["_elapsed"] = self.train_seconds  # averaged below: one cooldown for every rank
        stats = distributed.mean_stats(stats, self.device)  # every rank logs and judges the same figures
        self._elapsed = stats.pop("_elapsed")
        n = self.config.batch_size  # the global batch
        self.step += 1
        self.examples_seen += n
        beta = ema_beta(n, self.examples_seen, self.ema_halflife_images, self.config.ema_rampup)
        self._update_ema(beta)
        self._adapt_augment()
        stats["augment_p"] = self.augment_p
        return stats

    def _update_ema(self, beta: float) -> None:
        """Move G_ema toward G. With batch norm, G_ema keeps running statistics of its own activations
        (one forward pass on the G step's inputs) instead of G's, which belong to other weights; with
        the average off (beta 0) the two nets are the same and G's statistics are copied."""
        own = self._ema_own_norms and beta > 0 and self._g_inputs is not None
        update_ema(self.G_ema, self.G, beta, copy_norm_stats=not own)
        every = self.config.ema_stats_every
        if own and self.step % every == 0:
            with self._autocast():
                track_norm_stats(self.G_ema, *self._g_inputs, steps=every)  # type: ignore[misc]

    # ------------------------------------------------------------------ the loop
    def fit(self, resume: bool = False) -> FitResult:
        """Train until ``config.steps`` (or the time budget); Ctrl-C stops cleanly with a checkpoint."""
        if resume:
            self.load_checkpoint()
        if self.world.distributed and not self._rank_streams_restored:
            # Ops that draw from torch's global stream (dropout, Gumbel noise) differ per rank.
            torch.manual_seed(self.config.seed * 1_000_003 + self.step * 7_919 + self.world.rank)
        for cb in self.callbacks:
            cb.on_fit_start(self)
        started, stopped_by = time.perf_counter(), "steps"
        seconds_before = self.train_seconds
        window_start, window_examples = time.perf_counter(), 0
        with _deferred_interrupt() as interrupted:
            while self.step < self.config.steps:
                if distributed.any_rank(interrupted(), self.device):  # every rank stops after the same step
                    stopped_by = "interrupt"
                    break
                if self.stop_reason is not None:  # a callback (e.g. the health monitor) asked to stop
                    stopped_by = "health"
                    break
                stats = self.train_step()
                window_examples += self.config.batch_size
                if not all(math.isfinite(v) for v in stats.values()):
                    self._handle_nonfinite(stats)
                    continue
                self.train_seconds = seconds_before + time.perf_counter() - started
                if self.step % self.config.log_every == 0 or self.step == self.config.steps:
                    now = time.perf_counter()
                    stats["examples_per_s"] = window_examples / max(now - window_start, 1e-9)
                    window_start, window_examples = now, 0
                    self._log(stats)
                self.last_stats = stats
                for cb in self.callbacks:
                    cb.on_step_end(self, stats)
                if self.step % self.config.checkpoint_every == 0:
                    self.save_checkpoint()
                over_time = (
                    self.config.max_seconds is not None and self.train_seconds >= self.config.max_seconds
                )
                if distributed.any_rank(over_time, self.device):
                    stopped_by = "time"
                    break
        self.train_seconds = seconds_before + time.perf_counter() - started
        self.save_checkpoint()
        for cb in self.callbacks:
            cb.on_fit_end(self)
        return FitResult(self.step, self.examples_seen, self.train_seconds, stopped_by)

    def _handle_nonfinite(self, stats: dict[str, float]) -> None:
        for cb in self.callbacks:
            if cb.on_nonfinite(self, stats):
                return
        bad = ", ".join(k for k, v in stats.items() if not math.isfinite(v))
        saved = f"; the last checkpoint in {self.run_dir} is intact" if self.run_dir else ""
        raise TrainingError(
            f"training diverged at step {self.step} ({bad} became NaN/Inf){saved}; "
            "try lower learning rates or a stronger R1/R2 penalty"
        )

    def _log(self, stats: dict[str, float]) -> None:
        record: dict[str, Any] = {"step": self.step, "examples_seen": self.examples_seen}
        record["seconds"] = round(self.train_seconds, 3)
        record.update({k: round(v, 6) for k, v in stats.items()})
        self.log_record(record)

    def log_record(self, record: dict[str, Any]) -> None:
        """Append a record (it must carry "step") to metrics.jsonl and show it to the callbacks."""
        if self.run_dir is not None and self.world.main:
            with open(self.run_dir / "metrics.jsonl", "a") as f:
                f.write(json.dumps(record) + "\n")
        for cb in self.callbacks:
            cb.on_log(self, record)

    # ------------------------------------------------------------------ state
    def state_tensors(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        """Everything needed to continue exactly: tensors plus a JSON-ready remainder."""
        tensors: dict[str, torch.Tensor] = {}
        for name, module in (("G", self.G), ("D", self.D), ("G_ema", self.G_ema)):
            tensors.update({f"{name}.{k}": v for k, v in module.state_dict().items()})
        opt = {
            "opt_g": ckpt.flatten_state("opt_g", self.opt_g.state_dict(), tensors),
            "opt_d": ckpt.flatten_state("opt_d", self.opt_d.state_dict(), tensors),
        }
        tensors["rng.train"] = self.rng.get_state()
        tensors["rng.torch"] = torch.get_rng_state()
        state = {
            "step": self.step,
            "examples_seen": self.examples_seen,
            "augment_p": self.augment_p,
            "ada_sum": self._ada_sum,
            "ada_count": self._ada_count,
            "train_seconds": self.train_seconds,
            "lr_scale": self.lr_scale,
            "optimizers": opt,
            "config": to_json(self.config),
            "recipe": self.recipe.describe(),
            "extra": self.extra_state,
        }
        if isinstance(self.data, StatefulSource):  # a streamed source: where its stream stands (this rank's)
            state["data_stream"] = self.data.state_dict()
        return tensors, state

    def save_checkpoint(self) -> None:
        """Write a checkpoint (no-op without a run directory, and on every rank but 0)."""
        streams, torch_rngs = None, None
        if self.world.distributed:  # what differs per rank (collectives: every rank calls them)
            torch_rngs = distributed.gather_objects(torch.get_rng_state())
            if isinstance(self.data, StatefulSource):
                streams = distributed.gather_objects(self.data.state_dict())
        if self.run_dir is None or not self.world.main:
            return
        tensors, state = self.state_tensors()
        if torch_rngs is not None:  # a resume on the same number of ranks continues each rank's stream
            tensors.update({f"rng.torch.rank{r}": t for r, t in enumerate(torch_rngs)})
            state["world_size"] = self.world.size
        if streams is not None:
            state["data_streams"] = streams
        ckpt.write_checkpoint(self.run_dir, self.step, tensors, state)
        for cb in self.callbacks:
            cb.on_checkpoint(self)

    def load_checkpoint(self) -> None:
        """Restore the latest checkpoint of ``run_dir``; networks must match the recipe."""
        if self.run_dir is None:
            raise CheckpointError("cannot resume without a run directory")
        tensors, state = ckpt.read_checkpoint(self.run_dir)
        self.restore_state(tensors, state)
        self._truncate_metrics()

    def restore_state(self, tensors: dict[str, torch.Tensor], state: dict[str, Any]) -> None:
        """Put the trainer back into a state taken by :meth:`state_tensors` (a checkpoint or a snapshot)."""
        try:
            for name, module in (("G", self.G), ("D", self.D), ("G_ema", self.G_ema)):
                sd = {k[len(name) + 1 :]: v for k, v in tensors.items() if k.startswith(name + ".")}
                module.load_state_dict(sd)
            self.opt_g.load_state_dict(ckpt.unflatten_state(state["optimizers"]["opt_g"], tensors))
            self.opt_d.load_state_dict(ckpt.unflatten_state(state["optimizers"]["opt_d"], tensors))
            self.rng.set_state(tensors["rng.train"])
            torch.set_rng_state(tensors["rng.torch"])
            mine = f"rng.torch.rank{self.world.rank}"
            if self.world.distributed and state.get("world_size") == self.world.size and mine in tensors:
                torch.set_rng_state(tensors[mine])
                self._rank_streams_restored = True
        except (KeyError, RuntimeError, ValueError) as e:
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise CheckpointError(
                f"checkpoint in {self.run_dir} does not match this model: {first}"
            ) from None
        self.step, self.examples_seen = (
            int(state["step"]),
            int(state.get("examples_seen", state.get("images_seen", 0))),
        )  # older runs: examples_seen
        self.augment_p = float(state["augment_p"])
        self._ada_sum, self._ada_count = float(state["ada_sum"]), int(state["ada_count"])
        self.train_seconds = float(state.get("train_seconds", 0.0))
        self._elapsed = self.train_seconds
        self.extra_state = copy.deepcopy(dict(state.get("extra", {})))
        # The recovery's scales come back with or without the health monitor, for the cooldown to multiply.
        # A checkpoint from before the cooldown has none, and needs none: its config has no cooldown, so its
        # optimisers keep the rates they were saved with (and a monitor re-applies its own scales).
        self.lr_scale = {k: float(v) for k, v in state.get("lr_scale", {"g": 1.0, "d": 1.0}).items()}
        if isinstance(self.data, StatefulSource):  # each stream takes the state of its own rank layout
            for stream in state.get("data_streams", [state["data_stream"]] if "data_stream" in state else []):
                self.data.load_state_dict(copy.deepcopy(stream))

    def _truncate_metrics(self) -> None:
        """Drop log lines written after the checkpoint, so a resumed run's log has no duplicates."""
        path = self.run_dir / "metrics.jsonl" if self.run_dir else None
        if path is None or not path.exists() or not self.world.main:
            return
        kept = [
            ln for ln in path.read_text().splitlines() if ln.strip() and json.loads(ln)["step"] <= self.step
        ]
        atomic_write_text(path, "".join(ln + "\n" for ln in kept))
