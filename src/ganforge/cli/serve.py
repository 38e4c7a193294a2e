"""``ganforge serve RUN [RUN ...]``: the HTTP API and web page for trained runs (FastAPI + uvicorn)."""

from __future__ import annotations

import socket
from typing import Annotated

import typer
from rich.console import Console

from ganforge.engine.cli import DeviceOpt
from ganforge.errors import GanforgeError

console = Console(stderr=True, soft_wrap=True)  # long paths stay on one line


def check_port(host: str, port: int) -> None:
    """Fail with one clear line, before the models are loaded, when ``host:port`` cannot be listened on."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
        try:
            s.bind((host.strip("[]"), port))
        except OSError as e:
            raise GanforgeError(f"cannot listen on {host}:{port}: {e.strerror or e}") from None


def serve(
    runs: Annotated[
        list[str], typer.Argument(help="Run directories to serve, as PATH or NAME=PATH (name in the URLs).")
    ],
    host: Annotated[
        str, typer.Option(help="Address to bind; anything but loopback needs --token.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    token: Annotated[
        str | None,
        typer.Option(
            envvar="GANFORGE_TOKEN", show_envvar=True, help="API token required on every request (16+ chars)."
        ),
    ] = None,
    max_images: Annotated[int, typer.Option(help="Most images one request may ask for.")] = 256,
    max_rows: Annotated[int, typer.Option(help="Most table rows one request may ask for.")] = 100_000,
    max_frames: Annotated[int, typer.Option(help="Most interpolation frames one request may ask for.")] = 64,
    max_clips: Annotated[int, typer.Option(help="Most sound clips one request may ask for.")] = 64,
    max_batch: Annotated[
        int, typer.Option(help="Most images in one generator call (shared by requests).")
    ] = 256,
    batch_window_ms: Annotated[
        float, typer.Option(help="How long to gather concurrent requests into one generator call.")
    ] = 2.0,
    max_queue: Annotated[int, typer.Option(help="Requests allowed to wait per model; more get 503.")] = 256,
    workers: Annotated[int, typer.Option(help="Threads generating and encoding.")] = 2,
    max_connections: Annotated[int, typer.Option(help="Open connections; more get 503.")] = 512,
    read_timeout: Annotated[
        float,
        typer.Option(
            help="Seconds a client has to send a whole request (head and body); slower ones are dropped."
        ),
    ] = 10.0,
    device: DeviceOpt = "cpu",
    access_log: Annotated[bool, typer.Option(help="Log every request.")] = False,
) -> None:
    """Serve trained models over HTTP: JSON API, OpenAPI docs at /docs, and a web page at /."""
    from ganforge.core.extras import require

    for module in ("fastapi", "uvicorn"):
        require(module, "serve", "ganforge serve")
    import uvicorn

    from ganforge.serve import ServeConfig, create_app, load_models

    token = token or None
    cfg = ServeConfig(
        host=host, port=port, token=token, max_images=max_images, max_rows=max_rows, max_frames=max_frames,
        max_clips=max_clips, max_batch=max_batch, batch_window_ms=batch_window_ms, max_queue=max_queue,
        workers=workers, max_connections=max_connections, read_timeout=read_timeout,
    )  # fmt: skip
    check_port(host, port)
    models = load_models(runs, device=device)
    app = create_app(models, cfg)
    where = f"[{host}]" if ":" in host else host
    for m in models.values():
        console.print(f"  [cyan]{m.name}[/]  {m.kind} model  (/api/models/{m.name})", highlight=False)
    console.print(
        f"[bold]ganforge serve[/]: http://{where}:{port}/  (page)  /docs  (API)"
        + ("  [yellow]token required[/]" if token else ""),
        highlight=False,
    )
    from ganforge.serve.slow import MAX_HEADER_BYTES, timed_protocol

    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=access_log,
                limit_concurrency=cfg.max_connections, timeout_keep_alive=5, server_header=False,
                http=timed_protocol(cfg.read_timeout), h11_max_incomplete_event_size=MAX_HEADER_BYTES)  # fmt: skip
