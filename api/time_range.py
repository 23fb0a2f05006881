"""The API's instants: the from/to query parameters in (a date, an ISO time or epoch milliseconds), UTC times out."""

from __future__ import annotations

import datetime as dt

from api.errors import ApiError

WEEK = dt.timedelta(days=7)
EARLIEST = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
LATEST = dt.datetime(2299, 12, 31, 23, 59, 59, 999000, tzinfo=dt.UTC)


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
        return parsed.astimezone(dt.UTC) if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
    except (ValueError, OverflowError, OSError):
        # A URL's bare + is a space: the usual way a UTC offset gets lost on its way here.
        hint = " (a + in a URL is a space: write an offset's + as %2B)" if " " in text else ""
        raise ApiError(400, "bad_time", f"cannot read {value!r} as a date or time{hint}") from None


def time_range(start: str | None, end: str | None) -> tuple[dt.datetime, dt.datetime]:
    """The range in UTC, clamped to the times the warehouse's DateTime64 columns hold."""
    to = clamp(parse_instant(end, end_of_day=True)) if end else dt.datetime.now(dt.UTC)
    frm = clamp(parse_instant(start, end_of_day=False)) if start else max(EARLIEST, to - WEEK)
    if frm > to:
        raise ApiError(400, "bad_range", "from is after to" if end else "from is after now, where to defaults to")
    return frm, to


def clamp(moment: dt.datetime) -> dt.datetime:
    return min(max(moment, EARLIEST), LATEST)


def utc_iso(value: dt.datetime) -> str:
    """A warehouse time in an answer: ISO 8601 in UTC with a Z, to the millisecond the columns hold. The client
    returns DateTime64(3, 'UTC') values without a zone, which a reader (JavaScript's Date) would take as local."""
    moment = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def epoch_ms(value: dt.datetime) -> int:
    """A warehouse time (UTC, without a zone as the client returns it) in epoch milliseconds, exactly."""
    moment = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    return (moment - EARLIEST) // dt.timedelta(milliseconds=1)


def utc_iso_ms(ms: int) -> str:
    """An epoch-milliseconds time (the live state's) in an answer, as utc_iso writes a warehouse time."""
    return utc_iso(EARLIEST + dt.timedelta(milliseconds=ms))
