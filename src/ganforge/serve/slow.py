"""Slow clients cannot hold the server: a connection whose request (head and body) has not arrived whole
within ``read_timeout`` seconds is dropped, and request headers are capped in size.

uvicorn times out idle keep-alive connections but not a request that trickles in, so eight sockets
sending half a request each -- half a head, or a head announcing a body that never comes -- would hold
every connection slot of ``--max-connections 8`` forever. The protocol below (uvicorn's h11 protocol
plus one timer) closes such a connection; a request that arrived whole is the app's to answer.

A request h11 cannot parse gets the API's JSON ``{"error": ...}`` instead of uvicorn's plain-text 400:
431 for a head over ``MAX_HEADER_BYTES`` that is still arriving (a head that arrives whole in one read
reaches the app, whose ``BodyLimit`` answers the same 431), 400 for anything else malformed.
"""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

MAX_HEADER_BYTES = 16 * 1024  # request line + headers; larger is refused with 431


def timed_protocol(read_timeout: float) -> type:
    """uvicorn's h11 protocol, dropping a connection that has not sent a whole request within
    ``read_timeout`` seconds of opening (or of its previous response), and answering unparsable
    requests with a JSON error."""
    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class RecordingConnection(h11.Connection):
        """An h11 connection that keeps the protocol error it raised (uvicorn's handler drops it)."""

        error: h11.RemoteProtocolError | None = None

        def next_event(self) -> Any:
            try:
                return super().next_event()
            except h11.RemoteProtocolError as e:
                self.error = e
                raise

    class TimedH11Protocol(H11Protocol):
        _deadline: Any = None

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._max_head = self.config.h11_max_incomplete_event_size or MAX_HEADER_BYTES
            self.conn = RecordingConnection(h11.SERVER, max_incomplete_event_size=self._max_head)

        def _arm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
            self._deadline = self.loop.call_later(read_timeout, self._drop_if_waiting)

        def _drop_if_waiting(self) -> None:
            # IDLE: the head never arrived whole; SEND_BODY: the body it announced never did.
            if self.conn.their_state in (h11.IDLE, h11.SEND_BODY) and not self.transport.is_closing():
                self.transport.close()

        def connection_made(self, transport: Any) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing():
                self._arm()

        def connection_lost(self, exc: Exception | None) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
            super().connection_lost(exc)

        def send_400_response(self, msg: str) -> None:
            """uvicorn calls this for any request h11 cannot parse; answer as the API does."""
            error = getattr(self.conn, "error", None)
            status = getattr(error, "error_status_hint", 400)
            if status == 431:
                text = f"request headers too large: at most {self._max_head:,} bytes"
            else:
                status = status if 400 <= status < 500 else 400
                detail = " ".join(str(error or msg).split())[:200]  # one line, bounded
                text = f"malformed HTTP request: {detail}"
            body = json.dumps({"error": text}).encode()
            headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                       (b"connection", b"close")]  # fmt: skip
            reason = HTTPStatus(status).phrase.encode()
            for event in (h11.Response(status_code=status, headers=headers, reason=reason), h11.Data(data=body),
                          h11.EndOfMessage()):  # fmt: skip
                self.transport.write(self.conn.send(event))
            self.transport.close()

    return TimedH11Protocol
