"""The image GAN recipe: networks, codec (uint8 <-> [-1, 1] tensors), augmentation and presets."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from ganforge.core.augment import diff_augment
from ganforge.errors import ConfigError
from ganforge.images.codec import encode_images
from ganforge.images.nets.common import resolution_ladder
from ganforge.images.nets.dcgan import DCGANDiscriminator, DCGANGenerator
from ganforge.images.nets.resnet import ResNetDiscriminator, ResNetGenerator

ARCHITECTURES = ("resnet", "dcgan")


@dataclass
class ImageRecipeConfig:
    """Everything needed to rebuild the networks and the image codec (saved in config.json)."""

    resolution: int = 32
    channels: int = 1
    num_classes: int = 0  # 0 = unconditional
    arch: str = "resnet"
    z_dim: int = 64
    width: int = 32  # channels at full resolution; doubles per halving
    max_width: int = 256
    blocks: int = 1  # residual blocks per resolution (resnet only)
    class_names: tuple[str, ...] = ()
    spectral_norm: bool = False  # spectral normalisation on every D layer (Miyato et al. 2018)

    def __post_init__(self) -> None:
        resolution_ladder(self.resolution)  # raises ConfigError for unsupported sizes
        if self.channels not in (1, 3):
            raise ConfigError(f"images must have 1 or 3 channels (got {self.channels})")
        if self.arch not in ARCHITECTURES:
            raise ConfigError(f"unknown architecture '{self.arch}' (choose from: {', '.join(ARCHITECTURES)})")
        if self.num_classes < 0 or self.z_dim < 1 or self.width < 1 or self.blocks < 1:
            raise ConfigError("num_classes must be >= 0 and z_dim, width, blocks >= 1")
        if self.class_names and len(self.class_names) != self.num_classes:
            raise ConfigError("class_names must name every class")


# Training presets: the loss/regulariser/augmentation choices per situation (TrainConfig fields + arch).
# "default" puts the modern recipe (relativistic pairing loss, R1 + R2, EMA) on the light convolutional
# net: within a CPU budget it reaches a lower distance to the data than the residual net, which needs
# many more steps (docs/training.md has the measurements).
_MODERN = {
    "loss": "rpgan",
    "r1_gamma": 0.1,
    "r2_gamma": 0.1,
    "reg_interval": 4,
    "lr_g": 2e-4,
    "lr_d": 2e-4,
    "betas": (0.0, 0.99),
    "ada_target": None,
}
PRESETS: dict[str, dict[str, Any]] = {
    # Learning rate 2e-3: at 10 CPU minutes on Fashion-MNIST, 2e-4 -> 5e-4 -> 1e-3 -> 2e-3 took FID from
    # 57 to 36, 30 and 27 and the in-domain distance from 98 to 64, 41 and 23 (docs/training.md).
    "default": {"arch": "dcgan", **_MODERN, "lr_g": 2e-3, "lr_d": 2e-3},
    # Few images: stronger penalties plus adaptive differentiable augmentation against D overfitting.
    "small-data": {"arch": "dcgan", **_MODERN, "r1_gamma": 0.2, "r2_gamma": 0.2, "ada_target": 0.6},
    # The R3GAN-style residual net with the same recipe: for GPUs and long runs.
    "r3gan": {"arch": "resnet", **_MODERN},
    # The classic baseline: DCGAN with the non-saturating loss, no regularisation, no weight averaging.
    "dcgan": {"arch": "dcgan", "loss": "ns", "r1_gamma": 0.0, "r2_gamma": 0.0, "reg_interval": 1,
              "lr_g": 2e-4, "lr_d": 2e-4, "betas": (0.5, 0.999), "ada_target": None, "ema_halflife_images": 0.0},
}  # fmt: skip


# "auto" (the default of the CLI and the API) picks one of the above once the data is seen: below this
# many training images, `small-data`, else `default`. Adaptive augmentation pays off below roughly ten
# thousand images (Karras et al., "Training GANs with limited data", NeurIPS 2020, FFHQ subsets); on
# this machine the 2.1k emoji at 64 px measured it too (docs/training.md).
AUTO = "auto"
SMALL_DATA_IMAGES = 10_000


def auto_preset(images: int) -> str:
    """The preset ``auto`` resolves to for a training set of ``images`` images."""
    return "small-data" if images < SMALL_DATA_IMAGES else "default"


def preset(name: str) -> dict[str, Any]:
    """The settings of a named preset; unknown names raise a ConfigError listing the choices.

    ``auto`` gives the default's settings: the choice by data size happens when the data is seen."""
    if name == AUTO:
        name = "default"
    if name not in PRESETS:
        raise ConfigError(f"unknown preset '{name}' (choose from: {AUTO}, {', '.join(PRESETS)})")
    return dict(PRESETS[name])


class ImageRecipe:
    """Builds G(z, class) -> image in [-1, 1] and D(image, class) -> logit for one configuration."""

    def __init__(self, config: ImageRecipeConfig) -> None:
        self.config = config

    def _kwargs(self) -> dict[str, Any]:
        c = self.config
        kw = {"resolution": c.resolution, "channels": c.channels, "num_classes": c.num_classes,
              "width": c.width, "max_width": c.max_width}  # fmt: skip
        return kw | ({"blocks": c.blocks} if c.arch == "resnet" else {})

    def build_generator(self) -> nn.Module:
        cls = ResNetGenerator if self.config.arch == "resnet" else DCGANGenerator
        # channels_last runs convolutions ~1.5x faster on CPUs (oneDNN) and suits tensor cores on GPUs.
        return cls(z_dim=self.config.z_dim, **self._kwargs()).to(memory_format=torch.channels_last)

    def build_discriminator(self) -> nn.Module:
        cls = ResNetDiscriminator if self.config.arch == "resnet" else DCGANDiscriminator
        d = cls(**self._kwargs())
        if self.config.spectral_norm:
            apply_spectral_norm(d)
        return d.to(memory_format=torch.channels_last)

    def sample_latents(self, n: int, rng: torch.Generator) -> torch.Tensor:
        return torch.randn(n, self.config.z_dim, generator=rng)

    def augment(self, x: torch.Tensor, p: float, rng: torch.Generator) -> torch.Tensor:
        return diff_augment(x, p, rng)

    def describe(self) -> dict[str, Any]:
        return {"name": "image", **{k: v for k, v in vars(self.config).items()}}


def apply_spectral_norm(module: nn.Module) -> nn.Module:
    """Constrain every convolution and linear layer of ``module`` to spectral norm ~1, in place."""
    for child in list(module.modules()):
        if isinstance(child, (nn.Conv2d, nn.Linear)) and child.weight.numel() > 0:
            # A zero-initialised weight has no spectrum to normalise; re-initialise it small instead.
            if not child.weight.detach().abs().sum():
                nn.init.normal_(child.weight, std=1e-3)
            nn.utils.parametrizations.spectral_norm(child)
    return module


class ImageSource:
    """BatchSource over an in-memory uint8 image array (+ optional integer labels)."""

    def __init__(self, images: np.ndarray, labels: np.ndarray | None) -> None:
        self.images = torch.from_numpy(np.ascontiguousarray(images))
        self.labels = torch.from_numpy(labels.astype(np.int64)) if labels is not None else None

    def __len__(self) -> int:
        return self.images.shape[0]

    def get(self, indices: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        # (N, H, W, C) permuted to (N, C, H, W) is already channels_last in memory.
        x = encode_images(self.images[indices])
        return x, (self.labels[indices] if self.labels is not None else None)
