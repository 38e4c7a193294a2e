"""Networks for sequences: a recurrent generator (a GRU driven by per-step noise, its initial state set
by a per-sequence noise vector) and a temporal convolutional discriminator.

The generator can run for any number of steps, which is how sequences longer than the training window
are made: its state carries the past forward. The discriminator sees the values and their first
differences (the step-to-step changes), so dynamics as well as levels are judged.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class SeriesGenerator(nn.Module):
    """G(z) -> (n, steps, channels) on the scale of the data ([0, 1]); ``z`` is (n, 1 + steps, z_dim +
    choices): row 0 the per-sequence noise, rows 1.. the per-step noise. The output layer is linear (a
    sigmoid saturated early in training and the generator stopped learning); sampling clamps it to [0, 1].

    With ``static`` > 0 the last ``static`` channels are per-sequence attributes: a head makes them from
    the per-sequence noise, the recurrent part is driven by them (DoppelGANger's order: attributes first,
    then the series given them), and they are repeated over the steps. ``c`` (n, static) fixes some of
    them (NaN = draw it).

    ``groups`` ([start, size] of one-hot channels) are categories, drawn by the Gumbel-max trick: the
    last ``choices`` (= total group size) entries of each noise row become Gumbel noise added to the
    group's logits (row 0 for attributes, the step's row for features). Training takes the softmax at
    temperature ``tau`` (a differentiable, nearly one-hot draw; passing the exact one-hot straight through
    instead learned the attributes' mix worse in the panel test); evaluation takes the one-hot argmax: the
    same draw, exactly, and seeded like the rest of the noise."""

    def __init__(
        self, z_dim: int, channels: int, hidden: int, layers: int, static: int = 0,
        groups: list[list[int]] | None = None, tau: float = 0.2,
    ) -> None:  # fmt: skip
        super().__init__()
        self.layers, self.hidden, self.static, self.tau, self.z_dim = layers, hidden, static, tau, z_dim
        self.groups = [tuple(g) for g in groups or []]
        self.varying = channels - static
        self.init = nn.Linear(z_dim + static, hidden * layers)
        self.gru = nn.GRU(2 * z_dim + static, hidden, num_layers=layers, batch_first=True)
        self.out = nn.Sequential(
            nn.Linear(hidden, hidden), nn.LeakyReLU(0.2), nn.Linear(hidden, self.varying)
        )
        if static:
            self.attributes = nn.Sequential(
                nn.Linear(z_dim, hidden), nn.LeakyReLU(0.2), nn.Linear(hidden, hidden), nn.LeakyReLU(0.2),
                nn.Linear(hidden, static),
            )  # fmt: skip

    def _choose(self, x: torch.Tensor, offset: int, noise: torch.Tensor) -> torch.Tensor:
        """Draw the one-hot groups that fall in channels offset... (see the class notes); the other
        channels stay linear. ``noise`` holds the group noise of every group, in group order."""
        parts, at, used = [], 0, 0
        for s, n in self.groups:
            if not offset <= s < offset + x.shape[-1]:
                used += n
                continue
            s -= offset
            parts.append(x[..., at:s])
            u = torch.special.ndtr(noise[..., used : used + n]).clamp(1e-10, 1 - 1e-7)
            y = x[..., s : s + n] - torch.log(-torch.log(u))
            if self.training:
                parts.append(torch.softmax(y / self.tau, dim=-1))
            else:
                parts.append(F.one_hot(y.argmax(dim=-1), n).to(x.dtype))
            at, used = s + n, used + n
        parts.append(x[..., at:])
        return torch.cat(parts, dim=-1) if len(parts) > 1 else x

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        z, noise = z[..., : self.z_dim], z[..., self.z_dim :]
        glob, steps = z[:, 0], z[:, 1:]
        if self.static:
            attrs = self._choose(self.attributes(glob), self.varying, noise[:, 0])
            if c is not None:
                attrs = torch.where(torch.isnan(c), attrs, c.to(attrs.dtype))
            glob = torch.cat([glob, attrs], dim=1)
        h0 = torch.tanh(self.init(glob)).view(-1, self.layers, self.hidden).transpose(0, 1).contiguous()
        inputs = torch.cat([steps, z[:, :1, : self.z_dim].expand(-1, steps.shape[1], -1)], dim=2)
        if self.static:
            inputs = torch.cat([inputs, attrs[:, None].expand(-1, steps.shape[1], -1)], dim=2)
        h, _ = self.gru(inputs, h0)
        x = self._choose(self.out(h), 0, noise[:, 1:])
        if self.static:
            x = torch.cat([x, attrs[:, None].expand(-1, x.shape[1], -1)], dim=2)
        return x


class SeriesDiscriminator(nn.Module):
    """D(x) -> one logit per sequence of ``steps`` steps: 1-D convolutions over time on the values and
    their first differences, then a linear layer on the flattened features; with ``static`` attribute
    channels (the last ones, constant over time), plus the logit of a small network on the attributes
    alone, so their mix is judged directly and not only through the series."""

    def __init__(self, channels: int, steps: int, width: int, pac: int = 1, static: int = 0) -> None:
        super().__init__()
        self.pac, self.static = pac, static
        if static:  # the attributes judged on their own too (DoppelGANger's auxiliary discriminator)
            self.attributes = nn.Sequential(
                nn.Linear(static * pac, width), nn.LeakyReLU(0.2), nn.Linear(width, width), nn.LeakyReLU(0.2),
                nn.Linear(width, 1),
            )  # fmt: skip
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
        logit = self.head(torch.cat([h, minibatch_std(h)], dim=1).flatten(1)).squeeze(1)
        if self.static:
            attrs = x[:, 0, x.shape[2] - self.static :].reshape(-1, self.pac * self.static)
            logit = logit + self.attributes(attrs).squeeze(1)
        return logit


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
