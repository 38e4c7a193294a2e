"""Hooks through which the outside world watches and steers a Trainer (progress bars, samples, health)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ganforge.engine.trainer import Trainer


class Callback:
    """Base class: override what you need. Methods run on the training process, between steps."""

    def on_fit_start(self, trainer: Trainer) -> None:
        """Called once before the first step (after a resume, with the restored state)."""

    def on_step_end(self, trainer: Trainer, stats: dict[str, float]) -> None:
        """Called after each generator update with that step's figures."""

    def on_log(self, trainer: Trainer, record: dict[str, Any]) -> None:
        """Called with every record written to metrics.jsonl."""

    def on_checkpoint(self, trainer: Trainer) -> None:
        """Called after a checkpoint has been written."""

    def on_nonfinite(self, trainer: Trainer, stats: dict[str, float]) -> bool:
        """Called when a loss or gradient is NaN/Inf. Return True if handled (e.g. rolled back).

        This is the hook for automatic recovery; when no callback handles it the Trainer stops with a
        TrainingError and the last checkpoint stays intact.
        """
        return False

    def on_fit_end(self, trainer: Trainer) -> None:
        """Called once when training stops for any reason (finished, time budget, Ctrl-C)."""
