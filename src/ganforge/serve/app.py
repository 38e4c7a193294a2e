"""The FastAPI app: list models, generate images (batched), interpolate, generate table rows, health,
the web page. OpenAPI docs at /docs and /openapi.json.

Errors are JSON ``{"error": "one line a user can act on"}`` with a 4xx status for bad input (422 for a
malformed request, 400 for a request the model cannot satisfy, 404 for an unknown model), 401 without
the token, 413/411 for oversized bodies and 503 when too many requests wait.
"""

import asyncio
import secrets
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from importlib import resources
from typing import Annotated, Any, Literal

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException

from ganforge._version import __version__
from ganforge.errors import GanforgeError
from ganforge.serve.batching import Batcher, Gate, ServerBusy
from ganforge.serve.config import ServeConfig
from ganforge.serve.encode import IMAGE_TYPES, TABLE_TYPES, encode_images, encode_rows
from ganforge.serve.models import ServedModel
from ganforge.serve.security import BodyLimit, TokenAuth

SEED_MAX = 2**63 - 1
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data: blob:; script-src 'self'; "
    "style-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
STATIC_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                ".css": "text/css; charset=utf-8"}  # fmt: skip


def _static_files() -> dict[str, bytes]:
    """The page's files, read once: requests never reach the file system."""
    root = resources.files("ganforge.serve") / "static"
    return {f.name: f.read_bytes() for f in root.iterdir() if f.name.endswith(tuple(STATIC_TYPES))}


def _request_models(cfg: ServeConfig) -> tuple[type[BaseModel], type[BaseModel], type[BaseModel]]:
    """Request bodies with this server's limits (so /docs shows them)."""
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

    def check_conditions(value: dict[str, Any] | None) -> dict[str, Any] | None:
        for name, want in (value or {}).items():
            pair = isinstance(want, list) and len(want) == 2
            if pair and all(
                v is None or (isinstance(v, (int, float)) and not isinstance(v, bool)) for v in want
            ):
                continue
            if not isinstance(want, (str, int, float, bool)):
                raise ValueError(
                    f"condition {name!r} must be a value or a [low, high] pair of numbers (got {want!r})"
                )
        return value

    class RowsRequest(BaseModel):
        model_config = strict
        n: int = Field(100, ge=1, le=cfg.max_rows, description="Number of rows")
        seed: Seed = None
        conditions: Annotated[dict[str, Any] | None, AfterValidator(check_conditions)] = Field(
            None, description='{"income": ">50K", "age": [30, 45]}: a category or value, or a range'
        )
        format: Literal["csv", "parquet", "json"] = "csv"

    return ImageRequest, InterpolateRequest, RowsRequest


def _validation_message(errors: list[dict[str, Any]]) -> str:
    """The first problem in one line: ``field: what is wrong``."""
    first = errors[0]
    if first.get("type") == "json_invalid":
        return f"the request body is not valid JSON ({first.get('ctx', {}).get('error', 'decode error')})"
    loc = [str(p) for p in first.get("loc", ()) if p != "body"]
    if not loc and first.get("type") == "missing":
        return "the request needs a JSON object body ({} for the defaults)"
    msg = str(first.get("msg", "invalid request")).removeprefix("Value error, ")
    return (f"{'.'.join(loc)}: " if loc else "") + msg


class _Served:
    """What every route shares: the models, the limits, the worker threads and batchers."""

    def __init__(self, models: dict[str, ServedModel], cfg: ServeConfig) -> None:
        self.models, self.cfg = models, cfg
        self.executor = ThreadPoolExecutor(max_workers=cfg.workers, thread_name_prefix="ganforge-serve")
        self.batchers = {
            name: Batcher(m.generate_marked, self.executor, cfg.max_batch, cfg.batch_window_ms, cfg.max_queue)
            for name, m in models.items()
            if m.can("images")
        }
        self.gates = {name: Gate(cfg.max_queue) for name, m in models.items() if m.can("rows")}

    def get(self, name: str, capability: str | None = None) -> ServedModel:
        """The model ``name``; 404 when there is none, 400 when it does not answer ``capability``."""
        if name not in self.models:
            raise HTTPException(404, f"no model named {name!r} (models: {', '.join(self.models)})")
        model = self.models[name]
        if capability is not None and not model.can(capability):
            raise HTTPException(400, f"model {name!r} {model.usage}")
        return model

    async def off_loop(self, fn: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self.executor, fn, *args)

    @staticmethod
    def headers(model: ServedModel, seed: int, fmt: str, stem: str) -> dict[str, str]:
        disposition = "inline" if fmt in ("png", "json") else "attachment"
        out = {"X-Seed": str(seed), "X-Synthetic": "true",
               "Content-Disposition": f'{disposition}; filename="{model.name}-{stem}-{seed}.{fmt}"'}  # fmt: skip
        return out | ({"X-Model-Id": model.model_id} if model.model_id else {})

    @asynccontextmanager
    async def lifespan(self, _: FastAPI) -> AsyncIterator[None]:
        for batcher in self.batchers.values():
            batcher.start()
        yield
        for batcher in self.batchers.values():
            await batcher.stop()
        self.executor.shutdown(wait=False, cancel_futures=True)


def create_app(models: dict[str, ServedModel], cfg: ServeConfig | None = None) -> FastAPI:
    """The app serving ``models`` (loaded by ``load_models``) under the limits of ``cfg``."""
    cfg = cfg or ServeConfig()
    served = _Served(models, cfg)
    app = FastAPI(
        title="ganforge",
        version=__version__,
        lifespan=served.lifespan,
        description="Generate images and table rows from trained ganforge GANs. Every image carries an "
        "invisible watermark and a PNG label saying it is synthetic.",
    )
    app.add_middleware(BodyLimit, max_bytes=cfg.max_body_bytes)
    if cfg.token:
        app.add_middleware(TokenAuth, token=cfg.token)  # outermost: checked before anything else
    _error_handlers(app)
    _model_routes(app, served)
    _generation_routes(app, served)
    _page_routes(app)
    return app


def _error_handlers(app: FastAPI) -> None:
    """Every error as ``{"error": one line}`` with its status."""

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = jsonable_encoder(exc.errors(), custom_encoder={Exception: str})
        return JSONResponse({"error": _validation_message(errors), "errors": errors}, 422)

    @app.exception_handler(HTTPException)
    async def _http(_: Request, exc: HTTPException) -> JSONResponse:
        return JSONResponse({"error": str(exc.detail)}, exc.status_code, headers=exc.headers)

    @app.exception_handler(ServerBusy)
    async def _busy(_: Request, exc: ServerBusy) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, 503, headers={"Retry-After": "1"})

    @app.exception_handler(GanforgeError)
    async def _bad(_: Request, exc: GanforgeError) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, 400)


def _model_routes(app: FastAPI, served: _Served) -> None:
    """Health and the list of models (with what each can do: the page asks, it does not guess)."""
    cfg = served.cfg

    @app.get("/api/health", tags=["server"])
    async def health() -> dict[str, Any]:
        """Liveness, the models served, batching figures per image model and the limits."""
        return {
            "status": "ok",
            "version": __version__,
            "models": list(served.models),
            "batching": {name: b.stats.as_dict() for name, b in served.batchers.items()},
            "limits": {"max_images": cfg.max_images, "max_rows": cfg.max_rows, "max_frames": cfg.max_frames,
                       "max_batch": cfg.max_batch, "max_queue": cfg.max_queue, "max_body_bytes": cfg.max_body_bytes},
        }  # fmt: skip

    @app.get("/api/models", tags=["models"])
    async def list_models() -> list[dict[str, Any]]:
        """Every model served, with what it generates and its model card (markdown)."""
        return [m.describe() for m in served.models.values()]

    @app.get("/api/models/{name}", tags=["models"])
    async def one_model(name: str) -> dict[str, Any]:
        """One model and its card."""
        return served.get(name).describe()


def _generation_routes(app: FastAPI, served: _Served) -> None:
    """Images (batched across requests), latent walks and table rows."""
    ImageRequest, InterpolateRequest, RowsRequest = _request_models(served.cfg)

    @app.post("/api/models/{name}/images", tags=["images"], response_class=Response)
    async def images(name: str, req: ImageRequest) -> Response:  # type: ignore[valid-type]
        """``n`` watermarked images: one PNG (a grid when n > 1), a ZIP of PNGs or JSON with base64 PNGs."""
        model = served.get(name, "images")
        seed = req.seed if req.seed is not None else secrets.randbelow(2**31)
        z, c = model.latents(req.n, model.class_index(req.klass), seed, req.truncation)
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
        z, c = model.interpolation(
            req.seed_a, req.seed_b, model.class_index(req.klass), req.frames, req.truncation
        )
        out = await served.batchers[name].submit(z, c)
        meta = {"model": name, "model_id": model.model_id, "seed_a": req.seed_a, "seed_b": req.seed_b,
                "labels": c.tolist() if c is not None else None, "truncation": req.truncation}  # fmt: skip
        body = await served.off_loop(encode_images, out, req.format, model.model_id, meta, len(out))
        hdrs = served.headers(model, req.seed_a, req.format, f"walk-to-{req.seed_b}")
        return Response(body, media_type=IMAGE_TYPES[req.format], headers=hdrs)

    @app.post("/api/models/{name}/rows", tags=["tables"], response_class=Response)
    async def rows(name: str, req: RowsRequest) -> Response:  # type: ignore[valid-type]
        """``n`` synthetic rows as CSV, Parquet or JSON; ``conditions`` fix categories or value ranges."""
        model = served.get(name, "rows")
        seed = req.seed if req.seed is not None else secrets.randbelow(2**31)
        conditions = {k: tuple(v) if isinstance(v, list) else v for k, v in (req.conditions or {}).items()}
        df = await served.gates[name].run(
            served.executor, lambda: model.model.sample(req.n, seed=seed, conditions=conditions)
        )
        body = await served.off_loop(encode_rows, df, req.format, {"model": name, "seed": seed})
        hdrs = served.headers(model, seed, req.format, "rows")
        return Response(body, media_type=TABLE_TYPES[req.format], headers=hdrs)


def _page_routes(app: FastAPI) -> None:
    """The web page and its static files (read once at start-up)."""
    static = _static_files()

    @app.get("/", include_in_schema=False)
    async def page() -> Response:
        return Response(static["index.html"], media_type=STATIC_TYPES[".html"], headers=PAGE_HEADERS)

    @app.get("/static/{file}", include_in_schema=False)
    async def static_file(file: str) -> Response:
        if file not in static:
            raise HTTPException(404, f"no file {file!r}")
        suffix = file[file.rfind(".") :]
        return Response(static[file], media_type=STATIC_TYPES[suffix], headers=PAGE_HEADERS)
