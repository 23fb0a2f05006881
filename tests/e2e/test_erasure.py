"""A visitor's data is erasable on request: after DELETE, nothing of theirs is counted any more, not even what
was still on its way through Kafka when they asked."""

from __future__ import annotations

import time
import uuid

import httpx

from clickpulse.records import EnrichedEvent
from tests.kafka_records import put_events
from tests.running_stack import RunningStack, send_batch, wait_until


def pageview(ts: int, path: str) -> dict[str, object]:
    return {"id": str(uuid.uuid4()), "type": "pageview", "ts": ts, "url": f"https://s.test{path}"}


def erase(stack: RunningStack, site: dict[str, str], visitor: str) -> httpx.Response:
    headers = {"Authorization": f"Bearer {site['admin_key']}"}
    return httpx.delete(f"{stack.api}/v1/sites/{site['site_id']}/visitors/{visitor}", headers=headers, timeout=30)


def test_erasing_a_visitor_removes_their_events_sessions_and_live_presence(stack: RunningStack) -> None:
    site = stack.create_site("erasure")
    now = int(time.time() * 1000)
    for visitor in ("keep-me", "forget-me"):
        send_batch(stack.ingest, site, visitor, [pageview(now - i, f"/{i}") for i in range(3)])
    assert stack.wait_for_stats(site, {"pageviews": 6, "visitors": 2, "sessions": 2})["sessions"] == 2

    response = erase(stack, site, "forget-me")
    assert response.status_code == 202 and response.json()["erased"] is True

    stats = stack.stats(site)
    assert (stats["pageviews"], stats["visitors"], stats["sessions"]) == (3, 1, 1)
    headers = {"Authorization": f"Bearer {site['read_key']}"}

    def live() -> dict[str, object]:
        return httpx.get(f"{stack.api}/v1/sites/{site['site_id']}/realtime", headers=headers).json()

    assert wait_until(lambda: live()["active_visitors"] == 1, timeout_s=15)  # the workers clear live presence
    assert {item["visitor_id"] for item in live()["recent_events"]} == {"keep-me"}  # their feed items go too
    other = stack.create_site("erasure-other")
    for refused_key in (other["admin_key"], site["read_key"]):  # another site's admin key; the read key reads only
        refused = httpx.delete(
            f"{stack.api}/v1/sites/{site['site_id']}/visitors/keep-me",
            headers={"Authorization": f"Bearer {refused_key}"},
        )
        assert (refused.status_code, refused.json()["error"]) == (403, "invalid_admin_key")
    assert wait_until(lambda: live()["active_visitors"] == 1, timeout_s=2)  # keep-me was not erased


def test_forgetting_a_customer_forgets_every_visitor_identified_as_them(stack: RunningStack) -> None:
    site = stack.create_site("erasure-customer")
    now = int(time.time() * 1000)
    for device in ("laptop", "phone"):
        identify = {"id": str(uuid.uuid4()), "type": "identify", "ts": now, "props": {"customer_id": "c-42"}}
        assert send_batch(stack.ingest, site, device, [pageview(now - 1_000, f"/{device}"), identify]) == 200
    assert send_batch(stack.ingest, site, "stranger", [pageview(now, "/")]) == 200
    assert stack.wait_for_stats(site, {"pageviews": 3, "visitors": 3})["visitors"] == 3

    headers = {"Authorization": f"Bearer {site['admin_key']}"}
    response = httpx.delete(f"{stack.api}/v1/sites/{site['site_id']}/customers/c-42", headers=headers, timeout=30)
    assert response.status_code == 202
    assert response.json()["visitors"] == ["laptop", "phone"]
    stats = stack.stats(site)
    assert (stats["pageviews"], stats["visitors"]) == (1, 1)
    unknown = httpx.delete(f"{stack.api}/v1/sites/{site['site_id']}/customers/nobody", headers=headers, timeout=30)
    assert (unknown.status_code, unknown.json()["visitors"]) == (202, [])


def test_events_received_before_an_erasure_but_still_in_kafka_are_forgotten_and_later_ones_count(
    stack: RunningStack,
) -> None:
    site = stack.create_site("erasure-in-flight")
    asked_at = int(time.time() * 1000)
    assert erase(stack, site, "forget-me").status_code == 202
    # An event ingest accepted just before the erasure, reaching the workers and the loader only after it.
    in_flight = EnrichedEvent(event_id=str(uuid.uuid4()), site_id=site["site_id"], visitor_id="forget-me",
                              type="pageview", ts=asked_at - 2_000, received_at=asked_at - 1_000,
                              url="https://s.test/before", host="s.test", path="/before")  # fmt: skip

    put_events(stack.settings, [in_flight])
    # The visitor comes back afterwards: that visit is new data and counts, in a session of its own.
    assert send_batch(stack.ingest, site, "forget-me", [pageview(int(time.time() * 1000), "/after")]) == 200

    # Both share a Kafka partition, the in-flight event first: when the later visit shows, it has been handled.
    stats = stack.wait_for_stats(site, {"pageviews": 1, "visitors": 1, "sessions": 1})
    assert (stats["pageviews"], stats["visitors"], stats["sessions"]) == (1, 1, 1)


def test_an_empty_customer_or_visitor_id_is_refused_and_erases_no_one(stack: RunningStack) -> None:
    # The warehouse stores '' as "no customer": /customers/ (a client's unset id) named every anonymous visitor,
    # and its DELETE erased every visitor of the site.
    site = stack.create_site("empty-ids")
    send_batch(stack.ingest, site, "anonymous", [pageview(int(time.time() * 1000), "/")])
    assert stack.wait_for_stats(site, {"visitors": 1})["visitors"] == 1
    sites = f"{stack.api}/v1/sites/{site['site_id']}"

    for method, path in (("GET", "customers/"), ("DELETE", "customers/"), ("DELETE", "visitors/")):
        key = site["admin_key"] if method == "DELETE" else site["read_key"]
        response = httpx.request(method, f"{sites}/{path}", headers={"Authorization": f"Bearer {key}"}, timeout=30)
        assert response.status_code == 400, (method, path, response.text)
        assert response.json()["error"] == "empty_id"
    assert stack.stats(site)["visitors"] == 1
