"""Adversarial losses as small pure functions of discriminator logits.

Each loss is a pair ``(d_loss, g_loss)``; both take the logits of real and fake data so that
relativistic losses, which compare the two, fit the same signature as the classic ones.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ganforge.errors import ConfigError

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def ns_d_loss(d_real: torch.Tensor, d_fake: torch.Tensor) -> torch.Tensor:
    """Non-saturating GAN, discriminator side: -log D(x) - log(1 - D(G(z)))."""
    return (F.softplus(-d_real) + F.softplus(d_fake)).mean()


def ns_g_loss(d_real: torch.Tensor, d_fake: torch.Tensor) -> torch.Tensor:
    """Non-saturating GAN, generator side: -log D(G(z))."""
    del d_real
    return F.softplus(-d_fake).mean()


def hinge_d_loss(d_real: torch.Tensor, d_fake: torch.Tensor) -> torch.Tensor:
    """Hinge loss, discriminator side: relu(1 - D(x)) + relu(1 + D(G(z)))."""
    return (F.relu(1 - d_real) + F.relu(1 + d_fake)).mean()


def hinge_g_loss(d_real: torch.Tensor, d_fake: torch.Tensor) -> torch.Tensor:
    """Hinge loss, generator side: -D(G(z))."""
    del d_real
    return -d_fake.mean()


def rpgan_d_loss(d_real: torch.Tensor, d_fake: torch.Tensor) -> torch.Tensor:
    """Relativistic pairing GAN: real should score above its paired fake, softplus(-(D(x) - D(G(z))))."""
    return F.softplus(-(d_real - d_fake)).mean()


def rpgan_g_loss(d_real: torch.Tensor, d_fake: torch.Tensor) -> torch.Tensor:
    """Relativistic pairing GAN, generator side: the fake should score above its paired real."""
    return F.softplus(-(d_fake - d_real)).mean()


def wgan_d_loss(d_real: torch.Tensor, d_fake: torch.Tensor) -> torch.Tensor:
    """Wasserstein critic loss (pair with a gradient penalty)."""
    return (d_fake - d_real).mean()


def wgan_g_loss(d_real: torch.Tensor, d_fake: torch.Tensor) -> torch.Tensor:
    """Wasserstein generator loss."""
    del d_real
    return -d_fake.mean()


def lsgan_d_loss(d_real: torch.Tensor, d_fake: torch.Tensor) -> torch.Tensor:
    """Least-squares GAN, discriminator side: (D(x) - 1)^2 + D(G(z))^2."""
    return ((d_real - 1) ** 2 + d_fake**2).mean()


def lsgan_g_loss(d_real: torch.Tensor, d_fake: torch.Tensor) -> torch.Tensor:
    """Least-squares GAN, generator side: (D(G(z)) - 1)^2."""
    del d_real
    return ((d_fake - 1) ** 2).mean()


@dataclass(frozen=True)
class AdversarialLoss:
    """A named pair of loss functions; ``needs_real_for_g`` tells the trainer to score reals in G steps."""

    name: str
    d_loss: LossFn
    g_loss: LossFn
    needs_real_for_g: bool = False


LOSSES: dict[str, AdversarialLoss] = {
    "ns": AdversarialLoss("ns", ns_d_loss, ns_g_loss),
    "hinge": AdversarialLoss("hinge", hinge_d_loss, hinge_g_loss),
    "rpgan": AdversarialLoss("rpgan", rpgan_d_loss, rpgan_g_loss, needs_real_for_g=True),
    "wgan": AdversarialLoss("wgan", wgan_d_loss, wgan_g_loss),
    "lsgan": AdversarialLoss("lsgan", lsgan_d_loss, lsgan_g_loss),
}


def get_loss(name: str) -> AdversarialLoss:
    """Look up a loss by name; unknown names raise a ConfigError listing the choices."""
    try:
        return LOSSES[name]
    except KeyError:
        raise ConfigError(f"unknown loss '{name}' (choose from: {', '.join(LOSSES)})") from None
