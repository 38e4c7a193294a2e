"""A Rich progress bar for any Trainer: examples/s (images, rows …), losses, augmentation probability, ETA."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from ganforge.engine.callbacks import Callback

if TYPE_CHECKING:
    from ganforge.engine.trainer import Trainer


class ProgressCallback(Callback):
    """Shows one bar per fit; refreshed on every logged record."""

    def __init__(
        self, console: Console | None = None, unit: str = "img", header: tuple[Any, ...] = ()
    ) -> None:
        """``header``: what to print once the data is read and the networks are built (what is being trained,
        on what), so a run refused on its data prints nothing but its error line."""
        self.console, self.unit, self.header = console or Console(stderr=True), unit, header
        self.progress: Progress | None = None
        self.task = None

    def on_fit_start(self, trainer: Trainer) -> None:
        for line in self.header:
            self.console.print(line, highlight=False)
        self.progress = Progress(
            TextColumn("[bold]train"),
            BarColumn(),
            TextColumn("{task.fields[info]}"),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            console=self.console,
        )
        self.progress.start()
        self.task = self.progress.add_task(
            "train", total=self._total(trainer), completed=self._done(trainer), info=""
        )

    @staticmethod
    def _total(trainer: Trainer) -> float:
        # With a time budget shorter than the step target, the bar (and ETA) follows time instead of steps.
        return trainer.config.max_seconds if trainer.config.max_seconds else trainer.config.steps

    @staticmethod
    def _done(trainer: Trainer) -> float:
        return round(trainer.train_seconds) if trainer.config.max_seconds else trainer.step

    def on_step_end(self, trainer: Trainer, stats: dict[str, float]) -> None:
        if self.progress is not None:
            self.progress.update(self.task, completed=min(self._done(trainer), self._total(trainer)))

    def on_log(self, trainer: Trainer, record: dict[str, Any]) -> None:
        if self.progress is None:
            return
        if "event" in record:  # a health event: say what happened and what was done, above the bar
            self.progress.console.print(
                f"[yellow]health[/] step {record['step']}: {record['event']} ({record.get('detail', '')}) -> "
                f"{record.get('action', '')}",
                highlight=False,
            )
            return
        if "loss_g" not in record:
            return
        d = f"  D {record['loss_d']:.3f}" if "loss_d" in record else "  D waits"  # the warm-up: G alone
        info = f"step {trainer.step}  {record.get('examples_per_s', 0):.0f} {self.unit}/s{d}  G {record['loss_g']:.3f}"
        if trainer.config.ada_target is not None:
            info += f"  p {trainer.augment_p:.2f}"
        if "fast_fid" in record:
            info += f"  fast-FID {record['fast_fid']:.1f}"
        self.progress.update(self.task, info=info)

    def on_fit_end(self, trainer: Trainer) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None
