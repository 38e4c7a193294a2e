"""Image-to-image networks: a U-Net generator (pix2pix, CycleGAN) and a PatchGAN discriminator."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _norm(channels: int) -> nn.Module:
    return nn.InstanceNorm2d(channels, affine=True)


class UNetGenerator(nn.Module):
    """G(z, x) -> image: an encoder-decoder with skip connections; ``z`` is ignored.

    Any input size works: the input is padded (reflect) to a multiple of 2**depth and the output cropped.
    Output in [-1, 1] (tanh).
    """

    def __init__(
        self, in_channels: int, out_channels: int, width: int = 32, depth: int = 4, max_width: int = 256,
        dropout: float = 0.0,
    ) -> None:  # fmt: skip
        super().__init__()
        self.depth = depth
        widths = [min(width * 2**i, max_width) for i in range(depth + 1)]
        self.stem = nn.Conv2d(in_channels, widths[0], 3, padding=1)
        self.down = nn.ModuleList(
            nn.Sequential(
                nn.LeakyReLU(0.2),
                nn.Conv2d(widths[i], widths[i + 1], 4, 2, 1),
                _norm(widths[i + 1]) if i < depth - 1 else nn.Identity(),
            )  # fmt: skip
            for i in range(depth)
        )
        self.up = nn.ModuleList(
            nn.Sequential(
                nn.ReLU(),
                nn.ConvTranspose2d(widths[i + 1] * (1 if i == depth - 1 else 2), widths[i], 4, 2, 1),
                _norm(widths[i]),
                nn.Dropout(dropout) if dropout and i >= depth - 2 else nn.Identity(),
            )  # fmt: skip
            for i in range(depth)
        )
        self.head = nn.Sequential(nn.ReLU(), nn.Conv2d(widths[0] * 2, out_channels, 3, padding=1), nn.Tanh())

    def forward(self, z: torch.Tensor | None, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        m = 2**self.depth
        ph, pw = (-h) % m, (-w) % m
        if ph or pw:
            x = F.pad(x, (0, pw, 0, ph), mode="reflect" if min(h, w) > max(ph, pw) else "replicate")
        skips = [self.stem(x)]
        for down in self.down:
            skips.append(down(skips[-1]))
        y = skips.pop()
        for i in reversed(range(self.depth)):
            y = self.up[i](y if i == self.depth - 1 else torch.cat([y, skips[i + 1]], 1))
        y = self.head(torch.cat([y, skips[0]], 1))
        return y[..., :h, :w]


class PatchDiscriminator(nn.Module):
    """D(x) -> one logit per overlapping patch, shape (N, P); ``layers`` stride-2 convolutions."""

    def __init__(self, in_channels: int, width: int = 32, layers: int = 3, max_width: int = 256) -> None:
        super().__init__()
        mods: list[nn.Module] = [nn.Conv2d(in_channels, width, 4, 2, 1), nn.LeakyReLU(0.2)]
        cin = width
        for i in range(1, layers + 1):
            cout = min(width * 2**i, max_width)
            stride = 2 if i < layers else 1
            mods += [nn.Conv2d(cin, cout, 4, stride, 1), _norm(cout), nn.LeakyReLU(0.2)]
            cin = cout
        mods.append(nn.Conv2d(cin, 1, 4, 1, 1))
        self.net = nn.Sequential(*mods)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).flatten(1)
