"""What the health monitor looks at to judge mode collapse in audio runs (images/probe.py explains the
coverage check): each fixed-noise clip's log-mel spectrogram averaged down to 8 bands x 8 time slices,
on the same scale as the model's spectrograms. A collapsed generator repeats a few sounds, which cover
only their own corner of that space. ``audio_probe`` returns ``(sample, real)``."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ganforge.engine.health import fixed_noise_sampler

SampleFn = Callable[[nn.Module], torch.Tensor]
PROBE_SEED = 12345
FEATURE_SIZE = 8
# Collapse thresholds (HealthConfig fields), the images' (docs/health.md): coverage below the floor, or
# below half its best so far, after the warm-up.
AUDIO_COLLAPSE = {"collapse_coverage": 0.1, "collapse_drop": 0.5}


def audio_features(recipe: object, out: torch.Tensor) -> torch.Tensor:
    """The generator's output (or encoded real clips) -> (N, 64) pooled log-mel features in [-1, 1]."""
    if out.dim() == 3:  # a waveform: its spectrogram on the spectrogram recipe's scale
        out = recipe.scale(recipe.mel.log_mel(out[:, 0].float()))[:, None]  # type: ignore[attr-defined]
    return F.adaptive_avg_pool2d(out.float(), FEATURE_SIZE).flatten(1)


def audio_probe(
    recipe: object, encoded: torch.Tensor, num_classes: int, n_real: int = 512, n_fake: int = 256
) -> tuple[SampleFn, torch.Tensor]:
    """Fixed-noise clips (classes in turn for a conditional model) against ``n_real`` random real ones."""
    rng = np.random.default_rng(PROBE_SEED)
    pick = torch.from_numpy(rng.choice(len(encoded), size=min(n_real, len(encoded)), replace=False))
    real = audio_features(recipe, encoded[pick])
    c = torch.arange(n_fake) % num_classes if num_classes else None
    fixed = fixed_noise_sampler(recipe, n_fake, PROBE_SEED, c)
    return (lambda generator: audio_features(recipe, fixed(generator))), real
