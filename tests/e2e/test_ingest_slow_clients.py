"""Clients that hold a connection open without finishing a request (slowloris): the collector answers 408 and
hangs up instead of waiting for ever, and one that vanishes mid-body costs nothing but its own request."""

from __future__ import annotations

import asyncio
import json
import time
from urllib.parse import urlsplit

import httpx

from tests.running_stack import BROWSER_HEADERS, RunningStack, send_batch


async def open_request(
    stack: RunningStack, body: bytes, declared: int
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Send the headers of a POST /collect declaring `declared` body bytes, then only `body`."""
    address = urlsplit(stack.ingest)
    reader, writer = await asyncio.open_connection(address.hostname, address.port)
    head = ["POST /collect HTTP/1.1", f"Host: {address.netloc}", f"Content-Length: {declared}"]
    head += [f"{name}: {value}" for name, value in BROWSER_HEADERS.items()]
    writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
    await writer.drain()
    return reader, writer


def test_a_client_that_stops_sending_its_body_gets_408_and_is_disconnected(stack: RunningStack) -> None:
    timeout_s = stack.settings.body_timeout_s

    async def stall() -> tuple[bytes, float]:
        started = time.monotonic()  # before connecting: the server clock starts first
        reader, writer = await open_request(stack, b'{"write_key": "wk_', declared=500)
        try:
            answer = await asyncio.wait_for(reader.read(), timeout_s + 10)  # all until the server hangs up
        finally:
            writer.close()
        return answer, time.monotonic() - started

    answer, waited = asyncio.run(stall())
    status_line, _, rest = answer.partition(b"\r\n")
    assert status_line.startswith(b"HTTP/1.1 408")
    assert json.loads(rest.split(b"\r\n\r\n", 1)[1])["error"] == "body_timeout"
    assert timeout_s <= waited < timeout_s + 10


def test_clients_that_send_nothing_or_their_headers_too_slowly_get_408_and_are_disconnected(
    stack: RunningStack,
) -> None:
    timeout_s = stack.settings.head_timeout_s
    address = urlsplit(stack.ingest)

    async def trickle(first_bytes: bytes) -> tuple[bytes, float]:
        started = time.monotonic()  # before connecting: the server clock starts first
        reader, writer = await asyncio.open_connection(address.hostname, address.port)
        writer.write(first_bytes)
        try:
            # A byte every half second until just before the deadline: the head is never whole, though bytes
            # keep coming (writing after the server hung up would only make this client's read fail).
            for byte in b"Host: x\r\n"[: int(timeout_s / 0.5) - 1]:
                await asyncio.sleep(0.5)
                writer.write(bytes([byte]))
            answer = await asyncio.wait_for(reader.read(), timeout_s + 10)
        finally:
            writer.close()
        return answer, time.monotonic() - started

    async def silent() -> tuple[bytes, float]:
        started = time.monotonic()  # before connecting: the server clock starts first
        reader, writer = await asyncio.open_connection(address.hostname, address.port)
        try:
            answer = await asyncio.wait_for(reader.read(), timeout_s + 10)
        finally:
            writer.close()
        return answer, time.monotonic() - started

    for answer, waited in (asyncio.run(trickle(b"POST /collect HTTP/1.1\r\n")), asyncio.run(silent())):
        assert answer.startswith(b"HTTP/1.1 408")
        assert timeout_s <= waited < timeout_s + 3  # checked once a second
    assert httpx.get(f"{stack.ingest}/healthz", timeout=5).status_code == 200


def test_clients_that_vanish_mid_body_leave_the_service_answering_and_logging_no_error(stack: RunningStack) -> None:
    log_path = stack.data_dir / "logs" / "ingest.log"
    logged_before = log_path.stat().st_size  # the shared stack's log: only what this test adds is its own

    async def vanish() -> None:
        for _ in range(20):
            _, writer = await open_request(stack, b'{"write_key": "wk_', declared=500)
            writer.close()
            await writer.wait_closed()

    asyncio.run(vanish())
    site = stack.create_site("vanishing")
    assert send_batch(stack.ingest, site, "v-after", [{"id": "after-1", "type": "pageview", "ts": 1,
                                                       "url": "https://shop.test/"}]) == 200  # fmt: skip
    with log_path.open("rb") as log:
        log.seek(logged_before)
        assert b"Exception in ASGI application" not in log.read()
    assert httpx.get(f"{stack.ingest}/healthz", timeout=5).status_code == 200
