"""The images wing's part of ``ganforge serve``: what ``GET /api/models`` says about an image model, the
``/images`` and ``/interpolate`` endpoints, and PNG / ZIP / JSON encoding.

Requests are turned into latents here (from the request's own seed, exactly as ``ImageGAN.sample`` draws
them, so the server returns the same images as the Python API), then generated in the server's shared
batches; every image leaves the generator already carrying the invisible watermark, and every PNG
carries the synthetic-content label next to it.
"""

import base64
import io
import json
import secrets
import zipfile
from typing import Any

import numpy as np
import torch

from ganforge.core.config import SEED_MAX
from ganforge.errors import ConfigError

IMAGE_TYPES = {"png": "image/png", "zip": "application/zip", "json": "application/json"}


def serve_info(gan: Any) -> dict[str, Any]:
    """The model's facts for the page, its capabilities and the line for a request to a wrong endpoint."""
    rc = gan.recipe_config
    classes = list(rc.class_names) or [str(i) for i in range(rc.num_classes)]
    return {"usage": "makes images: use /images or /interpolate", "capabilities": ["images", "interpolate"],
            "resolution": rc.resolution, "channels": rc.channels, "conditional": rc.num_classes > 0,
            "classes": classes, "z_dim": rc.z_dim}  # fmt: skip


def generate_marked(gan: Any, z: torch.Tensor, c: torch.Tensor | None) -> np.ndarray:
    """One generator call on ``z`` (and labels ``c``): watermarked uint8 images (N, H, W, C)."""
    from ganforge.images.codec import decode_images
    from ganforge.images.watermark import mark

    with torch.no_grad():
        x = gan.G_ema(z.to(gan.device), c.to(gan.device) if c is not None else None)
    return mark(decode_images(x), gan.model_id)


def class_index(name: str, gan: Any, klass: int | str | None) -> int | None:
    """A class given by index or by name, as an index; ConfigError when it does not exist."""
    rc = gan.recipe_config
    if klass is None:
        return None
    if not rc.num_classes:
        raise ConfigError(f"model {name!r} is unconditional: it takes no class")
    if isinstance(klass, str):
        if klass in rc.class_names:
            return rc.class_names.index(klass)
        if not (klass.isascii() and klass.isdigit()):  # "²" is a digit to isdigit(), not to int()
            raise ConfigError(f"model {name!r} has no class {klass!r} (classes: {', '.join(rc.class_names)})")
        if len(klass.lstrip("0")) > 18:  # int() refuses over 4,300 digits; no class index has 19
            raise ConfigError(
                f"class must be in 0..{rc.num_classes - 1} for model {name!r} (got {len(klass):,} digits)"
            )
        klass = int(klass)
    if not 0 <= klass < rc.num_classes:
        raise ConfigError(f"class must be in 0..{rc.num_classes - 1} for model {name!r} (got {klass})")
    return klass


def latents(
    gan: Any, n: int, klass: int | None, seed: int, truncation: float = 1.0
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Latents and labels for ``n`` images, drawn from ``seed`` as ``ImageGAN.sample`` draws them.

    Truncation: the generator takes a plain N(0, I) latent and has no truncation of its own, so the
    standard truncation trick is applied to the latent: ``z <- psi * z`` pulls every latent toward the
    mean (0) of its distribution. psi 1 is off; lower values trade variety for typical, cleaner images;
    psi 0 gives every image of a class the same (mean) latent.
    """
    rng = torch.Generator().manual_seed(seed)
    c = gan.labels_for(n, klass, rng)
    z = torch.randn(n, gan.recipe_config.z_dim, generator=rng)
    return z * truncation, c


def interpolation(
    gan: Any, seed_a: int, seed_b: int, klass: int | None, frames: int, truncation: float = 1.0
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Latents walking from the image of ``seed_a`` to the image of ``seed_b`` (spherical interpolation).

    Both ends are images ``/images`` returns for those seeds with n=1 and the same class; without a
    class, a conditional model uses the class drawn for ``seed_a`` all the way.
    """
    from ganforge.images.model import slerp

    z_a, c = latents(gan, 1, klass, seed_a, truncation)
    if c is not None:
        klass = int(c[0])
    z_b, _ = latents(gan, 1, klass, seed_b, truncation)
    t = torch.linspace(0, 1, frames).view(-1, 1)
    return slerp(z_a[0], z_b[0], t), (c.expand(frames).contiguous() if c is not None else None)


def png(image: np.ndarray, model_id: str) -> bytes:
    """One (H, W, C) uint8 image as labelled PNG bytes."""
    from ganforge.images.watermark import png_bytes

    return png_bytes(image, model_id)


def encode_images(
    images: np.ndarray, fmt: str, model_id: str, meta: dict[str, Any], nrow: int | None = None
) -> bytes:
    """``images`` (N, H, W, C) as ``fmt``: "png" (the image when N is 1, else a grid with 2-px gaps and
    ``nrow`` images a row, square by default), "zip" (one PNG per image and meta.json) or "json"
    (``meta`` plus base64 PNGs)."""
    from ganforge.images.data import make_grid

    if fmt == "png":
        return png(images[0] if len(images) == 1 else make_grid(images, nrow=nrow), model_id)
    files = [png(im, model_id) for im in images]
    if fmt == "zip":
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:  # PNG is compressed already
            for i, data in enumerate(files):
                zf.writestr(f"{i:04d}.png", data)
            zf.writestr("meta.json", json.dumps(meta, indent=2))
        return buf.getvalue()
    encoded = [base64.b64encode(data).decode("ascii") for data in files]
    return json.dumps({**meta, "images": encoded}).encode()


def _requests(cfg: Any) -> tuple[type, type]:
    """Request bodies with this server's limits (so /docs shows them)."""
    from typing import Annotated, Literal

    from pydantic import BaseModel, ConfigDict, Field

    strict = ConfigDict(extra="forbid", populate_by_name=True)
    Seed = Annotated[int | None, Field(ge=0, le=SEED_MAX, description="Same seed, same output; none: random")]
    Klass = Annotated[
        int | str | None, Field(alias="class", description="Class index or name (conditional models)")
    ]
    Truncation = Annotated[
        float, Field(ge=0.0, le=1.0, description="Truncation psi: z <- psi * z (1 = off, 0 = the mean)")
    ]

    class ImageRequest(BaseModel):
        model_config = strict
        n: int = Field(1, ge=1, le=cfg.max_images, description="Number of images")
        seed: Seed = None
        klass: Klass = None
        truncation: Truncation = 1.0
        format: Literal["png", "zip", "json"] = Field(
            "png", description="png: the image (n=1) or a grid; zip: one PNG each; json: base64 PNGs"
        )

    class InterpolateRequest(BaseModel):
        model_config = strict
        seed_a: int = Field(0, ge=0, le=SEED_MAX, description="Seed of the first image")
        seed_b: int = Field(1, ge=0, le=SEED_MAX, description="Seed of the last image")
        klass: Klass = None
        frames: int = Field(16, ge=2, le=cfg.max_frames, description="Images from a to b, both included")
        truncation: Truncation = 1.0
        format: Literal["png", "zip", "json"] = Field("json", description="png: one strip of frames")

    return ImageRequest, InterpolateRequest


def add_routes(app: Any, served: Any) -> None:
    """``POST /api/models/{name}/images`` (batched across requests) and ``/interpolate``."""
    from fastapi.responses import Response

    ImageRequest, InterpolateRequest = _requests(served.cfg)

    @app.post("/api/models/{name}/images", tags=["images"], response_class=Response)
    async def images(name: str, req: ImageRequest) -> Response:  # type: ignore[valid-type]
        """``n`` watermarked images: one PNG (a grid when n > 1), a ZIP of PNGs or JSON with base64 PNGs."""
        model = served.get(name, "images")
        seed = req.seed if req.seed is not None else secrets.randbelow(2**31)
        z, c = latents(model.model, req.n, class_index(name, model.model, req.klass), seed, req.truncation)
        out = await served.batchers[name].submit(z, c)
        meta = {"model": name, "model_id": model.model_id, "seed": seed, "truncation": req.truncation,
                "labels": c.tolist() if c is not None else None}  # fmt: skip
        body = await served.off_loop(encode_images, out, req.format, model.model_id, meta)
        hdrs = served.headers(model, seed, req.format, "images")
        return Response(body, media_type=IMAGE_TYPES[req.format], headers=hdrs)

    @app.post("/api/models/{name}/interpolate", tags=["images"], response_class=Response)
    async def interpolate(name: str, req: InterpolateRequest) -> Response:  # type: ignore[valid-type]
        """Frames walking in latent space from the image of ``seed_a`` to the image of ``seed_b``."""
        model = served.get(name, "interpolate")
        klass = class_index(name, model.model, req.klass)
        z, c = interpolation(model.model, req.seed_a, req.seed_b, klass, req.frames, req.truncation)
        out = await served.batchers[name].submit(z, c)
        meta = {"model": name, "model_id": model.model_id, "seed_a": req.seed_a, "seed_b": req.seed_b,
                "labels": c.tolist() if c is not None else None, "truncation": req.truncation}  # fmt: skip
        body = await served.off_loop(encode_images, out, req.format, model.model_id, meta, len(out))
        hdrs = served.headers(model, req.seed_a, req.format, f"walk-to-{req.seed_b}")
        return Response(body, media_type=IMAGE_TYPES[req.format], headers=hdrs)
