"""Training-time callbacks for image runs: fixed-noise sample grids and a cheap feature distance."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from ganforge.engine.callbacks import Callback
from ganforge.images.data import save_grid

if TYPE_CHECKING:
    from ganforge.engine.trainer import Trainer

SampleFn = Callable[[torch.nn.Module, int], np.ndarray]


class SampleGrid(Callback):
    """Every ``every`` steps (and at the end) write samples/step-XXXXXXX.png from the EMA generator.

    ``sample_fn(generator, n)`` must be deterministic (fixed noise), so grids over time are comparable.
    With ``model_id`` every tile carries the invisible watermark and the PNG the synthetic label.
    """

    def __init__(
        self, out_dir: Path, sample_fn: SampleFn, every: int, n: int = 64, model_id: str | None = None
    ) -> None:
        self.out_dir, self.sample_fn, self.every, self.n = Path(out_dir), sample_fn, every, n
        self.model_id = model_id

    def _write(self, trainer: Trainer) -> None:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        images = self.sample_fn(trainer.G_ema, self.n)
        text = None
        if self.model_id is not None:
            from ganforge.images.watermark import label_text, mark

            images, text = mark(images, self.model_id), label_text(self.model_id)
        save_grid(images, self.out_dir / f"step-{trainer.step:07d}.png", text=text)

    def on_step_end(self, trainer: Trainer, stats: dict[str, float]) -> None:
        if trainer.step % self.every == 0:
            self._write(trainer)

    def on_fit_end(self, trainer: Trainer) -> None:
        self._write(trainer)


class FeatureDistanceMonitor(Callback):
    """Every ``every`` steps, a Fréchet distance in a cheap feature space between EMA samples and reals.

    Logged as ``fast_fid`` in metrics.jsonl: a trend to watch, not comparable with Inception FID.
    """

    def __init__(self, real_images: np.ndarray, sample_fn: SampleFn, every: int, n: int = 256) -> None:
        from ganforge.metrics.features import get_extractor
        from ganforge.metrics.fid import compute_stats

        self.every, self.n, self.sample_fn = every, n, sample_fn
        self.extractor = get_extractor("effnet-lite0", input_size=128)  # ~4x cheaper than 224 px
        rng = np.random.default_rng(0)
        pick = rng.choice(len(real_images), size=min(n, len(real_images)), replace=False)
        self.real_stats = compute_stats(real_images[pick], self.extractor)
        self.history: list[dict[str, Any]] = []

    def distance(self, trainer: Trainer) -> float:
        from ganforge.metrics.fid import compute_stats, frechet_distance

        fake = compute_stats(self.sample_fn(trainer.G_ema, self.n), self.extractor)
        return frechet_distance(self.real_stats.mu, self.real_stats.sigma, fake.mu, fake.sigma)

    def on_fit_start(self, trainer: Trainer) -> None:
        if trainer.step == 0:  # the untrained generator's distance is the baseline progress is judged by
            self._record(trainer)

    def on_step_end(self, trainer: Trainer, stats: dict[str, float]) -> None:
        if trainer.step % self.every == 0:
            stats["fast_fid"] = self._record(trainer)

    def _record(self, trainer: Trainer) -> float:
        value = self.distance(trainer)
        self.history.append({"step": trainer.step, "fast_fid": value})
        trainer.log_record({"step": trainer.step, "fast_fid": round(value, 4)})
        return value
