"""What the engine asks of a recipe and of a data source: nothing about images, tables or audio."""

from __future__ import annotations

from typing import Any, Protocol

import torch
from torch import nn


class BatchSource(Protocol):
    """Training data as the engine sees it: encoded tensors fetched by index."""

    def __len__(self) -> int: ...

    def get(self, indices: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Return ``(x, c)``: encoded examples and their conditioning (or None) for ``indices``."""
        ...

    # Optional: ``sample(n, rng) -> (x, c)``. When a source has it, the Trainer lets the source choose
    # each real batch (drawing only from ``rng``), e.g. to balance rare categories.


class Recipe(Protocol):
    """A GAN for one kind of data: networks, noise and augmentation. Pure construction, no loop."""

    def build_generator(self) -> nn.Module:
        """G(z, c) -> encoded data."""
        ...

    def build_discriminator(self) -> nn.Module:
        """D(x, c) -> one logit per example, shape (N,)."""
        ...

    def sample_latents(self, n: int, rng: torch.Generator) -> torch.Tensor:
        """Noise for ``n`` examples drawn from ``rng`` (on the CPU, so runs are reproducible)."""
        ...

    def augment(self, x: torch.Tensor, p: float, rng: torch.Generator) -> torch.Tensor:
        """Differentiable augmentation applied to both reals and fakes before D (identity when p == 0)."""
        ...

    def describe(self) -> dict[str, Any]:
        """JSON-ready description, saved in checkpoints and config.json."""
        ...

    # Optional: ``generator_penalty(fake, c) -> Tensor | None``, a recipe's own term added to the
    # generator's loss (fake is G's output before augmentation).
    # Optional: ``paired_loss(G, fake, real, c) -> dict[str, Tensor]``, terms added to the generator's
    # loss (each logged under its name) that need the real batch or G itself: pixel / perceptual loss
    # against a paired target, cycle consistency. With it, ``c`` may be an image that G maps (its
    # ``sample_latents`` may return zero-width noise) and D may return several logits per example
    # (one per patch): the losses average them.
    # Optional on the discriminator module: ``replay(fake, rng) -> fake``, fakes shown to D in place of
    # the newest ones (a history pool); its state lives in D's buffers, so checkpoints keep it.
