"""The FastAPI app: health, the models and what each can do, the web page; each wing adds its own
endpoints (images: /images, /interpolate; tables: /rows; audio: /audio). OpenAPI docs at /docs and
/openapi.json.

Errors are JSON ``{"error": "one line a user can act on"}`` with a 4xx status for bad input (422 for a
malformed request, 400 for a request the model cannot satisfy, 404 for an unknown model), 401 without
the token, 413/411 for oversized bodies and 503 when too many requests wait.
"""

import asyncio
import math
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from importlib import resources
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from ganforge._version import __version__
from ganforge.core import registry
from ganforge.errors import GanforgeError
from ganforge.serve.batching import Batcher, Gate, ServerBusy
from ganforge.serve.config import ServeConfig
from ganforge.serve.models import ServedModel
from ganforge.serve.security import BodyLimit, TokenAuth
from ganforge.serve.slow import MAX_HEADER_BYTES

PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data: blob:; "
    "media-src 'self' data: blob:; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
STATIC_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                ".css": "text/css; charset=utf-8"}  # fmt: skip


def _static_files() -> dict[str, bytes]:
    """The page's files, read once: requests never reach the file system."""
    root = resources.files("ganforge.serve") / "static"
    return {f.name: f.read_bytes() for f in root.iterdir() if f.name.endswith(tuple(STATIC_TYPES))}


def _finite(value: Any) -> Any:
    """``value`` with every NaN / infinity written as text: JSON has no number for them, and the error
    that reports one must still be JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def _validation_message(errors: list[dict[str, Any]]) -> str:
    """The first problem in one line: ``field: what is wrong``."""
    first = errors[0]
    if first.get("type") == "json_invalid":
        return f"the request body is not valid JSON ({first.get('ctx', {}).get('error', 'decode error')})"
    loc = [str(p) for p in first.get("loc", ()) if p != "body"]
    if not loc and first.get("type") == "missing":
        return "the request needs a JSON object body ({} for the defaults)"
    msg = str(first.get("msg", "invalid request")).removeprefix("Value error, ")
    text = (f"{'.'.join(loc)}: " if loc else "") + msg
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)  # a key may hold a line break


class _Served:
    """What every route shares: the models, the limits, the worker threads and batchers."""

    def __init__(self, models: dict[str, ServedModel], cfg: ServeConfig) -> None:
        self.models, self.cfg = models, cfg
        self.executor = ThreadPoolExecutor(max_workers=cfg.workers, thread_name_prefix="ganforge-serve")
        self.batchers = {
            name: Batcher(m.generate, self.executor, cfg.max_batch, cfg.batch_window_ms, cfg.max_queue)
            for name, m in models.items()
            if m.generate is not None
        }
        self.gates = {name: Gate(cfg.max_queue) for name, m in models.items() if m.generate is None}

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
        disposition = "inline" if fmt in ("png", "json", "wav") else "attachment"
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
        description="Generate images, table rows and sound clips from trained ganforge GANs. Every image "
        "and clip carries an invisible watermark and a label (PNG text, WAV INFO) saying it is synthetic.",
    )
    app.add_middleware(BodyLimit, max_bytes=cfg.max_body_bytes, max_header_bytes=MAX_HEADER_BYTES)
    if cfg.token:
        app.add_middleware(TokenAuth, token=cfg.token)  # outermost: checked before anything else
    _error_handlers(app)
    _model_routes(app, served)
    for wing in registry.wings():  # every kind's endpoints, so a wrong one gets a 400 that says which to use
        wing.serve_routes(app, served)
    _page_routes(app)
    return app


def _error_handlers(app: FastAPI) -> None:
    """Every error as ``{"error": one line}`` with its status."""

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = _finite(jsonable_encoder(exc.errors(), custom_encoder={Exception: str}))
        return JSONResponse({"error": _validation_message(errors), "errors": errors}, 422)

    @app.exception_handler(HTTPException)
    async def _http(_: Request, exc: HTTPException) -> JSONResponse:
        if exc.status_code == 400 and isinstance(exc.__cause__, RecursionError):  # the body's JSON parser
            return JSONResponse({"error": "invalid JSON body: nested too deeply"}, 422)
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
                       "max_clips": cfg.max_clips, "max_batch": cfg.max_batch, "max_queue": cfg.max_queue,
                       "max_body_bytes": cfg.max_body_bytes},
        }  # fmt: skip

    @app.get("/api/models", tags=["models"])
    async def list_models() -> list[dict[str, Any]]:
        """Every model served, with what it generates and its model card (markdown)."""
        return [m.describe() for m in served.models.values()]

    @app.get("/api/models/{name}", tags=["models"])
    async def one_model(name: str) -> dict[str, Any]:
        """One model and its card."""
        return served.get(name).describe()


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
