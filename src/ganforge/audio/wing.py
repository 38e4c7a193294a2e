"""The audio wing as the registry sees it (kind "audio"). Its commands, evaluation, report and serving
parts are found by name in cli.py, evaluate.py, report.py and serve.py (the Wing defaults)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ganforge.audio.data import AUDIO_SUFFIXES
from ganforge.core.protocols import Wing


class AudioWing(Wing):
    name = "audio"
    unit = "clips"
    package = "ganforge.audio"
    verify_suffixes = AUDIO_SUFFIXES

    def load(self, run_dir: Path, device: str = "cpu") -> Any:
        from ganforge.audio.model import AudioGAN

        return AudioGAN.load(run_dir, device=device)

    def marked_runs(self, root: Path) -> dict[str, str]:
        from ganforge.core.config import read_json
        from ganforge.safety.payload import saved_model_id

        found: dict[str, str] = {}
        for config in sorted(Path(root).glob("**/config.json")):
            try:
                data = read_json(config, what="run config")
            except Exception:  # noqa: BLE001  (a folder that is not a run is simply not one)
                continue
            ident = saved_model_id(data) if data.get("kind") == "audio" else None
            if ident:
                found[ident] = str(config.parent)
        return found

    def verify_file(self, path: Path, known: dict[str, str], named_runs: bool) -> tuple[str, int]:
        from rich.markup import escape

        from ganforge.core.extras import require

        require("soundfile", "audio", "verifying sound files")
        from ganforge.audio.watermark import verify_file
        from ganforge.audio.writer import read_label
        from ganforge.errors import GanforgeError

        try:
            result = verify_file(path, known_ids=list(known))
        except GanforgeError as e:
            return f"{escape(str(path))}: [red]error[/]: {escape(str(e))}", 2
        label = read_label(path)
        tag = f", labelled synthetic (model id {label})" if label else ""
        if not result.found:
            return f"{escape(str(path))}: [yellow]no ganforge mark found[/]{tag}", 1
        run = known.get(result.model_id or "")
        where = (
            f" -> run {escape(run)}" if run else (" (no run under --runs has this id)" if named_runs else "")
        )
        acc = f", {result.bit_accuracy:.0%} of bits" if result.bit_accuracy is not None else ""
        return (f"{escape(str(path))}: [green]ganforge mark found[/]: model id {result.model_id}{acc} "
                f"({escape(result.how)}){where}{tag}"), 0  # fmt: skip


WING = AudioWing()
