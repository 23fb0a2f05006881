"""Retention on the running stack: cohorts of visitors by the week or day of their first session ever, and how many
came back in each period after it, from sessions as the workers emit them (bots, merged-away sessions and visitors
first seen before the range left out)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx

from clickpulse.records import SESSIONS_TOPIC, Session, event_encoder
from tests.kafka_records import put_records
from tests.running_stack import RunningStack, wait_until

MONDAY = dt.datetime(2026, 10, 5, 10, tzinfo=dt.UTC)  # a Monday, weeks before any test runs


def session(visitor: str, site_id: str, days: float, **fields: Any) -> Session:
    start = int((MONDAY + dt.timedelta(days=days)).timestamp() * 1000)
    return Session(
        session_id=f"{visitor}-{days}", site_id=site_id, visitor_id=visitor, start=start, end=start + 60_000,
        version=1, closed=True, **fields,
    )  # fmt: skip


def retention(stack: RunningStack, site: dict[str, str], **params: Any) -> httpx.Response:
    return httpx.get(
        f"{stack.api}/v1/sites/{site['site_id']}/retention",
        params={"from": "2026-10-05", "to": "2026-10-18", **params},
        headers={"Authorization": f"Bearer {site['read_key']}"},
    )


def test_cohorts_by_first_session_count_who_came_back_each_week_and_day(stack: RunningStack) -> None:
    site = stack.create_site("retention")
    s = site["site_id"]
    sessions = [
        session("a", s, 0), session("a", s, 8), session("a", s, 22),  # week 0, back in weeks 1 and 3
        session("b", s, 1),  # week 0 only
        session("c", s, 9), session("c", s, 10), session("c", s, 15),  # week 1, back the next day and in week 2
        session("d", s, -3), session("d", s, 2),  # first seen the week before the range: no one's cohort
        session("bot", s, 0, is_bot=True), session("bot", s, 7, is_bot=True),
        session("merged", s, 3, deleted=True),  # retracted by a merge: never a session
    ]  # fmt: skip
    put_records(
        stack.settings.kafka_bootstrap,
        [(stack.settings.topic(SESSIONS_TOPIC), x.visitor_id.encode(), event_encoder.encode(x)) for x in sessions],
    )

    def weekly() -> dict[str, Any]:
        return retention(stack, site, period="week", periods=4).json()

    expected = [
        {"start": "2026-10-05T00:00:00.000Z", "visitors": 2, "active": [2, 1, 0, 1], "rates": [1.0, 0.5, 0.0, 0.5]},
        {"start": "2026-10-12T00:00:00.000Z", "visitors": 1, "active": [1, 1, 0, 0], "rates": [1.0, 1.0, 0.0, 0.0]},
    ]
    assert wait_until(lambda: weekly()["cohorts"] == expected, timeout_s=60), weekly()
    assert weekly()["period"] == "week"

    with_bots = retention(stack, site, period="week", periods=2, include_bots="true").json()["cohorts"]
    assert with_bots[0]["visitors"] == 3 and with_bots[0]["active"] == [3, 2]

    daily = retention(stack, site, period="day", periods=2, to="2026-10-10").json()["cohorts"]
    assert [(c["start"], c["active"]) for c in daily] == [
        ("2026-10-05T00:00:00.000Z", [1, 0]),  # a
        ("2026-10-06T00:00:00.000Z", [1, 0]),  # b
    ]

    for params in ({"period": "month"}, {"periods": 0}, {"periods": 53}):
        refused = retention(stack, site, **params)
        assert refused.status_code == 422 and refused.json()["error"] == "invalid_parameter"
