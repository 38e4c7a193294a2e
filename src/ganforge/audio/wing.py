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
        from ganforge.engine import artifact

        if artifact.read_config(run_dir).get("kind") == "vocoder":
            from ganforge.audio.vocoder import Vocoder

            return Vocoder.load(run_dir, device=device)
        from ganforge.audio.model import AudioGAN

        return AudioGAN.load(run_dir, device=device)

    # A vocoder run (kind "vocoder") is a part for spectrogram GANs: evaluate and report measure it; it
    # has nothing to sample or serve on its own.
    def sample_cli(self, run: Path, config: dict[str, Any], out: Path, options: dict[str, Any]) -> str:
        if config.get("kind") == "vocoder":
            raise self._vocoder_only("ganforge sample")
        return super().sample_cli(run, config, out, options)

    def evaluate_cli(self, run: Path, config: dict[str, Any], options: dict[str, Any], console: Any,
                     out_console: Any) -> None:  # fmt: skip
        if config.get("kind") == "vocoder":
            from ganforge.audio.evaluate import evaluate_vocoder_cli

            return evaluate_vocoder_cli(run, options, console, out_console)
        return super().evaluate_cli(run, config, options, console, out_console)

    def summary_facts(self, config: dict[str, Any]) -> dict[str, Any]:
        if config.get("kind") == "vocoder":
            recipe = config.get("recipe", {})
            return {"clips": config.get("data", {}).get("clips"), "sample rate": recipe.get("sample_rate"),
                    "recipe": f"GAN vocoder, width {recipe.get('width')}"}  # fmt: skip
        return super().summary_facts(config)

    def report_sections(self, run_dir: Path, config: dict[str, Any], real: Path | None) -> list[Any]:
        if config.get("kind") == "vocoder":
            from ganforge.audio.report import vocoder_sections

            return vocoder_sections(config)
        return super().report_sections(run_dir, config, real)

    def serve_info(self, model: Any) -> dict[str, Any]:
        from ganforge.audio.vocoder import Vocoder

        if isinstance(model, Vocoder):
            raise self._vocoder_only("ganforge serve")
        return super().serve_info(model)

    def export_onnx(self, run: Path, path: Path | None) -> str:
        from ganforge.engine import artifact

        if artifact.read_config(run).get("kind") == "vocoder":
            raise self._vocoder_only("ONNX export")
        from ganforge.audio.export import OnnxAudio, export_audio

        out = export_audio(run, path)
        r = OnnxAudio(out).recipe
        classes = f"{r.num_classes} classes (input c: int64 [batch])" if r.num_classes else "unconditional"
        sound = "spectrogram GAN + GAN vocoder" if r.arch == "spec" else "waveform GAN"
        return (f"wrote {out}: z float32 [batch, {r.z_dim}] -> clips float32 [batch, {r.length}] in [-1, 1] at "
                f"{r.sample_rate} Hz ({sound}); {classes}; checked with ONNX Runtime")  # fmt: skip

    def _vocoder_only(self, what: str) -> Exception:
        from ganforge.errors import ConfigError

        return ConfigError(f"{what} is not available for a vocoder run: it turns spectrograms into sound for "
                           "`ganforge train audio DATA --vocoder RUN`")  # fmt: skip

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
