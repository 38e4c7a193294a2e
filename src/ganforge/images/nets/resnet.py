"""A modern residual GAN in the spirit of R3GAN (Huang et al. 2024): no normalisation layers,
bottlenecked grouped-convolution residual blocks whose last layer starts at zero, bilinear resampling.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ganforge.images.nets.common import ClassProjection, join_class, resolution_ladder, widths_for


class ResidualBlock(nn.Module):
    """x + conv1x1(act(grouped conv3x3(act(conv1x1(x))))); starts as the identity.

    Groups hold ``group_size`` channels each: dense at the narrow full-resolution stages (fast on CPUs,
    where grouped convolutions reach a fraction of dense FLOP/s), grouped where the net is wide.
    """

    def __init__(self, channels: int, expansion: int = 1, group_size: int = 32) -> None:
        super().__init__()
        hidden = channels * expansion
        groups = max(1, hidden // group_size)
        self.expand = nn.Conv2d(channels, hidden, 1)
        self.spatial = nn.Conv2d(hidden, hidden, 3, 1, 1, groups=groups)
        self.project = nn.Conv2d(hidden, channels, 1, bias=False)
        nn.init.zeros_(self.project.weight)  # identity at init keeps early training stable without norms

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.leaky_relu(self.expand(x), 0.2)
        h = F.leaky_relu(self.spatial(h), 0.2)
        return x + self.project(h)


class Transition(nn.Module):
    """Change resolution (x2 up or /2 down, bilinear/average) and channel count (1x1 conv)."""

    def __init__(self, c_in: int, c_out: int, up: bool) -> None:
        super().__init__()
        self.up = up
        self.conv = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.up:
            return self.conv(F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False))
        return F.avg_pool2d(self.conv(x), 2)


class ResNetGenerator(nn.Module):
    def __init__(
        self,
        z_dim: int,
        resolution: int,
        channels: int,
        num_classes: int = 0,
        width: int = 32,
        max_width: int = 256,
        blocks: int = 1,
    ) -> None:
        super().__init__()
        ladder = resolution_ladder(resolution)
        widths = widths_for(ladder, width, max_width)
        self.base, self.c0 = ladder[0], widths[0]
        self.embed = nn.Embedding(num_classes, z_dim) if num_classes else None
        in_dim = z_dim * (2 if num_classes else 1)
        self.basis = nn.Linear(in_dim, widths[0] * self.base**2)
        stages: list[nn.Module] = []
        for i, w in enumerate(widths):
            stages += [ResidualBlock(w) for _ in range(blocks)]
            if i + 1 < len(widths):
                stages.append(Transition(w, widths[i + 1], up=True))
        self.stages = nn.Sequential(*stages)
        self.to_image = nn.Conv2d(widths[-1], channels, 1)

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        h = self.basis(join_class(z, c, self.embed)).view(z.shape[0], self.c0, self.base, self.base)
        return self.to_image(self.stages(F.leaky_relu(h, 0.2)))


class ResNetDiscriminator(nn.Module):
    def __init__(
        self,
        resolution: int,
        channels: int,
        num_classes: int = 0,
        width: int = 32,
        max_width: int = 256,
        blocks: int = 1,
    ) -> None:
        super().__init__()
        ladder = resolution_ladder(resolution)
        widths = widths_for(ladder, width, max_width)[::-1]  # full resolution first
        self.from_image = nn.Conv2d(channels, widths[0], 1)
        stages: list[nn.Module] = []
        for i, w in enumerate(widths):
            stages += [ResidualBlock(w) for _ in range(blocks)]
            if i + 1 < len(widths):
                stages.append(Transition(w, widths[i + 1], up=False))
        self.stages = nn.Sequential(*stages)
        c_last, base = widths[-1], ladder[0]
        # A full-size depthwise conv collapses the base grid to one vector, as R3GAN's basis layer does.
        self.collapse = nn.Conv2d(c_last, c_last, base, groups=c_last, bias=False)
        self.fc = nn.Linear(c_last, 1)
        self.project = ClassProjection(num_classes, c_last) if num_classes else None

    def forward(self, x: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        h = self.stages(self.from_image(x))
        h = F.leaky_relu(self.collapse(h).flatten(1), 0.2)
        out = self.fc(h).squeeze(1)
        if self.project is not None and c is not None:
            out = out + self.project(h, c)
        return out
