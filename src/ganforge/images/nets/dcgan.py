"""DCGAN (Radford et al. 2016): transposed convolutions with batch norm in G, strided convs in D.

Kept as the plain baseline that the modern residual architecture is measured against.
"""

from __future__ import annotations

import torch
from torch import nn

from ganforge.images.nets.common import ClassProjection, join_class, resolution_ladder, widths_for


class DCGANGenerator(nn.Module):
    def __init__(
        self,
        z_dim: int,
        resolution: int,
        channels: int,
        num_classes: int = 0,
        width: int = 32,
        max_width: int = 256,
    ) -> None:
        super().__init__()
        ladder = resolution_ladder(resolution)
        widths = widths_for(ladder, width, max_width)
        self.base, self.c0 = ladder[0], widths[0]
        self.embed = nn.Embedding(num_classes, z_dim) if num_classes else None
        in_dim = z_dim * (2 if num_classes else 1)
        self.fc = nn.Sequential(
            nn.Linear(in_dim, widths[0] * self.base**2), nn.BatchNorm1d(widths[0] * self.base**2)
        )
        layers: list[nn.Module] = [nn.ReLU()]
        for c_in, c_out in zip(widths[:-1], widths[1:], strict=True):
            layers += [nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()]
        layers += [nn.Conv2d(widths[-1], channels, 3, 1, 1), nn.Tanh()]
        self.body = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        h = self.fc(join_class(z, c, self.embed)).view(z.shape[0], self.c0, self.base, self.base)
        return self.body(h)


class DCGANDiscriminator(nn.Module):
    def __init__(
        self, resolution: int, channels: int, num_classes: int = 0, width: int = 32, max_width: int = 256
    ) -> None:
        super().__init__()
        ladder = resolution_ladder(resolution)
        widths = widths_for(ladder, width, max_width)[::-1]  # full resolution first
        layers: list[nn.Module] = [nn.Conv2d(channels, widths[0], 3, 1, 1), nn.LeakyReLU(0.2)]
        for c_in, c_out in zip(widths[:-1], widths[1:], strict=True):
            layers += [nn.Conv2d(c_in, c_out, 4, 2, 1), nn.LeakyReLU(0.2)]
        self.body = nn.Sequential(*layers)
        feat = widths[-1] * ladder[0] ** 2
        self.fc = nn.Linear(feat, 1)
        self.project = ClassProjection(num_classes, feat) if num_classes else None

    def forward(self, x: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        h = self.body(x).flatten(1)
        out = self.fc(h).squeeze(1)
        if self.project is not None and c is not None:
            out = out + self.project(h, c)
        return out
