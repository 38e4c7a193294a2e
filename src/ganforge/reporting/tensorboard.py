"""A training callback that mirrors metrics.jsonl into TensorBoard event files under ``RUN/tensorboard/``.

Every logged number becomes a scalar (tagged by group, e.g. ``loss/loss_g``), every health event a text
entry, and every sample grid the run writes an image, so ``tensorboard --logdir runs`` shows all runs.
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ganforge.engine.callbacks import Callback
from ganforge.reporting.run_log import is_number, metric_group

if TYPE_CHECKING:
    from ganforge.engine.trainer import Trainer

LOG_DIR = "tensorboard"


def scalar_tag(key: str) -> str:
    """The TensorBoard tag of a metrics.jsonl key: its group, a slash, the key (``grad_d`` -> ``gradient/grad_d``)."""
    return f"{metric_group(key)}/{key}"


def _after_existing_files(log_dir: Path) -> None:
    """Waits, if need be, until a new event file's name will sort after those already in ``log_dir``.

    TensorBoard reads event files in name order, and a name is the second it was made in followed by a
    per-process counter, so a file made in the same second as the last one may sort before it ("...10"
    before "...9") and its purge of replaced steps would then be read first. At most a second's wait.
    """
    stamps = []
    for path in log_dir.glob("events.out.tfevents.*"):
        try:
            stamps.append(int(path.name.split(".")[3]))
        except (IndexError, ValueError):
            continue
    if stamps:
        while int(time.time()) <= max(stamps):
            time.sleep(0.05)


class TensorBoardLogger(Callback):
    """Writes scalars, health events and sample grids for TensorBoard.

    ``log_dir`` defaults to ``RUN/tensorboard`` of the trainer's run directory; without either the
    callback does nothing. Place it after the sample-grid callback so it finds each grid just written.
    """

    def __init__(self, log_dir: str | Path | None = None) -> None:
        self.log_dir = Path(log_dir) if log_dir is not None else None
        self.writer: Any = None
        self.disabled = False
        self._images_logged: set[Path] = set()

    def _open(self, trainer: Trainer) -> Any:
        """The writer, created on first use (a monitor may log before this callback's on_fit_start)."""
        if self.writer is not None or self.disabled:
            return self.writer
        log_dir = self.log_dir or (trainer.run_dir / LOG_DIR if trainer.run_dir is not None else None)
        if log_dir is None:
            self.disabled = True
            return None
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            warnings.warn("TensorBoard logging is off: pip install 'ganforge[report]'", stacklevel=2)
            self.disabled = True
            return None
        # A resumed run drops log lines after its checkpoint; purge_step hides those steps here too.
        purge = trainer.step + 1 if trainer.step > 0 else None
        _after_existing_files(Path(log_dir))
        self.writer = SummaryWriter(str(log_dir), purge_step=purge)
        return self.writer

    def on_fit_start(self, trainer: Trainer) -> None:
        self._open(trainer)

    def on_log(self, trainer: Trainer, record: dict[str, Any]) -> None:
        writer = self._open(trainer)
        if writer is None:
            return
        step = int(record["step"])
        if "event" in record:
            text = f"**{record['event']}** at step {step}: {record.get('detail', '')}"
            if record.get("action"):
                text += f"  \nrecovery: {record['action']}"
            writer.add_text(f"health/{record['event']}", text, step)
            return
        for key, value in record.items():
            if key != "step" and is_number(value):
                writer.add_scalar(scalar_tag(key), float(value), step)

    def on_step_end(self, trainer: Trainer, stats: dict[str, float]) -> None:
        self._log_grid(trainer)

    def on_checkpoint(self, trainer: Trainer) -> None:
        if self.writer is not None:
            self.writer.flush()

    def on_fit_end(self, trainer: Trainer) -> None:
        self._log_grid(trainer)
        if self.writer is not None:
            self.writer.close()
            self.writer = None

    def _log_grid(self, trainer: Trainer) -> None:
        """Add the sample grid written for this step, if there is one (a PNG read: cheap)."""
        if self.writer is None or trainer.run_dir is None:
            return
        path = trainer.run_dir / "samples" / f"step-{trainer.step:07d}.png"
        if path in self._images_logged or not path.is_file():
            return
        import numpy as np
        from PIL import Image

        with Image.open(path) as im:
            pixels = np.asarray(im.convert("RGB"))
        self.writer.add_image("samples", pixels, trainer.step, dataformats="HWC")
        self._images_logged.add(path)
