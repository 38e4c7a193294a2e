"""Server settings: address, token and the limits every request is held to (validated once)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from ganforge.errors import ConfigError

MIN_TOKEN_LENGTH = 16


def is_loopback(host: str) -> bool:
    """True for addresses only this machine can reach (127.0.0.0/8, ::1, "localhost")."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:  # a host name: it may resolve to anything
        return False


@dataclass(frozen=True)
class ServeConfig:
    """How ``ganforge serve`` listens and what it accepts.

    ``max_batch`` bounds the images one generator call makes (concurrent requests are gathered for up to
    ``batch_window_ms`` and share one call); ``max_queue`` bounds the requests waiting per model (more get
    503); ``workers`` is the number of threads doing generation and encoding; ``max_connections`` is
    handed to uvicorn, which answers 503 beyond it.
    """

    host: str = "127.0.0.1"
    port: int = 8000
    token: str | None = None
    max_images: int = 256  # per request
    max_rows: int = 100_000  # per request
    max_frames: int = 64  # interpolation frames per request
    max_clips: int = 64  # sound clips per request
    max_batch: int = 256  # images per generator call
    batch_window_ms: float = 2.0
    max_queue: int = 256  # waiting requests per model
    workers: int = 2
    max_body_bytes: int = 64 * 1024
    max_connections: int = 512
    read_timeout: float = 10.0  # seconds to send a whole request, head and body (serve/slow.py)

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"--port must be in 0..65535 (got {self.port})")
        for name in (
            "max_images",
            "max_rows",
            "max_frames",
            "max_clips",
            "max_batch",
            "max_queue",
            "workers",
            "max_connections",
        ):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name.replace('_', '-')} must be at least 1 (got {getattr(self, name)})")
        if self.max_frames < 2:
            raise ConfigError(f"max-frames must be at least 2 (got {self.max_frames})")
        if self.batch_window_ms < 0 or self.batch_window_ms > 1000:
            raise ConfigError(f"batch-window-ms must be in 0..1000 (got {self.batch_window_ms})")
        if not 0 < self.read_timeout <= 3600:
            raise ConfigError(f"read-timeout must be in (0, 3600] seconds (got {self.read_timeout:g})")
        if self.max_body_bytes < 1024:
            raise ConfigError(f"max-body-bytes must be at least 1024 (got {self.max_body_bytes})")
        if self.token is not None and len(self.token) < MIN_TOKEN_LENGTH:
            raise ConfigError(
                f"the API token must be at least {MIN_TOKEN_LENGTH} characters (make one with: "
                'python -c "import secrets; print(secrets.token_urlsafe())")'
            )
        if self.token is None and not is_loopback(self.host):
            raise ConfigError(
                f"binding to {self.host} makes the server reachable from other machines; give an API token "
                "with --token or the GANFORGE_TOKEN environment variable (or bind to 127.0.0.1)"
            )
