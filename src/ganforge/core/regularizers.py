"""Gradient penalties on discriminator inputs.

One helper serves R1 (penalty on real data) and R2 (penalty on fake data): both are the squared norm of
the gradient of the discriminator's output with respect to its input, averaged over the batch.
"""

from __future__ import annotations

import torch


def gradient_penalty(inputs: torch.Tensor, outputs: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of ||d outputs / d inputs||^2; ``inputs`` must require grad."""
    (grad,) = torch.autograd.grad(outputs=outputs.sum(), inputs=inputs, create_graph=True)
    return grad.square().flatten(1).sum(1).mean()


def r1_penalty(real: torch.Tensor, d_real: torch.Tensor) -> torch.Tensor:
    """R1 (Mescheder et al. 2018): penalise D's gradient on real data."""
    return gradient_penalty(real, d_real)


def r2_penalty(fake: torch.Tensor, d_fake: torch.Tensor) -> torch.Tensor:
    """R2: the same penalty on generated data (R3GAN uses R1 + R2 with RpGAN)."""
    return gradient_penalty(fake, d_fake)
