"""A browser's own request not to be tracked: Do-Not-Track (`DNT: 1`) and Global Privacy Control (`Sec-GPC: 1`)."""

from __future__ import annotations

from collections.abc import Mapping


def asks_not_to_be_tracked(headers: Mapping[str, str]) -> bool:
    """Whether the request's browser says its user opted out (headers as plain_headers gives them, lower-cased)."""
    return headers.get("sec-gpc", "").strip() == "1" or headers.get("dnt", "").strip() == "1"
