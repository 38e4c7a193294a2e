"""What the health monitor looks at to judge mode collapse in time-series runs (images/probe.py explains
the coverage check): each fixed-noise sequence's first window averaged down to 4 time slices per channel,
on the model's own [0, 1] scale. A collapsed generator repeats a few paths, which cover only their own
corner of that space. ``series_probe`` returns ``(sample, real)``."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ganforge.engine.health import fixed_noise_sampler

SampleFn = Callable[[nn.Module], torch.Tensor]
PROBE_SEED = 12345
SLICES = 4
# Collapse thresholds (HealthConfig fields), the images' (docs/health.md): coverage below the floor, or
# below half its best so far, after the warm-up.
SERIES_COLLAPSE = {"collapse_coverage": 0.1, "collapse_drop": 0.5}


def series_features(windows: torch.Tensor, window: int) -> torch.Tensor:
    """(N, steps, channels) -> (N, 4 x channels): the first ``window`` steps, averaged in 4 slices."""
    x = windows[:, :window].float().clamp(0.0, 1.0).transpose(1, 2)
    return F.adaptive_avg_pool1d(x, SLICES).flatten(1)


def series_probe(
    recipe: object, windows: torch.Tensor, n_real: int = 512, n_fake: int = 256
) -> tuple[SampleFn, torch.Tensor]:
    """Fixed-noise sequences against ``n_real`` random real windows."""
    window = recipe.window  # type: ignore[attr-defined]
    rng = np.random.default_rng(PROBE_SEED)
    pick = torch.from_numpy(rng.choice(len(windows), size=min(n_real, len(windows)), replace=False))
    real = series_features(windows[pick], window)
    fixed = fixed_noise_sampler(recipe, n_fake, PROBE_SEED)
    return (lambda generator: series_features(fixed(generator), window)), real
