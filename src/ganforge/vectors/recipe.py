"""A GAN on plain real-valued vectors: the smallest recipe, used for 2-D toy distributions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from ganforge.vectors.nets import MLPDiscriminator, MLPGenerator


@dataclass
class VectorRecipe:
    """MLP generator and discriminator on ``dim``-dimensional vectors; no augmentation."""

    dim: int = 2
    z_dim: int = 8
    hidden: int = 128
    depth: int = 3

    def build_generator(self) -> MLPGenerator:
        return MLPGenerator(self.z_dim, self.dim, self.hidden, self.depth)

    def build_discriminator(self) -> MLPDiscriminator:
        return MLPDiscriminator(self.dim, self.hidden, self.depth)

    def sample_latents(self, n: int, rng: torch.Generator) -> torch.Tensor:
        return torch.randn(n, self.z_dim, generator=rng)

    def augment(self, x: torch.Tensor, p: float, rng: torch.Generator) -> torch.Tensor:
        return x

    def describe(self) -> dict[str, Any]:
        return {
            "name": "vector",
            "dim": self.dim,
            "z_dim": self.z_dim,
            "hidden": self.hidden,
            "depth": self.depth,
        }


class TensorSource:
    """A BatchSource over in-memory tensors."""

    def __init__(self, x: torch.Tensor, c: torch.Tensor | None = None) -> None:
        self.x, self.c = x, c

    def __len__(self) -> int:
        return self.x.shape[0]

    def get(self, indices: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        return self.x[indices], (self.c[indices] if self.c is not None else None)
