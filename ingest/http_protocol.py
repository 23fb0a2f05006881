"""uvicorn's httptools protocol with a deadline for each request's head.

uvicorn times out idle keep-alive connections but not a request's head: a client that opens a connection
and sends nothing, or its headers a byte at a time, holds that connection for ever (slowloris), and enough
of them use up the server's file descriptors. Such a client gets 408 and is disconnected. One timer checks
every connection that waits for a head once a second, so a request pays no timer of its own.
"""

from __future__ import annotations

import asyncio

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

REQUEST_TIMEOUT = b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"


class HeadDeadlines:
    """The connections waiting for a request's head, since when, and the timer that cuts off slow ones."""

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self.waiting: dict[asyncio.Transport, float] = {}
        self._timer: asyncio.TimerHandle | None = None

    def watch(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self.waiting.setdefault(transport, loop.time())
        if self._timer is None:
            self._timer = loop.call_later(1.0, self._check, loop)

    def unwatch(self, transport: asyncio.Transport) -> None:
        self.waiting.pop(transport, None)

    def _check(self, loop: asyncio.AbstractEventLoop) -> None:
        now = loop.time()
        late = [transport for transport, since in self.waiting.items() if now - since >= self.timeout_s]
        for transport in late:
            del self.waiting[transport]
            if not transport.is_closing():
                transport.write(REQUEST_TIMEOUT)
                transport.close()
        self._timer = loop.call_later(1.0, self._check, loop) if self.waiting else None


def protocol_with_head_deadline(timeout_s: float) -> type[HttpToolsProtocol]:
    """The protocol class for uvicorn.run(http=...): uvicorn makes one instance per connection."""
    deadlines = HeadDeadlines(timeout_s)

    class HeadDeadlineProtocol(HttpToolsProtocol):
        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            deadlines.watch(transport, self.loop)

        def on_message_begin(self) -> None:
            super().on_message_begin()
            deadlines.watch(self.transport, self.loop)  # the next request's head on a kept-alive connection

        def on_headers_complete(self) -> None:
            deadlines.unwatch(self.transport)
            super().on_headers_complete()

        def connection_lost(self, exc: Exception | None) -> None:
            deadlines.unwatch(self.transport)
            super().connection_lost(exc)

    return HeadDeadlineProtocol
