"""Exponential moving average of generator weights (sampling uses the EMA copy)."""

from __future__ import annotations

import torch
from torch import nn


def ema_beta(batch_size: int, examples_seen: int, halflife_images: float, rampup: float | None) -> float:
    """Decay per step for a half-life given in images; early on the half-life ramps up with images seen."""
    halflife = halflife_images
    if rampup:
        halflife = min(halflife, examples_seen * rampup)
    if halflife <= 0:
        return 0.0
    return 0.5 ** (batch_size / halflife)


@torch.no_grad()
def update_ema(ema: nn.Module, model: nn.Module, beta: float) -> None:
    """ema <- beta * ema + (1 - beta) * model for parameters; buffers are copied."""
    for p_ema, p in zip(ema.parameters(), model.parameters(), strict=True):
        p_ema.lerp_(p, 1.0 - beta)
    for b_ema, b in zip(ema.buffers(), model.buffers(), strict=True):
        b_ema.copy_(b)
