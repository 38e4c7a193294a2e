"""The super-resolution / restoration recipe: RRDB generator, patch discriminator, pixel + perceptual
+ adversarial losses, and a source that cuts high-resolution crops and degrades them on the fly.

The real batch is ``(hr, lr)``: ``hr`` is what D sees as real, ``lr`` is the generator's input (the
engine's conditioning ``c``). G ignores its (zero-width) noise.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ganforge.errors import ConfigError, DataError
from ganforge.images.codec import encode_images
from ganforge.images.img2img.degrade import DegradeConfig, check_scale, degrade_batch
from ganforge.images.img2img.mapping import MappingRecipe
from ganforge.images.img2img.nets_rrdb import SRGenerator
from ganforge.images.img2img.nets_unet import PatchDiscriminator
from ganforge.images.recipe import apply_spectral_norm


@dataclass
class SuperResConfig:
    """Everything needed to rebuild the networks and the degradation (saved in config.json)."""

    scale: int = 4
    channels: int = 3
    crop: int = 64  # high-resolution crop side used in training
    width: int = 32
    blocks: int = 2
    growth: int = 16
    d_width: int = 32
    pixel_weight: float = 50.0  # L1 in [-1, 1] units; the adversarial term has weight 1
    perceptual_weight: float = 5.0  # L1 between EfficientNet-lite0 early features; 0 = off
    degradation: str = "realistic"  # realistic | light | bicubic

    def __post_init__(self) -> None:
        check_scale(self.scale)
        if self.channels not in (1, 3):
            raise ConfigError(f"images must have 1 or 3 channels (got {self.channels})")
        if self.crop < max(16, 4 * self.scale) or self.crop % self.scale:
            raise ConfigError(
                f"crop must be a multiple of the scale {self.scale} and at least {max(16, 4 * self.scale)}"
            )
        if min(self.width, self.blocks, self.growth, self.d_width) < 1:
            raise ConfigError("width, blocks, growth and d_width must be >= 1")
        if self.pixel_weight < 0 or self.perceptual_weight < 0:
            raise ConfigError("loss weights must be >= 0")

    def degrade_config(self) -> DegradeConfig:
        """The degradation that makes this model's training inputs."""
        from ganforge.images.img2img.degrade import degrade_config

        return degrade_config(self.degradation, self.scale)


class PerceptualLoss(nn.Module):
    """L1 distance between early EfficientNet-lite0 features (frozen, ImageNet weights, offline)."""

    def __init__(self, stages: int = 4) -> None:
        super().__init__()
        from ganforge.metrics.features import load_effnet

        net = load_effnet()
        self.features = copy.deepcopy(nn.Sequential(net.stem, *list(net.blocks)[:stages])).float()
        self.features.eval().requires_grad_(False)

    def forward(self, fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
        if fake.shape[1] == 1:
            fake, real = fake.expand(-1, 3, -1, -1), real.expand(-1, 3, -1, -1)
        # The lite weights take inputs in [-1, 1], the range images are encoded in.
        return F.l1_loss(self.features(fake), self.features(real))


class SRDiscriminator(nn.Module):
    """D(hr, lr) -> patch logits of ``hr``; unconditional (ignores ``lr``), spectrally normalised."""

    def __init__(self, channels: int, width: int, crop: int) -> None:
        super().__init__()
        # Small crops get one stride-2 layer less, so every feature map keeps > 1 pixel.
        self.patch = apply_spectral_norm(PatchDiscriminator(channels, width, layers=3 if crop >= 32 else 2))

    def forward(self, x: torch.Tensor, c: torch.Tensor | None) -> torch.Tensor:
        return self.patch(x)


class SuperResRecipe(MappingRecipe):
    """Builds the generator and discriminator and adds the pixel and perceptual terms to G's loss."""

    def __init__(self, config: SuperResConfig) -> None:
        self.config = config
        self._perceptual: PerceptualLoss | None = None

    def build_generator(self) -> SRGenerator:
        c = self.config
        return SRGenerator(c.scale, c.channels, c.width, c.blocks, c.growth)

    def build_discriminator(self) -> SRDiscriminator:
        return SRDiscriminator(self.config.channels, self.config.d_width, self.config.crop)

    def paired_loss(
        self, G: nn.Module, fake: torch.Tensor, real: torch.Tensor, c: torch.Tensor | None
    ) -> dict[str, torch.Tensor]:
        """Pixel (L1) and perceptual terms against the high-resolution crop."""
        cfg = self.config
        terms = {"pixel": cfg.pixel_weight * F.l1_loss(fake, real)}
        if cfg.perceptual_weight > 0:
            if self._perceptual is None:
                self._perceptual = PerceptualLoss().to(fake.device)
            terms["perceptual"] = cfg.perceptual_weight * self._perceptual(fake, real)
        return terms

    def describe(self) -> dict[str, Any]:
        return {"name": "superres", **vars(self.config)}


def random_crops(images: list[np.ndarray], n: int, crop: int, rng: torch.Generator) -> np.ndarray:
    """``n`` random ``crop``-sided crops (with random flips), images picked in proportion to their area."""
    areas = torch.tensor([float((im.shape[0] - crop + 1) * (im.shape[1] - crop + 1)) for im in images])
    pick = torch.multinomial(areas, n, replacement=True, generator=rng).tolist()
    out = []
    for i in pick:
        im = images[i]
        y = int(torch.randint(im.shape[0] - crop + 1, (1,), generator=rng))
        x = int(torch.randint(im.shape[1] - crop + 1, (1,), generator=rng))
        patch = im[y : y + crop, x : x + crop]
        flips = torch.randint(2, (2,), generator=rng).tolist()
        patch = patch[:, ::-1] if flips[0] else patch
        out.append(patch[::-1] if flips[1] else patch)
    return np.ascontiguousarray(np.stack(out))


class SuperResSource:
    """BatchSource: random high-resolution crops and their degraded low-resolution versions."""

    def __init__(self, images: list[np.ndarray], config: SuperResConfig) -> None:
        self.images = [im for im in images if min(im.shape[:2]) >= config.crop]
        if not self.images:
            raise DataError(
                f"no training image is at least {config.crop} px on its shorter side (use a smaller --crop)"
            )
        self.crop, self.degrade = config.crop, config.degrade_config()

    def __len__(self) -> int:
        return int(sum((im.shape[0] - self.crop + 1) * (im.shape[1] - self.crop + 1) for im in self.images))

    def get(self, indices: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        return self.sample(len(indices), torch.Generator().manual_seed(int(indices.sum())))

    def sample(self, n: int, rng: torch.Generator) -> tuple[torch.Tensor, torch.Tensor | None]:
        hr = random_crops(self.images, n, self.crop, rng)
        seed = int(torch.randint(2**31 - 1, (1,), generator=rng))
        lr = degrade_batch(hr, self.degrade, seed)
        return encode_images(hr), encode_images(lr)
