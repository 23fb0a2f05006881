"""uvicorn's httptools protocol with a deadline for each request's head.

uvicorn times out idle keep-alive connections but not a request's head: a client that opens a connection
and sends nothing, or its headers a byte at a time, holds that connection for ever (slowloris), and enough
of them use up the server's file descriptors. Such a client gets 408 and is disconnected.
"""

from __future__ import annotations

import asyncio

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from ingest.deadlines import Deadlines

REQUEST_TIMEOUT = b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"


def answer_408_and_close(transport: asyncio.Transport) -> None:
    if not transport.is_closing():
        transport.write(REQUEST_TIMEOUT)
        transport.close()


def protocol_with_head_deadline(timeout_s: float) -> type[HttpToolsProtocol]:
    """The protocol class for uvicorn.run(http=...): uvicorn makes one instance per connection."""
    deadlines: Deadlines[asyncio.Transport] = Deadlines(timeout_s, answer_408_and_close)

    class HeadDeadlineProtocol(HttpToolsProtocol):
        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            deadlines.watch(transport)

        def on_message_begin(self) -> None:
            super().on_message_begin()
            deadlines.watch(self.transport)  # the next request's head on a kept-alive connection

        def on_headers_complete(self) -> None:
            deadlines.unwatch(self.transport)
            super().on_headers_complete()

        def connection_lost(self, exc: Exception | None) -> None:
            deadlines.unwatch(self.transport)
            super().connection_lost(exc)

    return HeadDeadlineProtocol
