"""Reads a request body within limits: time, size before and after decompression, then JSON."""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import Mapping
from typing import Any

import msgspec
from starlette.requests import ClientDisconnect, Request

from ingest.deadlines import Deadlines
from ingest.rejection import RequestRejected

# Decompressed bodies may be this many times the wire limit; beyond it is a gzip bomb.
INFLATE_RATIO = 8
# Real payloads nest a few levels (event, props, products); deeper input only serves to exhaust the stack
# when the record is encoded again downstream.
MAX_DEPTH = 32


class SlowBodyGuard:
    """Cancels body reads that outlast the timeout: a client that sends its headers and then trickles or
    withholds the body would hold its connection and request for ever."""

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self.expired: set[asyncio.Task[Any]] = set()
        self.reads: Deadlines[asyncio.Task[Any]] = Deadlines(timeout_s, self._cancel)

    def _cancel(self, task: asyncio.Task[Any]) -> None:
        self.expired.add(task)
        task.cancel()

    def unwatch(self, task: asyncio.Task[Any]) -> None:
        self.reads.unwatch(task)
        self.expired.discard(task)


async def read_limited(request: Request, headers: Mapping[str, str], max_bytes: int, guard: SlowBodyGuard) -> bytes:
    declared = headers.get("content-length")
    if declared is not None:
        try:
            if int(declared) > max_bytes:
                raise RequestRejected(413, "body_too_large", f"limit is {max_bytes} bytes")
        except ValueError:
            raise RequestRejected(400, "bad_content_length") from None
    chunks: list[bytes] = []
    size = 0
    task = asyncio.current_task()
    assert task is not None
    guard.reads.watch(task)
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > max_bytes:
                raise RequestRejected(413, "body_too_large", f"limit is {max_bytes} bytes")
            chunks.append(chunk)
    except asyncio.CancelledError:
        if task not in guard.expired:
            raise  # cancelled by someone else (a shutdown): not ours to answer
        task.uncancel()
        raise RequestRejected(408, "body_timeout", f"the body did not arrive within {guard.timeout_s:g} s") from None
    except ClientDisconnect:
        raise RequestRejected(400, "client_disconnected", "the client went away before its body") from None
    finally:
        guard.unwatch(task)
    body = b"".join(chunks)
    encoding = headers.get("content-encoding", "").lower()
    if encoding in ("gzip", "deflate"):
        body = inflate(body, max_bytes * INFLATE_RATIO)
    elif encoding not in ("", "identity"):
        raise RequestRejected(415, "unsupported_content_encoding", encoding)
    return body


def inflate(body: bytes, max_out: int) -> bytes:
    # wbits=47 accepts both gzip and zlib headers.
    inflater = zlib.decompressobj(47)
    try:
        out = inflater.decompress(body, max_out)
    except zlib.error:
        raise RequestRejected(400, "bad_compression", "body is not valid gzip/deflate") from None
    if inflater.unconsumed_tail:
        raise RequestRejected(413, "body_too_large", "decompressed body exceeds the limit")
    if not inflater.eof:
        raise RequestRejected(400, "bad_compression", "body is a truncated gzip/deflate stream")
    return out


def decode_json(body: bytes) -> object:
    if not body:
        raise RequestRejected(400, "empty_body")
    try:
        value = msgspec.json.decode(body)
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        # msgspec rejects invalid UTF-8, NaN and Infinity here, which is what we want.
        raise RequestRejected(400, "malformed_json", str(exc)[:200]) from None
    except RecursionError:
        raise RequestRejected(400, "too_deeply_nested", f"at most {MAX_DEPTH} levels") from None
    # Each level needs an opening bracket, so bodies with few of them cannot be too deep: skip the walk.
    if body.count(b"[") + body.count(b"{") > MAX_DEPTH and nesting_depth(value) > MAX_DEPTH:
        raise RequestRejected(400, "too_deeply_nested", f"at most {MAX_DEPTH} levels")
    return value


def nesting_depth(value: object) -> int:
    """Depth of nested lists and objects, walked without recursion so hostile input cannot blow the stack."""
    deepest = 0
    pending: list[tuple[object, int]] = [(value, 1)]
    while pending:
        node, depth = pending.pop()
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else None
        if children is None:
            continue
        deepest = max(deepest, depth)
        if deepest > MAX_DEPTH:
            return deepest
        pending.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return deepest
