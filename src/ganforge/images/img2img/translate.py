"""Image-to-image translation recipes: pix2pix (paired) and CycleGAN (unpaired).

pix2pix: the real batch is ``(b, a)`` — D judges ``b`` (or G's output) together with its input ``a``
(a conditional PatchGAN), G maps ``a``; L1 to ``b`` plus the adversarial loss.

CycleGAN: the real batch stacks both domains along the channels, ``x = [b, a]`` and ``c = [a, b]``
(independent draws, nothing is paired). G holds G_ab and G_ba and returns ``[G_ab(a), G_ba(b)]``;
D holds D_b and D_a and scores each half, plus a history pool of fakes. Cycle-consistency and identity
terms come through the engine's ``paired_loss`` hook.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ganforge.errors import ConfigError
from ganforge.images.codec import encode_images
from ganforge.images.img2img.mapping import MappingRecipe
from ganforge.images.img2img.nets_unet import PatchDiscriminator, UNetGenerator

MODES = ("paired", "unpaired")


@dataclass
class TranslateConfig:
    """Everything needed to rebuild the translation networks (saved in config.json)."""

    mode: str = "paired"  # paired (pix2pix) | unpaired (CycleGAN)
    resolution: int = 64
    channels_a: int = 3
    channels_b: int = 3
    width: int = 32
    depth: int = 4
    d_width: int = 32
    d_layers: int = 3
    l1_weight: float = 100.0  # pix2pix
    cycle_weight: float = 10.0  # CycleGAN
    identity_weight: float = 5.0  # CycleGAN, used when both domains have the same channel count
    pool_size: int = 50  # CycleGAN history of fakes shown to D

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ConfigError(f"unknown translation mode {self.mode!r} (choose from: {', '.join(MODES)})")
        if self.channels_a not in (1, 3) or self.channels_b not in (1, 3):
            raise ConfigError("images must have 1 or 3 channels")
        if self.resolution < 16 or self.resolution % 2**self.depth:
            raise ConfigError(
                f"resolution must be >= 16 and a multiple of {2**self.depth} (got {self.resolution})"
            )
        if min(self.width, self.depth, self.d_width, self.d_layers) < 1 or self.pool_size < 0:
            raise ConfigError("width, depth, d_width and d_layers must be >= 1 and pool_size >= 0")


class ConditionalPatchD(nn.Module):
    """pix2pix D(b, a): a PatchGAN over the input and the (real or generated) output side by side."""

    def __init__(self, cfg: TranslateConfig) -> None:
        super().__init__()
        self.patch = PatchDiscriminator(cfg.channels_a + cfg.channels_b, cfg.d_width, cfg.d_layers)

    def forward(self, x: torch.Tensor, c: torch.Tensor | None) -> torch.Tensor:
        return self.patch(torch.cat([c, x], 1))


class CycleGenerator(nn.Module):
    """G(z, [a, b]) -> [G_ab(a), G_ba(b)]."""

    def __init__(self, cfg: TranslateConfig) -> None:
        super().__init__()
        self.ca, self.cb = cfg.channels_a, cfg.channels_b
        self.ab = UNetGenerator(cfg.channels_a, cfg.channels_b, cfg.width, cfg.depth)
        self.ba = UNetGenerator(cfg.channels_b, cfg.channels_a, cfg.width, cfg.depth)

    def forward(self, z: torch.Tensor | None, c: torch.Tensor) -> torch.Tensor:
        a, b = c[:, : self.ca], c[:, self.ca :]
        return torch.cat([self.ab(None, a), self.ba(None, b)], 1)


class CycleDiscriminator(nn.Module):
    """D([b, a]) -> patch logits of D_b on the first half and D_a on the second, side by side.

    ``replay`` keeps a pool of earlier fakes (in buffers, so checkpoints hold it): once full, each new
    fake is shown with probability 1/2, otherwise an older one it replaces in the pool.
    """

    def __init__(self, cfg: TranslateConfig) -> None:
        super().__init__()
        self.cb = cfg.channels_b
        self.b = PatchDiscriminator(cfg.channels_b, cfg.d_width, cfg.d_layers)
        self.a = PatchDiscriminator(cfg.channels_a, cfg.d_width, cfg.d_layers)
        shape = (cfg.pool_size, cfg.channels_a + cfg.channels_b, cfg.resolution, cfg.resolution)
        self.register_buffer("pool", torch.zeros(shape))
        self.register_buffer("pool_count", torch.zeros((), dtype=torch.long))

    def forward(self, x: torch.Tensor, c: torch.Tensor | None) -> torch.Tensor:
        return torch.cat([self.b(x[:, : self.cb]), self.a(x[:, self.cb :])], 1)

    @torch.no_grad()
    def replay(self, fake: torch.Tensor, rng: torch.Generator) -> torch.Tensor:
        """Fakes for D's update drawn from the history pool (see the class docstring)."""
        size = self.pool.shape[0]
        if size == 0:
            return fake
        out = fake.clone()
        swap = torch.rand(len(fake), generator=rng) < 0.5
        slots = torch.randint(size, (len(fake),), generator=rng)
        for i in range(len(fake)):
            count = int(self.pool_count)
            if count < size:  # filling up: keep it and show it
                self.pool[count] = fake[i]
                self.pool_count += 1
            elif swap[i]:
                out[i] = self.pool[slots[i]]
                self.pool[slots[i]] = fake[i]
        return out


class TranslateRecipe(MappingRecipe):
    """Builds the pix2pix or CycleGAN networks and their reconstruction terms."""

    def __init__(self, config: TranslateConfig) -> None:
        self.config = config

    def build_generator(self) -> nn.Module:
        c = self.config
        if c.mode == "paired":
            return UNetGenerator(c.channels_a, c.channels_b, c.width, c.depth, dropout=0.0)
        return CycleGenerator(c)

    def build_discriminator(self) -> nn.Module:
        return (
            ConditionalPatchD(self.config)
            if self.config.mode == "paired"
            else CycleDiscriminator(self.config)
        )

    def paired_loss(
        self, G: nn.Module, fake: torch.Tensor, real: torch.Tensor, c: torch.Tensor | None
    ) -> dict[str, torch.Tensor]:
        """pix2pix: L1 to the target. CycleGAN: cycle consistency (and identity when channels agree)."""
        cfg = self.config
        if cfg.mode == "paired":
            return {"l1": cfg.l1_weight * F.l1_loss(fake, real)}
        ca, cb = cfg.channels_a, cfg.channels_b
        a, b = c[:, :ca], c[:, ca:]
        fake_b, fake_a = fake[:, :cb], fake[:, cb:]
        cycle = F.l1_loss(G.ba(None, fake_b), a) + F.l1_loss(G.ab(None, fake_a), b)
        terms = {"cycle": cfg.cycle_weight * cycle}
        if cfg.identity_weight > 0 and ca == cb:
            identity = F.l1_loss(G.ab(None, b), b) + F.l1_loss(G.ba(None, a), a)
            terms["identity"] = cfg.identity_weight * identity
        return terms

    def describe(self) -> dict[str, Any]:
        return {"name": "translate", **vars(self.config)}


_encode = encode_images


class PairedSource:
    """BatchSource over matched images: ``(b, a)`` with the same random horizontal flip on both."""

    def __init__(self, a: np.ndarray, b: np.ndarray) -> None:
        self.a, self.b = torch.from_numpy(a), torch.from_numpy(b)

    def __len__(self) -> int:
        return len(self.a)

    def get(self, indices: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        return _encode(self.b[indices].numpy()), _encode(self.a[indices].numpy())

    def sample(self, n: int, rng: torch.Generator) -> tuple[torch.Tensor, torch.Tensor | None]:
        idx = torch.randint(len(self), (n,), generator=rng)
        b, a = self.get(idx)
        flip = torch.rand(n, generator=rng) < 0.5
        b[flip], a[flip] = b[flip].flip(-1), a[flip].flip(-1)
        return b, a


class UnpairedSource:
    """BatchSource over two unrelated image sets: ``([b, a], [a, b])`` from independent draws."""

    def __init__(self, a: np.ndarray, b: np.ndarray) -> None:
        self.a, self.b = torch.from_numpy(a), torch.from_numpy(b)

    def __len__(self) -> int:
        return max(len(self.a), len(self.b))

    def get(self, indices: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        a = _encode(self.a[indices % len(self.a)].numpy())
        b = _encode(self.b[indices % len(self.b)].numpy())
        return torch.cat([b, a], 1), torch.cat([a, b], 1)

    def sample(self, n: int, rng: torch.Generator) -> tuple[torch.Tensor, torch.Tensor | None]:
        ia = torch.randint(len(self.a), (n,), generator=rng)
        ib = torch.randint(len(self.b), (n,), generator=rng)
        a, b = _encode(self.a[ia].numpy()), _encode(self.b[ib].numpy())
        fa, fb = torch.rand(n, generator=rng) < 0.5, torch.rand(n, generator=rng) < 0.5
        a[fa], b[fb] = a[fa].flip(-1), b[fb].flip(-1)
        return torch.cat([b, a], 1), torch.cat([a, b], 1)
