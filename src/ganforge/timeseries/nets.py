"""Networks for sequences: a recurrent generator (a GRU driven by per-step noise, its initial state set
by a per-sequence noise vector) and a temporal convolutional discriminator.

The generator can run for any number of steps, which is how sequences longer than the training window
are made: its state carries the past forward. The discriminator sees the values and their first
differences (the step-to-step changes), so dynamics as well as levels are judged.
"""

from __future__ import annotations

import torch
from torch import nn


class SeriesGenerator(nn.Module):
    """G(z) -> (n, steps, channels) on the scale of the data ([0, 1]); ``z`` is (n, 1 + steps, z_dim):
    row 0 the per-sequence noise, rows 1.. the per-step noise. The output layer is linear (a sigmoid
    saturated early in training and the generator stopped learning); sampling clamps it to [0, 1]."""

    def __init__(self, z_dim: int, channels: int, hidden: int, layers: int) -> None:
        super().__init__()
        self.layers, self.hidden = layers, hidden
        self.init = nn.Linear(z_dim, hidden * layers)
        self.gru = nn.GRU(2 * z_dim, hidden, num_layers=layers, batch_first=True)
        self.out = nn.Sequential(nn.Linear(hidden, hidden), nn.LeakyReLU(0.2), nn.Linear(hidden, channels))

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        glob, steps = z[:, 0], z[:, 1:]
        h0 = torch.tanh(self.init(glob)).view(-1, self.layers, self.hidden).transpose(0, 1).contiguous()
        inputs = torch.cat([steps, glob[:, None].expand(-1, steps.shape[1], -1)], dim=2)
        h, _ = self.gru(inputs, h0)
        return self.out(h)


class SeriesDiscriminator(nn.Module):
    """D(x) -> one logit per sequence of ``steps`` steps: 1-D convolutions over time on the values and
    their first differences, then a linear layer on the flattened features."""

    def __init__(self, channels: int, steps: int, width: int, pac: int = 1) -> None:
        super().__init__()
        self.pac = pac
        self.net = nn.Sequential(
            nn.Conv1d(2 * channels * pac, width, 5, padding=2),
            nn.LeakyReLU(0.2),
            nn.Conv1d(width, 2 * width, 5, padding=2, stride=2),
            nn.LeakyReLU(0.2),
            nn.Conv1d(2 * width, 2 * width, 3, padding=1, stride=2),
            nn.LeakyReLU(0.2),
        )
        after = (steps - 1) // 2 + 1  # the two stride-2 convolutions
        after = (after - 1) // 2 + 1
        self.head = nn.Linear((2 * width + 1) * after, 1)

    def forward(self, x: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        if x.shape[0] % self.pac:
            raise ValueError(f"batch of {x.shape[0]} sequences is not a multiple of pac={self.pac}")
        diff = torch.diff(x, dim=1, prepend=x[:, :1])
        both = torch.cat([x, diff], dim=2)  # (n, steps, 2c) -> packs of pac sequences side by side
        both = both.view(-1, self.pac, *both.shape[1:]).permute(0, 2, 1, 3).flatten(2)
        h = self.net(both.transpose(1, 2))
        return self.head(torch.cat([h, minibatch_std(h)], dim=1).flatten(1)).squeeze(1)


def minibatch_std(h: torch.Tensor, group: int = 4) -> torch.Tensor:
    """One extra channel: how much the sequences of a group of ``group`` differ, feature by feature,
    averaged (as StyleGAN's discriminator does for images). Batches of identical sequences -- a collapsed
    generator -- are then easy to tell from real ones."""
    n, c, t = h.shape
    g = (
        group
        if n % group == 0
        else 1
        if n < 2
        else next(k for k in range(min(group, n), 0, -1) if n % k == 0)
    )
    if g < 2:
        return torch.zeros(n, 1, t, dtype=h.dtype, device=h.device)
    y = h.view(g, n // g, c, t)
    std = torch.sqrt(y.var(dim=0, unbiased=False) + 1e-8).mean(dim=1, keepdim=True)  # (n // g, 1, t)
    return std.repeat(g, 1, 1)
