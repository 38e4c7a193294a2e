"""Differentiable augmentation (in the spirit of DiffAugment / ADA) for image batches in [-1, 1].

Each transform is applied to each image independently with probability ``p``; the same function
is used on reals and fakes, so gradients reach G through it and D never sees un-augmented data alone.
All randomness comes from the caller's generator to keep runs reproducible.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def _chosen(n: int, p: float, rng: torch.Generator, device: torch.device) -> torch.Tensor:
    return (torch.rand(n, generator=rng) < p).float().view(n, 1, 1, 1).to(device)


def _uniform(n: int, rng: torch.Generator, device: torch.device) -> torch.Tensor:
    return torch.rand(n, generator=rng).view(n, 1, 1, 1).to(device)


def color(x: torch.Tensor, p: float, rng: torch.Generator) -> torch.Tensor:
    """Brightness, saturation (colour images only) and contrast jitter."""
    n, dev = x.shape[0], x.device
    x = x + _chosen(n, p, rng, dev) * (_uniform(n, rng, dev) - 0.5)
    if x.shape[1] == 3:
        m, u = _chosen(n, p, rng, dev), _uniform(n, rng, dev) * 2
        mean = x.mean(dim=1, keepdim=True)
        x = (x - mean) * (1 + m * (u - 1)) + mean
    m, u = _chosen(n, p, rng, dev), _uniform(n, rng, dev) + 0.5
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (1 + m * (u - 1)) + mean


def translation(x: torch.Tensor, p: float, rng: torch.Generator, ratio: float = 0.125) -> torch.Tensor:
    """Shift by up to ``ratio`` of the size in pixels, padding with zeros (mid-grey)."""
    n, _, h, w = x.shape
    chosen = (torch.rand(n, generator=rng) < p).float()
    shift = (torch.rand(n, 2, generator=rng) * 2 - 1) * ratio
    shift = (shift * torch.tensor([w, h])).round() / torch.tensor([w, h]) * 2  # whole pixels, grid units
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0] = theta[:, 1, 1] = 1.0
    theta[:, :, 2] = shift * chosen.view(n, 1)
    grid = F.affine_grid(theta.to(x.device), list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="nearest", padding_mode="zeros", align_corners=False)


def cutout(x: torch.Tensor, p: float, rng: torch.Generator, ratio: float = 0.5) -> torch.Tensor:
    """Zero a random square of ``ratio`` times the size."""
    n, _, h, w = x.shape
    chosen = (torch.rand(n, generator=rng) < p).view(n, 1, 1)
    ch, cw = int(h * ratio), int(w * ratio)
    cy = torch.randint(0, h - ch + 1, (n, 1, 1), generator=rng)
    cx = torch.randint(0, w - cw + 1, (n, 1, 1), generator=rng)
    ys, xs = torch.arange(h).view(1, h, 1), torch.arange(w).view(1, 1, w)
    hole = (ys >= cy) & (ys < cy + ch) & (xs >= cx) & (xs < cx + cw) & chosen
    return x * (~hole).unsqueeze(1).to(x.device, x.dtype)


def diff_augment(x: torch.Tensor, p: float, rng: torch.Generator) -> torch.Tensor:
    """Colour, translation and cutout, each with probability ``p`` per image; identity when p == 0."""
    if p <= 0:
        return x
    return cutout(translation(color(x, p, rng), p, rng), p, rng)
