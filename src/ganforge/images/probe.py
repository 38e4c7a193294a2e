"""What the health monitor looks at to judge mode collapse in image runs (tables/probe.py for tables).

The monitor (engine/health.py) measures *coverage*: the share of held-out real examples that have a
fixed-noise sample among their nearest neighbours. That needs a cheap feature space in which "the same
mode" means "close": for images, the picture shrunk to 8x8 (grey levels or colours) — a collapsed
generator draws a handful of near-identical pictures, which cover only their own corner of that space;
for tables, the encoded row with every one-hot span made hard (a collapsed generator repeats a few
category combinations and value modes).

Each probe returns ``(sample, real)``: ``sample(G)`` gives the features of a fixed-noise batch (the same
noise and, for conditional models, the same labels or conditions every time), ``real`` the features of
held-out real examples.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ganforge.engine.health import fixed_noise_sampler
from ganforge.images.codec import encode_images

SampleFn = Callable[[nn.Module], torch.Tensor]
IMAGE_FEATURE_SIZE = 8
PROBE_SEED = 12345


def image_features(x: torch.Tensor) -> torch.Tensor:
    """Images in the model's [-1, 1] encoding (N, C, H, W) -> (N, C*8*8) area-averaged thumbnails."""
    return F.adaptive_avg_pool2d(x.float(), IMAGE_FEATURE_SIZE).flatten(1)


def image_probe(
    recipe: object,
    images: np.ndarray,
    num_classes: int,
    n_real: int = 512,
    n_fake: int = 256,
) -> tuple[SampleFn, torch.Tensor]:
    """Fixed-noise samples (classes in turn for a conditional model) against ``n_real`` random reals."""
    rng = np.random.default_rng(PROBE_SEED)
    pick = rng.choice(len(images), size=min(n_real, len(images)), replace=False)
    real = image_features(encode_images(images[pick]))
    c = torch.arange(n_fake) % num_classes if num_classes else None
    fixed = fixed_noise_sampler(recipe, n_fake, PROBE_SEED, c)
    return (lambda generator: image_features(fixed(generator))), real


# Collapse thresholds per modality (HealthConfig fields), measured on healthy and collapsed runs
# (docs/health.md has the figures): coverage below the floor, or below half its best so far, after warmup.
IMAGE_COLLAPSE = {"collapse_coverage": 0.1, "collapse_drop": 0.5}
