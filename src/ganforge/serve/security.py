"""ASGI middleware in front of every route: the API token and the request-size limit.

The token is checked on every request (page, API, docs) with a constant-time comparison of digests. A
browser logs in once with ``/?token=...``: the token is then kept in an HttpOnly, SameSite=Strict cookie
and the address bar is cleared by a redirect, so scripts on the page never see it.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any
from urllib.parse import parse_qs

from starlette.datastructures import Headers
from starlette.requests import cookie_parser
from starlette.responses import JSONResponse, RedirectResponse

COOKIE = "ganforge_token"
Scope = dict[str, Any]


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).digest()


class TokenAuth:
    """Refuses (401) any request that does not carry the token as ``Authorization: Bearer TOKEN``, an
    ``X-API-Token`` header or the login cookie."""

    def __init__(self, app: Any, token: str) -> None:
        self.app, self._digest = app, _digest(token)

    def _ok(self, given: str | None) -> bool:
        return given is not None and hmac.compare_digest(_digest(given), self._digest)

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":  # lifespan events carry no request
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        auth = headers.get("authorization", "")
        bearer = auth[7:].strip() if auth.lower().startswith("bearer ") else None
        cookie = cookie_parser(headers.get("cookie", "")).get(COOKIE)
        if any(self._ok(g) for g in (bearer, headers.get("x-api-token"), cookie)):
            await self.app(scope, receive, send)
            return
        if scope["path"] == "/" and scope["method"] == "GET":
            query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
            if self._ok((query.get("token") or [None])[0]):
                response = RedirectResponse("/", status_code=303, headers={"Referrer-Policy": "no-referrer"})
                response.set_cookie(COOKIE, query["token"][0], httponly=True, samesite="strict", path="/")
                await response(scope, receive, send)
                return
        message = "missing or wrong API token: send 'Authorization: Bearer TOKEN' (browsers: open /?token=TOKEN once)"
        await JSONResponse({"error": message}, 401, headers={"WWW-Authenticate": "Bearer"})(
            scope, receive, send
        )


class BodyLimit:
    """Refuses request headers over ``max_header_bytes`` (431), request bodies over ``max_bytes`` (413)
    and bodies of unknown length (411) before they are read."""

    def __init__(self, app: Any, max_bytes: int, max_header_bytes: int = 16 * 1024) -> None:
        self.app, self.max_bytes, self.max_header_bytes = app, max_bytes, max_header_bytes

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            headers = Headers(scope=scope)
            length = headers.get("content-length")
            error = None
            if sum(len(k) + len(v) + 4 for k, v in scope["headers"]) > self.max_header_bytes:
                error = (431, f"request headers too large: at most {self.max_header_bytes:,} bytes")
            elif length is None and "chunked" in headers.get("transfer-encoding", "").lower():
                error = (411, "send the request body with a Content-Length header")
            elif length is not None and (not length.isdigit() or int(length) > self.max_bytes):
                error = (413, f"request body too large: at most {self.max_bytes:,} bytes")
            if error is not None:
                await JSONResponse({"error": error[1]}, error[0])(scope, receive, send)
                return
        await self.app(scope, receive, send)
