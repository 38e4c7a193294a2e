"""The sequence recipe: a recurrent generator against a convolutional discriminator on fixed-length
windows, trained on the one Trainer with its loss (non-saturating with R1 by default)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from ganforge.timeseries.nets import SeriesDiscriminator, SeriesGenerator


@dataclass
class SeriesRecipe:
    """Everything needed to rebuild the networks (``channels`` comes from the data)."""

    channels: int = 1
    window: int = 24
    z_dim: int = 16
    hidden: int = 64
    layers: int = 2
    d_width: int = 64
    pac: int = 4  # sequences the discriminator judges together (PacGAN): a collapsed generator shows
    static: int = 0  # the last channels are per-sequence attributes (panels)
    groups: list[list[int]] = field(default_factory=list)  # [start, size] of one-hot channels
    rollout: int = 0  # steps G runs in training (0: the window); D judges a random window of them
    style: str = "direct"  # "timegan": TimeGANRecipe (timegan.py)

    def build_generator(self) -> SeriesGenerator:
        return SeriesGenerator(self.z_dim, self.channels, self.hidden, self.layers, self.static, self.groups)

    def build_discriminator(self) -> SeriesDiscriminator:
        return SeriesDiscriminator(self.channels, self.window, self.d_width, self.pac, self.static)

    def latents(self, n: int, steps: int, rng: torch.Generator) -> torch.Tensor:
        """(n, 1 + steps, z_dim + choices): per-sequence noise, then per-step noise; the last ``choices``
        entries of each row draw the categories (see SeriesGenerator)."""
        return torch.randn(n, 1 + steps, self.z_dim + sum(size for _, size in self.groups), generator=rng)

    def sample_latents(self, n: int, rng: torch.Generator) -> torch.Tensor:
        return self.latents(n, max(self.rollout, self.window), rng)

    def augment(self, x: torch.Tensor, p: float, rng: torch.Generator) -> torch.Tensor:
        """Real and generated sequences of ``rollout`` steps -> a window of ``window`` steps of each, at a
        random offset: G learns to stay true to the data at every step up to the rollout, not only in its
        first window (how sampled sequences longer than the window stay on course)."""
        n, steps = x.shape[0], x.shape[1]
        if steps <= self.window:
            return x
        start = torch.randint(0, steps - self.window + 1, (n,), generator=rng).to(x.device)
        index = start[:, None] + torch.arange(self.window, device=x.device)
        return torch.gather(x, 1, index[:, :, None].expand(-1, -1, x.shape[2]))

    def describe(self) -> dict[str, Any]:
        return {"name": "series", "channels": self.channels, "window": self.window, "z_dim": self.z_dim,
                "generator": f"GRU {self.layers} x {self.hidden}", "discriminator": f"conv1d {self.d_width}"}  # fmt: skip


class WindowSource:
    """A BatchSource over (n, window, channels) windows held in memory."""

    def __init__(self, x: torch.Tensor) -> None:
        self.x = x

    def __len__(self) -> int:
        return self.x.shape[0]

    def get(self, indices: torch.Tensor) -> tuple[torch.Tensor, None]:
        return self.x[indices], None
