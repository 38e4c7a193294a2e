"""ESRGAN-class super-resolution generator, sized for CPUs: residual-in-residual dense blocks (RRDB).

Differences from the published ESRGAN, to train in minutes on a CPU: fewer and narrower blocks, four
convolutions per dense block instead of five, and the network predicts a residual over bicubic
upsampling of its input (its last layer starts small, so an untrained model is close to bicubic).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class DenseBlock(nn.Module):
    """Densely connected 3x3 convolutions; the output is added back, scaled by ``beta``."""

    def __init__(self, width: int, growth: int, layers: int = 4, beta: float = 0.2) -> None:
        super().__init__()
        self.beta = beta
        self.convs = nn.ModuleList(
            nn.Conv2d(width + i * growth, growth, 3, padding=1) for i in range(layers - 1)
        )
        self.out = nn.Conv2d(width + (layers - 1) * growth, width, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats = [x]
        for conv in self.convs:
            feats.append(F.leaky_relu(conv(torch.cat(feats, 1)), 0.2))
        return x + self.beta * self.out(torch.cat(feats, 1))


class RRDB(nn.Module):
    """Three dense blocks inside one more residual connection (residual-in-residual)."""

    def __init__(self, width: int, growth: int, beta: float = 0.2) -> None:
        super().__init__()
        self.beta = beta
        self.blocks = nn.Sequential(*(DenseBlock(width, growth) for _ in range(3)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.beta * self.blocks(x)


class SRGenerator(nn.Module):
    """G(z, lr) -> image ``scale`` times larger, in [-1, 1]; ``z`` is ignored (zero-width noise)."""

    def __init__(
        self, scale: int, channels: int = 3, width: int = 32, blocks: int = 2, growth: int = 16
    ) -> None:
        super().__init__()
        self.scale = scale
        self.head = nn.Conv2d(channels, width, 3, padding=1)
        self.trunk = nn.Sequential(*(RRDB(width, growth) for _ in range(blocks)))
        self.trunk_out = nn.Conv2d(width, width, 3, padding=1)
        ups: list[nn.Module] = []
        for factor in {1: [], 2: [2], 3: [3], 4: [2, 2]}[scale]:
            ups += [nn.Conv2d(width, width * factor * factor, 3, padding=1), nn.PixelShuffle(factor),
                    nn.LeakyReLU(0.2)]  # fmt: skip
        self.upsample = nn.Sequential(*ups)
        self.refine = nn.Conv2d(width, width, 3, padding=1)
        self.tail = nn.Conv2d(width, channels, 3, padding=1)
        with torch.no_grad():  # start close to plain bicubic upsampling, with gradients flowing
            self.tail.weight.mul_(0.1)
            self.tail.bias.zero_()

    def forward(self, z: torch.Tensor | None, lr: torch.Tensor) -> torch.Tensor:
        feat = self.head(lr)
        feat = feat + self.trunk_out(self.trunk(feat))
        out = self.tail(F.leaky_relu(self.refine(self.upsample(feat)), 0.2))
        base = lr if self.scale == 1 else F.interpolate(lr, scale_factor=self.scale, mode="bicubic")
        return base + out

    @property
    def context(self) -> int:
        """Low-resolution pixels of context each output pixel depends on (one per 3x3 convolution)."""
        return sum(1 for m in self.modules() if isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3))
