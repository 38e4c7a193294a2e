"""The audio wing's part of ``ganforge serve``: what ``GET /api/models`` says about an audio model, the
``/audio`` endpoint and WAV / ZIP / JSON encoding.

An audio model is not batched across requests: a request's clips are made whole by ``AudioGAN.sample``
(one request at a time per model, through the server's gate), with the request's own seed, so the server
returns the same clips as the Python API. Every clip carries the inaudible watermark of its model, and
every WAV names the model in its INFO chunk as synthetic.
"""

import base64
import io
import json
import secrets
import zipfile
from typing import Any

import numpy as np

from ganforge.core.config import SEED_MAX
from ganforge.errors import ConfigError

AUDIO_TYPES = {"wav": "audio/wav", "zip": "application/zip", "json": "application/json"}
MOSAIC_CLIPS = 64  # the spectrogram PNG shows at most this many clips


def serve_info(gan: Any) -> dict[str, Any]:
    """The model's facts for the page, its capabilities and the line for a request to a wrong endpoint."""
    r = gan.recipe
    return {"usage": "makes sound clips: use /audio", "capabilities": ["audio"], "sample_rate": r.sample_rate,
            "seconds": r.length / r.sample_rate, "conditional": bool(r.num_classes),
            "classes": list(gan.class_names), "arch": r.arch}  # fmt: skip


def class_index(name: str, gan: Any, klass: int | str | None) -> int | None:
    """A class given by index or by name, as an index (None: every class in turn); ConfigError, in one
    line that names the model, when it has no such class."""
    if klass is None:
        return None
    names = list(gan.class_names)
    if not names:
        raise ConfigError(f"model {name!r} is unconditional: it takes no class")
    if isinstance(klass, str) and klass not in names and len(klass) > 64:  # keep the error line short
        raise ConfigError(f"model {name!r} has no class {klass[:20]!r}... (classes: {', '.join(names)})")
    try:
        return gan.class_index(klass)
    except ConfigError as e:
        raise ConfigError(f"model {name!r}: {e}") from None


def clip_names(labels: np.ndarray | None, class_names: list[str], n: int) -> list[str]:
    """``0000_seven.wav`` ... (the class in the name when the clips have one)."""
    return [
        f"{i:04d}" + (f"_{class_names[labels[i]]}" if labels is not None and class_names else "") + ".wav"
        for i in range(n)
    ]


def encode_audio(clips: np.ndarray, fmt: str, sample_rate: int, model_id: str, meta: dict[str, Any],
                 class_names: list[str]) -> bytes:  # fmt: skip
    """``clips`` (N, samples) as ``fmt``: "wav" (the clip when N is 1, else every clip in turn with short
    gaps), "zip" (one WAV per clip, grid.png and meta.json) or "json" (``meta`` plus base64 WAVs, the
    grid WAV and the spectrogram PNG)."""
    from ganforge.audio.writer import grid_clip, spectrogram_png, wav_bytes

    def grid() -> bytes:
        return wav_bytes(
            clips[0] if len(clips) == 1 else grid_clip(clips, sample_rate), sample_rate, model_id
        )

    if fmt == "wav":
        return grid()
    files = [wav_bytes(clip, sample_rate, model_id) for clip in clips]
    picture = spectrogram_png(clips[:MOSAIC_CLIPS], sample_rate)
    if fmt == "zip":
        labels = np.asarray(meta["labels"]) if meta.get("labels") is not None else None
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for name, data in zip(clip_names(labels, class_names, len(files)), files, strict=True):
                zf.writestr(name, data)
            zf.writestr("grid.png", picture)
            zf.writestr("meta.json", json.dumps(meta, indent=2))
        return buf.getvalue()

    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode("ascii")

    return json.dumps({**meta, "clips": [b64(f) for f in files], "grid": b64(grid()),
                       "spectrogram": b64(picture)}).encode()  # fmt: skip


def _request(cfg: Any) -> type:
    """The /audio request body with this server's limit (so /docs shows it)."""
    from typing import Annotated, Literal

    from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr

    class AudioRequest(BaseModel):
        model_config = ConfigDict(extra="forbid", populate_by_name=True)
        n: int = Field(1, ge=1, le=cfg.max_clips, description="Number of clips")
        seed: Annotated[
            int | None, Field(ge=0, le=SEED_MAX, description="Same seed, same output; none: random")
        ] = None
        klass: Annotated[
            StrictInt | StrictStr | None,  # true is not class 1
            Field(alias="class", description="Class index or name (conditional models); none: each in turn"),
        ] = None
        format: Literal["wav", "zip", "json"] = Field(
            "wav", description="wav: the clip (n=1) or every clip in turn; zip: one WAV each; json: base64"
        )

    return AudioRequest


def add_routes(app: Any, served: Any) -> None:
    """``POST /api/models/{name}/audio``."""
    from fastapi.responses import Response

    AudioRequest = _request(served.cfg)

    @app.post("/api/models/{name}/audio", tags=["audio"], response_class=Response)
    async def audio(name: str, req: AudioRequest) -> Response:  # type: ignore[valid-type]
        """``n`` watermarked clips: one WAV (every clip in turn when n > 1), a ZIP of WAVs with a
        spectrogram PNG, or JSON with base64 WAVs and the spectrogram."""
        model = served.get(name, "audio")
        gan, rate = model.model, model.model.recipe.sample_rate
        klass = class_index(name, gan, req.klass)
        seed = req.seed if req.seed is not None else secrets.randbelow(2**31)
        clips = await served.gates[name].run(served.executor, gan.sample, req.n, seed, klass)
        labels = gan.labels_for(req.n, klass)
        meta = {"model": name, "model_id": model.model_id, "seed": seed, "sample_rate": rate,
                "labels": labels.tolist() if labels is not None else None}  # fmt: skip
        names = list(gan.class_names)
        body = await served.off_loop(encode_audio, clips, req.format, rate, model.model_id, meta, names)
        hdrs = served.headers(model, seed, req.format, "audio")
        return Response(body, media_type=AUDIO_TYPES[req.format], headers=hdrs)
