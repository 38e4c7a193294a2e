"""The audio recipes on the one Trainer: ``wave`` (a waveform GAN) and ``spec`` (a log-mel spectrogram GAN
whose spectrograms become sound by Griffin-Lim). Both train on clips padded to a multiple of 4,096
samples (16,384 for one second at 16 kHz) and cut back to the asked length on generation."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ganforge.audio.nets import SpecDiscriminator, SpecGenerator, WaveDiscriminator, WaveGenerator
from ganforge.audio.spectral import LOG_FLOOR, MelSpec
from ganforge.errors import ConfigError

ARCHS = ("spec", "wave")
BLOCK = 4096  # net lengths are multiples of this: 1,024 per waveform step, 16 spectrogram frames of 256


@dataclass
class AudioRecipe:
    """Everything needed to rebuild the networks and turn their output into sound."""

    arch: str = "spec"
    sample_rate: int = 16000
    length: int = 16000  # samples per clip (the user's seconds x sample rate)
    num_classes: int = 0
    class_names: list[str] = field(default_factory=list)
    z_dim: int = 100
    width: int = 16
    n_mels: int = 64
    hop: int = 256
    n_fft: int = 1024
    log_high: float = 4.0  # the top of the log-mel range mapped to +1 (set from the data)
    griffin_lim_iters: int = 32

    def __post_init__(self) -> None:
        if self.arch not in ARCHS:
            raise ConfigError(f"--arch must be one of {', '.join(ARCHS)} (got {self.arch!r})")
        if self.length < BLOCK // 4:
            raise ConfigError(f"clips must hold at least {BLOCK // 4} samples (got {self.length})")
        if self.width < 1 or self.z_dim < 1:
            raise ConfigError("width and z_dim must be >= 1")

    # ------------------------------------------------------------------ shapes
    @property
    def net_length(self) -> int:
        return BLOCK * math.ceil(self.length / BLOCK)

    @property
    def frames(self) -> int:
        return self.net_length // self.hop

    @property
    def mel(self) -> MelSpec:
        return MelSpec(self.sample_rate, self.n_fft, self.hop, self.n_mels)

    # ------------------------------------------------------------------ networks
    def build_generator(self) -> torch.nn.Module:
        if self.arch == "wave":
            return WaveGenerator(self.z_dim, self.net_length // 1024, self.width, self.num_classes)
        return SpecGenerator(self.z_dim, self.n_mels, self.frames, self.width, self.num_classes)

    def build_discriminator(self) -> torch.nn.Module:
        if self.arch == "wave":
            return WaveDiscriminator(self.net_length // 1024, self.width, self.num_classes)
        return SpecDiscriminator(self.n_mels, self.frames, self.width, self.num_classes)

    def sample_latents(self, n: int, rng: torch.Generator) -> torch.Tensor:
        return torch.randn(n, self.z_dim, generator=rng)

    def augment(self, x: torch.Tensor, p: float, rng: torch.Generator) -> torch.Tensor:
        return x

    def describe(self) -> dict[str, Any]:
        return {"name": f"audio-{self.arch}", "sample_rate": self.sample_rate, "length": self.length,
                "classes": self.num_classes, "width": self.width, "z_dim": self.z_dim}  # fmt: skip

    # ------------------------------------------------------------------ data <-> network space
    def encode(self, clips: np.ndarray, batch: int = 512) -> torch.Tensor:
        """Clips (n, length) -> what D sees: padded waveforms (n, 1, net_length) or normalised log-mel
        spectrograms (n, 1, mels, frames) in [-1, 1]."""
        x = torch.from_numpy(np.ascontiguousarray(clips, dtype=np.float32))
        x = torch.nn.functional.pad(x, (0, self.net_length - x.shape[1]))
        if self.arch == "wave":
            return x[:, None]
        mel = self.mel
        return torch.cat(
            [self.scale(mel.log_mel(x[i : i + batch]))[:, None] for i in range(0, len(x), batch)]
        )

    def scale(self, log_mel: torch.Tensor) -> torch.Tensor:
        low = math.log(LOG_FLOOR)
        return (2 * (log_mel - low) / (self.log_high - low) - 1).clamp(-1.0, 1.0)

    def unscale(self, x: torch.Tensor) -> torch.Tensor:
        low = math.log(LOG_FLOOR)
        return (x.clamp(-1.0, 1.0) + 1) / 2 * (self.log_high - low) + low

    def decode(self, out: torch.Tensor) -> np.ndarray:
        """The generator's output -> clips (n, length) float32 in [-1, 1]."""
        if self.arch == "wave":
            clips = out[:, 0, : self.length]
        else:
            clips = self.mel.invert(self.unscale(out[:, 0].float()), self.net_length, self.griffin_lim_iters)
            clips = clips[:, : self.length]
        return clips.float().clamp(-1.0, 1.0).cpu().numpy()


class ClipSource:
    """A BatchSource over encoded clips held in memory (+ integer labels when conditional)."""

    def __init__(self, x: torch.Tensor, labels: np.ndarray | None) -> None:
        self.x = x
        self.labels = torch.from_numpy(labels.astype(np.int64)) if labels is not None else None

    def __len__(self) -> int:
        return self.x.shape[0]

    def get(self, indices: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        return self.x[indices], (self.labels[indices] if self.labels is not None else None)
