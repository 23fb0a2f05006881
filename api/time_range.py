"""Parses the from/to query parameters: a date, an ISO time or epoch milliseconds."""

from __future__ import annotations

import datetime as dt

from fastapi import HTTPException

DEFAULT_DAYS = 7


def parse_instant(value: str, *, end_of_day: bool) -> dt.datetime:
    text = value.strip()
    try:
        if text.isdigit():
            return dt.datetime.fromtimestamp(int(text) / 1000, dt.UTC)
        if len(text) == 10:
            day = dt.date.fromisoformat(text)
            moment = dt.datetime.combine(day, dt.time.max if end_of_day else dt.time.min)
            return moment.replace(tzinfo=dt.UTC)
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (ValueError, OverflowError, OSError):
        raise HTTPException(400, {"error": "bad_time", "detail": f"cannot read {value!r} as a date or time"}) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def time_range(start: str | None, end: str | None) -> tuple[dt.datetime, dt.datetime]:
    now = dt.datetime.now(dt.UTC)
    to = parse_instant(end, end_of_day=True) if end else now
    frm = parse_instant(start, end_of_day=False) if start else to - dt.timedelta(days=DEFAULT_DAYS)
    if frm > to:
        raise HTTPException(400, {"error": "bad_range", "detail": "from is after to"})
    return frm, to
