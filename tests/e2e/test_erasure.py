"""A visitor's data is erasable on request: after DELETE, nothing of theirs is counted any more."""

from __future__ import annotations

import time
import uuid

import httpx

from tests.running_stack import RunningStack, send_batch


def test_erasing_a_visitor_removes_their_events_sessions_and_live_presence(stack: RunningStack) -> None:
    site = stack.create_site("erasure")
    now = int(time.time() * 1000)
    for visitor in ("keep-me", "forget-me"):
        events = [{"id": str(uuid.uuid4()), "type": "pageview", "ts": now - i, "url": f"https://s.test/{i}"}
                  for i in range(3)]  # fmt: skip
        send_batch(stack.ingest, site, visitor, events)
    assert stack.wait_for_stats(site, {"pageviews": 6, "visitors": 2, "sessions": 2})["sessions"] == 2

    headers = {"Authorization": f"Bearer {site['read_key']}"}
    response = httpx.delete(f"{stack.api}/v1/sites/{site['site_id']}/visitors/forget-me", headers=headers, timeout=30)
    assert response.status_code == 202 and response.json()["erased"] is True

    stats = stack.stats(site)
    assert (stats["pageviews"], stats["visitors"], stats["sessions"]) == (3, 1, 1)
    live = httpx.get(f"{stack.api}/v1/sites/{site['site_id']}/realtime", headers=headers).json()
    assert live["active_visitors"] == 1
    other = stack.create_site("erasure-other")
    refused = httpx.delete(
        f"{stack.api}/v1/sites/{site['site_id']}/visitors/keep-me",
        headers={"Authorization": f"Bearer {other['read_key']}"},
    )
    assert refused.status_code == 403
