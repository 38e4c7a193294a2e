"""Configuration as data: dataclasses that validate once and round-trip through JSON."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, TypeVar

from ganforge.errors import ConfigError

SEED_MAX = 2**63 - 1  # seeds torch and numpy both take; the CLI and the HTTP API accept 0..SEED_MAX

T = TypeVar("T")


def from_dict(cls: type[T], data: dict[str, Any], *, what: str) -> T:
    """Build dataclass ``cls`` from ``data``, naming unknown keys instead of failing with a TypeError."""
    known = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(f"unknown {what} option(s): {', '.join(unknown)}")
    kwargs = dict(data)
    for f in fields(cls):  # type: ignore[arg-type]
        # JSON has no tuples; restore them so a loaded config equals the saved one.
        if f.name in kwargs and isinstance(kwargs[f.name], list) and "tuple" in str(f.type):
            kwargs[f.name] = tuple(kwargs[f.name])
    return cls(**kwargs)


@dataclass
class TrainConfig:
    """Everything the adversarial Trainer needs; nothing here knows what the data is."""

    steps: int = 2000  # generator updates; images seen = steps * batch_size
    batch_size: int = 64
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    betas: tuple[float, float] = (0.0, 0.99)
    loss: str = "rpgan"  # ns | hinge | rpgan | wgan | lsgan
    r1_gamma: float = 0.0  # weight of the R1 penalty on reals (the loss adds gamma/2 * R1)
    r2_gamma: float = 0.0  # weight of the R2 penalty on fakes
    reg_interval: int = 1  # lazy regularisation: apply R1/R2 every k D steps, scaled by k
    ema_halflife_images: float = 10_000.0  # EMA of generator weights; 0 disables
    ema_rampup: float = 0.05  # half-life grows with images seen early in training
    # With batch norm in G, G_ema's running statistics are re-measured by a forward pass every this many
    # steps (the layers' momentum raised to make up for the skipped steps): one generator pass fewer.
    ema_stats_every: int = 1
    # One generated batch per step for both players: D learns on it (detached), then G's loss runs it
    # through the updated D. Saves the D step's own generator pass; off: D draws a fresh batch.
    share_fake: bool = False
    augment_p: float = 0.0  # initial augmentation probability
    ada_target: float | None = None  # adapt p so E[sign(D(real) - D(fake))] stays near this
    ada_interval: int = 4
    ada_kimg: float = 20.0  # p can move by 1.0 within this many thousand images
    grad_clip: float | None = 100.0  # guard against exploding gradients (max global norm)
    # Steps in which G learns from its own terms alone (a recipe's PairedLoss / GeneratorPenalty) before D
    # is trained and the adversarial loss joins: reconstruction-first warm-up, as GAN vocoders train.
    adversarial_start: int = 0
    checkpoint_every: int = 500  # steps between checkpoints (also at the end and on Ctrl-C)
    log_every: int = 10
    max_seconds: float | None = None  # stop (cleanly, with a checkpoint) after this much training time
    # Share of the run, at its end, over which both learning rates fall linearly to zero (the run's end:
    # `steps` or `max_seconds`, whichever it is nearer to); 0 keeps them constant.
    lr_cooldown: float = 0.0
    seed: int = 0
    device: str = "cpu"
    precision: str = "fp32"  # fp32 | bf16 (autocast of the forward passes; R1/R2 steps stay fp32)
    channels_last: bool = False  # NHWC memory layout for convolutional nets (faster on recent GPUs)

    def __post_init__(self) -> None:
        if self.steps < 1:
            raise ConfigError(f"steps must be >= 1 (got {self.steps})")
        if self.batch_size < 2:
            raise ConfigError(f"batch size must be >= 2 (got {self.batch_size})")
        if self.lr_g < 0 or self.lr_d < 0:
            raise ConfigError("learning rates must be >= 0")
        if self.adversarial_start < 0:
            raise ConfigError(f"adversarial_start must be >= 0 (got {self.adversarial_start})")
        intervals = (
            self.reg_interval,
            self.ada_interval,
            self.checkpoint_every,
            self.log_every,
            self.ema_stats_every,
        )
        if min(intervals) < 1:
            raise ConfigError("intervals must be >= 1")
        if not 0.0 <= self.augment_p <= 1.0:
            raise ConfigError(f"augment_p must be in [0, 1] (got {self.augment_p})")
        if self.ada_target is not None and not 0.0 < self.ada_target < 1.0:
            raise ConfigError(f"ada_target must be in (0, 1) (got {self.ada_target})")
        if self.max_seconds is not None and self.max_seconds <= 0:
            raise ConfigError("max_seconds must be > 0")
        if not 0.0 <= self.lr_cooldown < 1.0:
            raise ConfigError(f"lr_cooldown must be in [0, 1) (got {self.lr_cooldown})")
        if self.precision not in ("fp32", "bf16"):
            raise ConfigError(f"precision must be fp32 or bf16 (got {self.precision!r})")
        from ganforge.core.losses import get_loss

        get_loss(self.loss)


def to_json(obj: Any) -> dict[str, Any]:
    """A dataclass as a JSON-ready dict."""
    if not dataclasses.is_dataclass(obj):
        raise TypeError(f"{obj!r} is not a dataclass")
    return asdict(obj)  # type: ignore[arg-type]


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write JSON atomically (temp file + rename) so a crash never leaves half a config."""
    from ganforge.core.io import atomic_write_json

    atomic_write_json(path, data)


def read_json(path: Path, *, what: str) -> dict[str, Any]:
    """Read a JSON object, turning a missing or malformed file into a one-line CheckpointError."""
    from ganforge.errors import CheckpointError

    try:
        data = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise CheckpointError(f"{what} not found: {path}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{what} is not valid JSON ({path}): {e}") from None
    if not isinstance(data, dict):
        raise CheckpointError(f"{what} must hold a JSON object: {path}")
    return data


__all__ = ["TrainConfig", "from_dict", "to_json", "write_json", "read_json"]
