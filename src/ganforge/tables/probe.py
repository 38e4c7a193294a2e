"""What the health monitor looks at to judge mode collapse in table runs: the encoded row with every
one-hot span made hard (a collapsed generator repeats a few category combinations and value modes).
``table_probe`` returns ``(sample, real)`` as images/probe.py describes."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from ganforge.engine.health import fixed_noise_sampler

SampleFn = Callable[[nn.Module], torch.Tensor]
PROBE_SEED = 12345
# Collapse thresholds (HealthConfig fields), measured on healthy and collapsed runs (docs/health.md).
TABLE_COLLAPSE = {"collapse_coverage": 0.2, "collapse_drop": 0.5}


def harden_spans(x: torch.Tensor, spans: list[tuple[int, int, str]]) -> torch.Tensor:
    """Encoded rows with every softmax span replaced by the one-hot of its largest entry."""
    x = x.clone()
    for start, size, activation in spans:
        if activation == "softmax":
            block = x[:, start : start + size]
            x[:, start : start + size] = F.one_hot(block.argmax(1), size).to(x.dtype)
    return x


def table_probe(
    recipe: object, source: object, n_real: int = 512, n_fake: int = 512
) -> tuple[SampleFn, torch.Tensor]:
    """Fixed-noise rows (conditions drawn at the real category frequencies) against ``n_real`` reals."""
    from ganforge.tables.recipe import draw_conditions

    spans = [tuple(s) for s in recipe.config.spans]  # type: ignore[attr-defined]
    gen = torch.Generator().manual_seed(PROBE_SEED)
    x = source.x  # type: ignore[attr-defined]
    real = harden_spans(x[torch.randperm(len(x), generator=gen)[:n_real]], spans)
    c = None
    if source.cond_spans:  # type: ignore[attr-defined]
        col, cat = draw_conditions(source.freq_p, n_fake, gen)  # type: ignore[attr-defined]
        c = source.cond_vectors(col, cat)  # type: ignore[attr-defined]
    fixed = fixed_noise_sampler(recipe, n_fake, PROBE_SEED, c)
    return (lambda generator: harden_spans(fixed(generator), spans)), real
