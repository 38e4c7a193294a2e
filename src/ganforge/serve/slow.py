"""Slow clients cannot hold the server: a connection whose request has not arrived whole within
``read_timeout`` seconds is dropped, and request headers are capped in size.

uvicorn times out idle keep-alive connections but not a request that trickles in, so eight sockets
sending half a request each would hold every connection slot of ``--max-connections 8`` forever. The
protocol below (uvicorn's h11 protocol plus one timer) closes such a connection; a request whose
headers arrived is the app's to answer.
"""

from __future__ import annotations

from typing import Any

MAX_HEADER_BYTES = 16 * 1024  # request line + headers; larger is refused (431-class) by h11


def timed_protocol(read_timeout: float) -> type:
    """uvicorn's h11 protocol, dropping a connection that has not sent a whole request head within
    ``read_timeout`` seconds of opening (or of its previous response)."""
    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class TimedH11Protocol(H11Protocol):
        _deadline: Any = None

        def _arm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
            self._deadline = self.loop.call_later(read_timeout, self._drop_if_waiting)

        def _drop_if_waiting(self) -> None:
            if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
                self.transport.close()  # the request head never arrived whole

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

    return TimedH11Protocol
