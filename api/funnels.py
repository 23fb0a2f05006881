"""Funnels: how many visitors went through a series of steps in order (pages visited, events done) within a time
window of their first step, and how many of those who reached a step went on to the next (ClickHouse's
windowFunnel over each visitor's events)."""

from __future__ import annotations

import datetime as dt
import re

from clickhouse_connect.driver.client import Client

from api.errors import ApiError
from api.time_range import utc_iso
from clickpulse.records import EVENT_TYPES

MIN_STEPS, MAX_STEPS = 2, 10
DEFAULT_WINDOW = "1d"
WINDOW = re.compile(r"(\d{1,7})([smhd]?)")
UNIT_S = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
MAX_WINDOW_S = 90 * 86400
# A step names an event type, or a page: an exact path, or with a trailing * every path that starts so.
STEP_TYPES = sorted(EVENT_TYPES - {"pageview", "heartbeat", "identify", "custom"})


def step_condition(index: int, step: str) -> str:
    """The step's condition on an event, its text bound as the parameter step<index>."""
    if step.startswith("/"):
        if step.endswith("*"):
            return f"type = 'pageview' AND startsWith(path, {{step{index}:String}})"
        return f"type = 'pageview' AND path = {{step{index}:String}}"
    if step in STEP_TYPES:
        return f"type = {{step{index}:String}}"
    raise ApiError(
        400, "bad_step", f"step {step[:100]!r} is no page path (starting with /) nor one of {', '.join(STEP_TYPES)}"
    )


def window_seconds(window: str) -> int:
    """A window as seconds (3600), or with a unit: 90s, 30m, 12h, 7d."""
    match = WINDOW.fullmatch(window.strip())
    seconds = int(match[1]) * UNIT_S[match[2]] if match else 0
    if not 1 <= seconds <= MAX_WINDOW_S:
        raise ApiError(400, "bad_window", f"window {window[:40]!r}: give 1s to 90d, as seconds or like 30m, 12h, 7d")
    return seconds


def funnel(
    client: Client, database: str, site_id: str, steps: list[str], window: str, frm: dt.datetime, to: dt.datetime,
    include_bots: bool,
) -> dict[str, object]:  # fmt: skip
    """Visitors who reached each step, in order, within the window of their first step, among the events in the
    time range."""
    if not MIN_STEPS <= len(steps) <= MAX_STEPS:
        raise ApiError(400, "bad_step", f"a funnel has {MIN_STEPS} to {MAX_STEPS} steps (step=...&step=...)")
    conditions = [f"({step_condition(index, step)})" for index, step in enumerate(steps)]
    seconds = window_seconds(window)
    params: dict[str, object] = {
        "site": site_id,
        "frm": frm.replace(tzinfo=None),
        "to": to.replace(tzinfo=None),
        "window_ms": seconds * 1000,
        **{
            f"step{index}": step.removesuffix("*") if step.startswith("/") else step for index, step in enumerate(steps)
        },
    }
    bot_filter = "" if include_bots else "AND is_bot = 0"
    # Each visitor's furthest step; events redelivered twice are the same step at the same time, so count once.
    levels = client.query(
        f"""
        SELECT level, count() FROM (
            SELECT windowFunnel({{window_ms:UInt64}})(toUInt64(toUnixTimestamp64Milli(ts)), {", ".join(conditions)})
                AS level
            FROM {database}.events
            WHERE site_id = {{site:String}} {bot_filter}
              AND ts >= {{frm:DateTime64(3, 'UTC')}} AND ts <= {{to:DateTime64(3, 'UTC')}}
              AND ({" OR ".join(conditions)})
            GROUP BY visitor_id
        ) GROUP BY level
        """,
        parameters=params,
    ).result_rows
    furthest = {int(level): int(visitors) for level, visitors in levels}
    reached = [sum(n for level, n in furthest.items() if level >= index + 1) for index in range(len(steps))]
    return {
        "site_id": site_id,
        "from": utc_iso(frm),
        "to": utc_iso(to),
        "window_seconds": seconds,
        "steps": [
            {
                "step": step,
                "visitors": visitors,
                "conversion_from_previous": None if index == 0 else share(visitors, reached[index - 1]),
                "conversion_from_first": share(visitors, reached[0]),
            }
            for index, (step, visitors) in enumerate(zip(steps, reached, strict=True))
        ],
    }


def share(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0
