"""What image-to-image recipes share: the generator maps the conditioning image ``c``, so there is no
noise to draw (zero-width latents) and no augmentation (the pairs must stay aligned)."""

from __future__ import annotations

import torch


class MappingRecipe:
    """Base of the super-resolution and translation recipes (see engine/protocols.py)."""

    def sample_latents(self, n: int, rng: torch.Generator) -> torch.Tensor:
        return torch.zeros(n, 0)

    def augment(self, x: torch.Tensor, p: float, rng: torch.Generator) -> torch.Tensor:
        return x
