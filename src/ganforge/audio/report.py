"""The audio wing's part of ``ganforge report``: real and generated log-mel spectrograms side by side,
playable clips of both embedded as data URIs (the report stays one offline file), then the stored
evaluation figures (``ganforge evaluate RUN``)."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import numpy as np

from ganforge.errors import GanforgeError
from ganforge.reporting.html import esc, figure, figures, kv_table, note
from ganforge.reporting.report import Section

PLAYERS = 8  # clips of each kind with a player
SHOWN = 16  # spectrograms of each kind


def summary_facts(config: dict[str, Any]) -> dict[str, Any]:
    """Clips, classes, sample rate, length and the recipe."""
    data, recipe = config.get("data", {}), config.get("recipe", {})
    return {"clips": data.get("clips"), "classes": ", ".join(recipe.get("class_names") or []) or "unconditional",
            "sample rate": recipe.get("sample_rate"), "seconds": data.get("seconds"),
            "recipe": f"{recipe.get('arch')} GAN, width {recipe.get('width')}"}  # fmt: skip


def _players(clips: np.ndarray, names: list[str], sample_rate: int, model_id: str | None) -> str:
    from ganforge.audio.writer import wav_bytes

    items = []
    for clip, name in zip(clips, names, strict=True):
        uri = "data:audio/wav;base64," + base64.b64encode(wav_bytes(clip, sample_rate, model_id)).decode(
            "ascii"
        )
        items.append(f'<figure><audio controls preload="none" src="{uri}"></audio>'
                     f"<figcaption>{esc(name)}</figcaption></figure>")  # fmt: skip
    return '<div class="figures">' + "".join(items) + "</div>"


def _real_clips(gan: Any, real: Path | None, count: int) -> tuple[np.ndarray, list[str], str]:
    """``count`` real clips (a fixed random subset) and their names."""
    from ganforge.audio.data import load_audio

    r = gan.recipe
    source = str(real) if real is not None else gan.data_info.get("source")
    if source in (None, "in memory"):
        raise GanforgeError("the run was trained on clips in memory; pass --real DIR")
    data = load_audio(source, r.sample_rate, r.length, "train", max_files=max(count, 40))
    rng = np.random.default_rng(0)
    pick = np.sort(rng.choice(len(data), min(count, len(data)), replace=False))
    names = [data.class_names[k] for k in data.labels[pick]] if data.labels is not None else [
        f"real {i}" for i in range(len(pick))]  # fmt: skip
    return data.clips[pick], names, source


def sound_section(run_dir: Path, real: Path | None) -> str:
    """Spectrograms and players of generated clips (one class after another) and of real ones."""
    from ganforge.audio.writer import spectrogram_png
    from ganforge.engine.model import load
    from ganforge.reporting.plots import png_uri

    gan = load(run_dir)
    sr = gan.recipe.sample_rate
    fake = gan.sample(SHOWN, seed=0)
    labels = gan.labels_for(SHOWN)
    names = [gan.class_names[k] if labels is not None else f"clip {i}" for i, k in
             enumerate(labels if labels is not None else range(SHOWN))]  # fmt: skip
    parts = [
        figure(
            png_uri(spectrogram_png(fake, sr)), "generated: log-mel spectrograms (low pitch at the bottom)"
        )
    ]
    body = ""
    try:
        reals, real_names, source = _real_clips(gan, real, SHOWN)
        parts.append(figure(png_uri(spectrogram_png(reals, sr)), f"real clips of {source}"))
        body = "<h3>Real clips</h3>" + _players(reals[:PLAYERS], real_names[:PLAYERS], sr, None)
    except GanforgeError as e:
        body = note(f"no real clips to compare with: {e}")
    return (figures(parts) + "<h3>Generated clips (watermarked, as users get them)</h3>"
            + _players(fake[:PLAYERS], names[:PLAYERS], sr, gan.model_id) + body)  # fmt: skip


def evaluation_section(config: dict[str, Any], run_dir: Path) -> str:
    result = config.get("metrics", {}).get("evaluation")
    if not result:
        return note(f"not evaluated yet: run ganforge evaluate {run_dir}")
    keep = {k: v for k, v in result.items() if k not in ("memorisation", "label_distribution",
                                                          "label_distribution_real", "diversity")}  # fmt: skip
    memo = result.get("memorisation") or {}
    keep["memorisation copy share"] = memo.get("copy_share")
    keep["diversity ratio"] = (result.get("diversity") or {}).get("ratio")
    return kv_table(keep)


def report_sections(run_dir: Path, config: dict[str, Any], real: Path | None) -> list[Section]:
    """The sound section, then the evaluation figures."""
    return [("sound", "Sound", sound_section(run_dir, real)),
            ("evaluation", "Evaluation", evaluation_section(config, run_dir))]  # fmt: skip


def vocoder_sections(config: dict[str, Any]) -> list[Section]:
    """A vocoder run's report: its evaluation against Griffin-Lim (``ganforge evaluate RUN``)."""
    ev = config.get("metrics", {}).get("evaluation")
    if not ev:
        return [("vocoder", "Vocoder", note("not evaluated yet: run ganforge evaluate RUN"))]
    rows = {f"{name}: {k}": v for name in ("vocoder", "griffin_lim") for k, v in ev.get(name, {}).items()}
    return [
        ("vocoder", "Vocoder vs Griffin-Lim on real clips", kv_table(rows | {"real clips": ev.get("real")}))
    ]
