"""Reads a request body within limits: size before and after decompression, then JSON."""

from __future__ import annotations

import zlib

import msgspec
from starlette.requests import Request

from ingest.rejection import RequestRejected

# Decompressed bodies may be this many times the wire limit; beyond it is a gzip bomb.
INFLATE_RATIO = 8


async def read_limited(request: Request, max_bytes: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            if int(declared) > max_bytes:
                raise RequestRejected(413, "body_too_large", f"limit is {max_bytes} bytes")
        except ValueError:
            raise RequestRejected(400, "bad_content_length") from None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise RequestRejected(413, "body_too_large", f"limit is {max_bytes} bytes")
        chunks.append(chunk)
    body = b"".join(chunks)
    encoding = request.headers.get("content-encoding", "").lower()
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
    return out


def decode_json(body: bytes) -> object:
    if not body:
        raise RequestRejected(400, "empty_body")
    try:
        return msgspec.json.decode(body)
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        # msgspec rejects invalid UTF-8, NaN and Infinity here, which is what we want.
        raise RequestRejected(400, "malformed_json", str(exc)[:200]) from None
