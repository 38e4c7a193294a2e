"""The images wing's codec, written once: pixels (uint8, N x H x W x C) <-> what the networks see
(float32, N x C x H x W in [-1, 1]). The permuted tensors keep the pixels' channels-last memory layout."""

from __future__ import annotations

import numpy as np
import torch


def encode_images(images: np.ndarray | torch.Tensor) -> torch.Tensor:
    """Pixels (N, H, W, C), uint8 or float 0..255, array or tensor -> float32 (N, C, H, W) in [-1, 1]."""
    t = images if isinstance(images, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(images))
    return t.float().div(127.5).sub(1.0).permute(0, 3, 1, 2)


def to_pixels(x: torch.Tensor) -> torch.Tensor:
    """float (N, C, H, W) in [-1, 1] -> float (N, H, W, C) pixel values 0..255, not rounded (for blending)."""
    return ((x.detach().float().cpu() + 1.0) * 127.5).permute(0, 2, 3, 1)


def decode_images(x: torch.Tensor) -> np.ndarray:
    """float (N, C, H, W) in [-1, 1] -> uint8 (N, H, W, C), clipping what falls outside."""
    return to_pixels(x).round().clamp(0, 255).to(torch.uint8).contiguous().numpy()
