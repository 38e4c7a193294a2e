"""Pieces shared by the image architectures: resolution ladders and class conditioning."""

from __future__ import annotations

import math

import torch
from torch import nn

from ganforge.errors import ConfigError

SUPPORTED_RESOLUTIONS = (16, 28, 32, 56, 64, 128)


def resolution_ladder(resolution: int) -> list[int]:
    """Resolutions from the 4x4 (or 7x7 for 28/56 px) base up to ``resolution``, doubling each time."""
    if resolution not in SUPPORTED_RESOLUTIONS:
        supported = ", ".join(str(r) for r in SUPPORTED_RESOLUTIONS)
        raise ConfigError(f"resolution {resolution} is not supported (choose one of: {supported})")
    base = 7 if resolution % 7 == 0 else 4
    steps = int(round(math.log2(resolution // base)))
    return [base * 2**i for i in range(steps + 1)]


def widths_for(ladder: list[int], width: int, max_width: int) -> list[int]:
    """Channel count per rung: ``width`` at full resolution, doubling per halving, capped."""
    n = len(ladder) - 1
    return [min(width * 2 ** (n - i), max_width) for i in range(n + 1)]


class ClassProjection(nn.Module):
    """Projection discriminator head (Miyato & Koyama 2018): logit += <embed(c), features>."""

    def __init__(self, num_classes: int, dim: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(num_classes, dim)
        nn.init.normal_(self.embed.weight, std=dim**-0.5)

    def forward(self, h: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        return (self.embed(c) * h).sum(1)


def join_class(z: torch.Tensor, c: torch.Tensor | None, embed: nn.Embedding | None) -> torch.Tensor:
    """Append the class embedding to the latent when the generator is conditional."""
    if embed is None:
        return z
    if c is None:
        raise ConfigError("this generator is class-conditional: pass labels")
    return torch.cat([z, embed(c)], dim=1)
