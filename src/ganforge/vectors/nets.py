"""Multi-layer perceptrons for vector data (toy distributions, points, embeddings)."""

from __future__ import annotations

import torch
from torch import nn


class MLPGenerator(nn.Module):
    """z (+ optional condition vector) -> data vector."""

    def __init__(
        self, z_dim: int, out_dim: int, hidden: int = 128, depth: int = 3, cond_dim: int = 0
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = z_dim + cond_dim
        for _ in range(depth):
            layers += [nn.Linear(width, hidden), nn.LeakyReLU(0.2)]
            width = hidden
        layers.append(nn.Linear(width, out_dim))
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(z if c is None else torch.cat([z, c], dim=1))


class MLPDiscriminator(nn.Module):
    """data vector (+ optional condition vector) -> one logit."""

    def __init__(self, in_dim: int, hidden: int = 128, depth: int = 3, cond_dim: int = 0) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = in_dim + cond_dim
        for _ in range(depth):
            layers += [nn.Linear(width, hidden), nn.LeakyReLU(0.2)]
            width = hidden
        layers.append(nn.Linear(width, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(x if c is None else torch.cat([x, c], dim=1)).squeeze(1)
