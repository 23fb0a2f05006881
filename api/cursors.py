"""Paging cursors, opaque to clients: a JSON object in URL-safe base64. Each feed puts in what it pages by, and the
site (and customer) it is for, and checks them when the cursor comes back."""

from __future__ import annotations

import base64
from typing import Any

import orjson

NOT_HANDED_OUT = "cursor is not one this API handed out"


class BadCursor(ValueError):
    pass


def seal(raw: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(raw)).decode().rstrip("=")


def unseal(cursor: str) -> dict[str, Any]:
    """The object a cursor holds, unchecked beyond being an object."""
    try:
        raw = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, orjson.JSONDecodeError):
        raise BadCursor(NOT_HANDED_OUT) from None
    if not isinstance(raw, dict):
        raise BadCursor(NOT_HANDED_OUT)
    return raw
