"""The sequence recipe: a recurrent generator against a convolutional discriminator on fixed-length
windows, trained on the one Trainer with its loss (non-saturating with R1 by default)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ganforge.timeseries.nets import SeriesDiscriminator, SeriesGenerator

SLICED_WEIGHT = 30.0


def sliced_distance(a: torch.Tensor, b: torch.Tensor, directions: int = 64) -> torch.Tensor:
    """The sliced Wasserstein-2 distance (squared) between two sets of as many points (rows of ``a`` and
    ``b``): both projected on ``directions`` random unit vectors, each projection sorted, the mean squared
    gap between the sorted values. Zero when the sets are the same; it grows when one set is narrower or
    shifted along any direction, which the adversarial loss alone let through (generated windows 0.4-0.9
    as spread out as the real ones on Energy). The directions come from torch's global generator, whose
    state checkpoints keep, so a resumed run draws the same ones."""
    if a.shape != b.shape:
        raise ValueError(
            f"sliced distance needs sets of the same shape (got {tuple(a.shape)}, {tuple(b.shape)})"
        )
    u = torch.randn(a.shape[1], directions).to(a.device, a.dtype)
    u = u / u.norm(dim=0, keepdim=True)
    return (_sorted(a @ u) - _sorted(b @ u)).square().mean()


def _sorted(p: torch.Tensor) -> torch.Tensor:
    """Each column of ``p`` sorted, differentiably. On the CPU numpy sorts, several times faster than
    torch there (the step-wise distance sorts 64 columns of batch x steps values at every generator
    step): values alone where no gradient is needed (the real batch), else the order, through which the
    gradient flows back. On a GPU torch sorts."""
    if p.device.type != "cpu":
        return p.sort(dim=0)[0]
    rows = np.ascontiguousarray(p.detach().float().numpy().T)  # one row per direction
    if not p.requires_grad:
        return torch.from_numpy(np.ascontiguousarray(np.sort(rows, axis=1).T)).to(p.dtype)
    return p.gather(0, torch.from_numpy(np.argsort(rows, axis=1).T))


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
    # Weight of the sliced Wasserstein term in G's loss (see paired_loss); 0 turns it off.
    sliced: float = SLICED_WEIGHT
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

    def paired_loss(self, generator: torch.nn.Module, fake: torch.Tensor, real: torch.Tensor,
                    c: torch.Tensor | None) -> dict[str, torch.Tensor]:  # fmt: skip
        """G's distribution term: ``sliced`` x the sliced distance between the generated and the real batch
        twice over -- as single steps (every step of every sequence a point of ``channels`` values: the joint
        distribution of one time step) and as whole sequences (the dynamics)."""
        if self.sliced <= 0:
            return {}
        fake = fake.float()
        real = real.to(fake.device, fake.dtype)
        steps = sliced_distance(fake.reshape(-1, fake.shape[-1]), real.reshape(-1, real.shape[-1]))
        return {"sliced": self.sliced * (steps + sliced_distance(fake.flatten(1), real.flatten(1)))}

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
