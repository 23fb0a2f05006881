"""The thin path through every stage, against the real stack: beacon and Segment in, /stats out."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import gzip
import json
import re
import time
import uuid
from typing import Any

import httpx
import msgspec
from aiokafka import AIOKafkaConsumer

from clickpulse.records import DLQ_TOPIC, ERASURES_TOPIC, EVENTS_TOPIC, DeadLetter, visitor_key
from tests.kafka_records import put_records
from tests.running_stack import BROWSER_UA, RunningStack, send_batch, wait_until

MIN_MS = 60_000


def pageview(ts: int, path: str) -> dict[str, object]:
    return {"id": str(uuid.uuid4()), "type": "pageview", "ts": ts, "url": f"https://shop.test{path}"}


def dead_letter_with(stack: RunningStack, marker: str) -> DeadLetter | None:
    """The first dead letter whose raw input contains marker, within 30 s."""

    async def find() -> DeadLetter | None:
        consumer = AIOKafkaConsumer(
            stack.settings.topic(DLQ_TOPIC),
            bootstrap_servers=stack.settings.kafka_bootstrap,
            auto_offset_reset="earliest",
        )
        await consumer.start()
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                for messages in (await consumer.getmany(timeout_ms=1000)).values():
                    for m in messages:
                        letter = msgspec.json.decode(m.value, type=DeadLetter)
                        if marker in letter.raw:
                            return letter
        finally:
            await consumer.stop()
        return None

    return asyncio.run(find())


def test_beacon_batches_appear_in_stats_exactly_once_even_when_retried(stack: RunningStack) -> None:
    site = stack.create_site("beacon")
    now = int(time.time() * 1000)
    # v1: two sessions (a 45 min silence), v2: one session with a bounce, v3: one session.
    batches = {
        "v1": [pageview(now - 90 * MIN_MS, "/"), pageview(now - 88 * MIN_MS, "/a"), pageview(now - 40 * MIN_MS, "/b")],
        "v2": [pageview(now - 10 * MIN_MS, "/")],
        "v3": [pageview(now - 5 * MIN_MS, "/"), pageview(now - 4 * MIN_MS, "/c"), pageview(now - 3 * MIN_MS, "/d")],
    }
    for visitor, events in batches.items():
        assert send_batch(stack.ingest, site, visitor, events) == 200
        assert send_batch(stack.ingest, site, visitor, events) == 200  # a retry of the same events

    stats = stack.wait_for_stats(site, {"pageviews": 7, "visitors": 3, "sessions": 4, "bounce_rate": 0.5})
    assert (stats["pageviews"], stats["visitors"], stats["sessions"], stats["bounce_rate"]) == (7, 3, 4, 0.5)


def test_segment_batch_from_a_server_sdk_appears_in_stats(stack: RunningStack) -> None:
    site = stack.create_site("segment")
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
    batch = {
        "batch": [
            {"type": "page", "messageId": f"seg-{i}", "anonymousId": f"anon-{i % 2}", "timestamp": stamp,
             "properties": {"url": f"https://shop.test/p{i}", "title": "P"},
             "context": {"userAgent": BROWSER_UA, "ip": "198.51.100.7"}}
            for i in range(4)
        ] + [
            {"type": "track", "event": "Product Viewed", "messageId": "seg-pv", "anonymousId": "anon-0",
             "timestamp": stamp, "properties": {"product_id": "p1"}},
        ],
        "sentAt": stamp,
    }  # fmt: skip
    auth = "Basic " + base64.b64encode(f"{site['write_key']}:".encode()).decode()
    response = httpx.post(
        f"{stack.ingest}/v1/batch",
        json=batch,
        headers={"Authorization": auth, "User-Agent": "analytics-python/2.4.0"},
    )
    assert response.status_code == 200 and response.json() == {"success": True}
    stats = stack.wait_for_stats(site, {"pageviews": 4, "visitors": 2})
    assert (stats["pageviews"], stats["visitors"]) == (4, 2)


def test_bad_input_gets_a_clear_4xx_and_the_service_stays_up(stack: RunningStack) -> None:
    site = stack.create_site("bad-input")
    url = f"{stack.ingest}/collect"
    # name: (body, headers, status, the machine-readable reason)
    cases = {
        "malformed json": (b"{not json", {}, 400, "malformed_json"),
        "wrong types": (json.dumps({"write_key": site["write_key"], "events": "nope"}).encode(), {}, 400,
                        "invalid_envelope"),
        "unknown write key": (json.dumps({"write_key": "wk_nope", "events": []}).encode(), {}, 401,
                              "unknown_write_key"),
        "oversized body": (b'{"write_key":"x","events":[' + b'"x",' * 40_000 + b'"x"]}', {}, 413, "body_too_large"),
        "gzip bomb": (gzip.compress(b"[" + b"0," * 3_000_000 + b"0]"), {"Content-Encoding": "gzip"}, 413,
                      "body_too_large"),
        "invalid utf-8": (b'{"write_key": "\xff\xfe", "events": []}', {}, 400, "malformed_json"),
        "nan": (b'{"write_key": "k", "events": [], "sent_at": NaN}', {}, 400, "malformed_json"),
    }  # fmt: skip
    for name, (body, headers, status, reason) in cases.items():
        response = httpx.post(url, content=body, headers={"Content-Type": "text/plain", **headers})
        assert (response.status_code, response.json()["error"]) == (status, reason), (name, response.text)
    all_invalid = {"write_key": site["write_key"], "visitor_id": "v", "events": [{"id": "x", "type": 5}]}
    response = httpx.post(url, content=json.dumps(all_invalid), headers={"Content-Type": "text/plain"})
    assert response.status_code == 400, response.text
    assert (response.json()["accepted"], response.json()["rejected"]) == (0, 1), response.text
    mixed = [pageview(int(time.time() * 1000), "/ok"), {"id": "bad", "type": "pageview", "ts": "x"}]
    response = httpx.post(
        url,
        content=json.dumps({"write_key": site["write_key"], "visitor_id": "v", "events": mixed}),
        headers={"User-Agent": BROWSER_UA},
    )
    assert response.status_code == 200 and response.json()["accepted"] == 1 and response.json()["rejected"] == 1
    wrong_method, no_route = httpx.get(url), httpx.get(f"{stack.ingest}/nothing")
    assert (wrong_method.status_code, wrong_method.json()["error"]) == (405, "method_not_allowed")
    assert wrong_method.headers["allow"] == "OPTIONS, POST"  # the CORS preflight is served there too
    segment_wrong_method = httpx.get(f"{stack.ingest}/v1/track")
    assert (segment_wrong_method.status_code, segment_wrong_method.headers["allow"]) == (405, "OPTIONS, POST")
    preflight = httpx.options(f"{stack.ingest}/v1/batch", headers={"Origin": "https://shop.test"})
    assert (preflight.status_code, preflight.headers["access-control-allow-origin"]) == (204, "https://shop.test")
    assert (no_route.status_code, no_route.json()["error"]) == (404, "not_found")
    assert httpx.get(f"{stack.ingest}/healthz").status_code == 200


def produce_raw(stack: RunningStack, topic: str, value: bytes, key: bytes) -> None:
    """Put bytes on one of the stack's topics as they are, past ingest's checks."""
    put_records(stack.settings.kafka_bootstrap, [(stack.settings.topic(topic), key, value)])


def worker_dead_letter(stack: RunningStack, marker: str) -> tuple[str, str] | None:
    """(reason, site) of the worker's dead letter holding the marker."""
    letter = dead_letter_with(stack, marker)
    if letter is None or letter.endpoint != "worker":
        return None
    return letter.reason.split(":")[0], letter.site_id


def test_rejected_events_go_to_the_dead_letter_topic_with_their_reason(stack: RunningStack) -> None:
    site = stack.create_site("dlq")
    marker = f"teleport-{uuid.uuid4()}"
    event = {"id": marker, "type": "teleport", "ts": int(time.time() * 1000)}
    assert send_batch(stack.ingest, site, "v", [event]) == 400

    letter = dead_letter_with(stack, marker)
    assert letter is not None
    assert (letter.reason, letter.site_id, letter.endpoint) == ("unknown_event_type", site["site_id"], "collect")


def test_an_undecodable_record_in_events_is_dead_lettered_by_the_worker_which_goes_on(stack: RunningStack) -> None:
    site = stack.create_site("poison")
    marker = f"poison-{uuid.uuid4()}"

    produce_raw(stack, EVENTS_TOPIC, f'{{"{marker}": 1}}'.encode(), visitor_key(site["site_id"], "v-poison"))
    assert send_batch(stack.ingest, site, "v-after", [pageview(int(time.time() * 1000), "/after")]) == 200
    stats = stack.wait_for_stats(site, {"pageviews": 1, "sessions": 1})
    assert (stats["pageviews"], stats["sessions"]) == (1, 1)  # the worker sessionized what came after
    assert worker_dead_letter(stack, marker) == ("undecodable_event", site["site_id"])


def test_an_undecodable_erasure_is_dead_lettered_by_the_worker_which_goes_on_erasing(stack: RunningStack) -> None:
    site = stack.create_site("poison-erasure")
    marker = f"poison-{uuid.uuid4()}"
    headers = {"Authorization": f"Bearer {site['read_key']}"}

    def active() -> int:
        return httpx.get(f"{stack.api}/v1/sites/{site['site_id']}/realtime", headers=headers).json()["active_visitors"]

    assert send_batch(stack.ingest, site, "forget-me", [pageview(int(time.time() * 1000), "/x")]) == 200
    assert wait_until(lambda: active() == 1, timeout_s=20)
    # On the partition the real erasure below takes.
    produce_raw(stack, ERASURES_TOPIC, f'{{"{marker}": 1}}'.encode(), visitor_key(site["site_id"], "forget-me"))
    admin = {"Authorization": f"Bearer {site['admin_key']}"}
    erased = httpx.delete(f"{stack.api}/v1/sites/{site['site_id']}/visitors/forget-me", headers=admin, timeout=30)
    assert erased.status_code == 202
    assert wait_until(lambda: active() == 0, timeout_s=20)  # the erasure after the bad record was applied
    assert worker_dead_letter(stack, marker) == ("undecodable_erasure", site["site_id"])


def test_realtime_shows_active_visitors_and_pageviews_per_minute_counting_a_retried_batch_once(
    stack: RunningStack,
) -> None:
    site = stack.create_site("realtime")
    now = int(time.time() * 1000)
    for n in range(3):
        batch = [pageview(now - 1000, "/live"), pageview(now, "/live/2")]
        for _ in range(2):  # the beacon's retry of a batch whose first try reached Kafka: the same event ids
            assert send_batch(stack.ingest, site, f"rt{n}", batch) == 200
        # The visitor's events stay in order on their partition: once this one counts, the retry was handled.
        assert send_batch(stack.ingest, site, f"rt{n}", [pageview(now, "/live/last")]) == 200
    headers = {"Authorization": f"Bearer {site['read_key']}"}

    def pages(body: dict[str, Any]) -> dict[str, int]:
        return {p["name"]: p["count"] for p in body["top_pages"]}

    def snapshot() -> dict[str, Any] | None:
        body = httpx.get(f"{stack.api}/v1/sites/{site['site_id']}/realtime", headers=headers).json()
        return body if body["active_visitors"] == 3 and pages(body).get("/live/last") == 3 else None

    body = wait_until(snapshot, timeout_s=30)
    assert body, httpx.get(f"{stack.api}/v1/sites/{site['site_id']}/realtime", headers=headers).json()
    assert len(body["pageviews_per_minute"]) == 30
    assert pages(body) == {"/live": 3, "/live/2": 3, "/live/last": 3}
    assert body["pageviews_last_30_min"] == 9 and len(body["recent_events"]) == 9


def test_realtime_answers_its_times_in_utc_iso_8601_like_every_other_route(stack: RunningStack) -> None:
    # It answered epoch milliseconds, where /stats, /intent and /customers answer ISO 8601 with a Z.
    site = stack.create_site("realtime-times")
    assert send_batch(stack.ingest, site, "v-times", [pageview(int(time.time() * 1000), "/times")]) == 200
    headers = {"Authorization": f"Bearer {site['read_key']}"}

    def snapshot() -> dict[str, Any] | None:
        body = httpx.get(f"{stack.api}/v1/sites/{site['site_id']}/realtime", headers=headers).json()
        return body if body["recent_events"] else None

    body = wait_until(snapshot, timeout_s=30)
    assert body, "the page view never reached the live state"

    def instant(text: str) -> dt.datetime:
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", text), text
        return dt.datetime.fromisoformat(text)

    at, (event,) = instant(body["at"]), body["recent_events"]
    minutes = [instant(m["minute"]) for m in body["pageviews_per_minute"]]
    assert minutes == [minutes[-1] - dt.timedelta(minutes=29 - n) for n in range(30)]
    assert minutes[-1] == at.replace(second=0, microsecond=0)
    assert dt.timedelta(0) <= at - instant(event["ts"]) < dt.timedelta(seconds=30)


def test_the_api_requires_the_sites_read_key(stack: RunningStack) -> None:
    site = stack.create_site("auth")
    other = stack.create_site("auth-other")
    path = f"{stack.api}/v1/sites/{site['site_id']}/stats"
    assert httpx.get(path).status_code == 401
    assert httpx.get(path, headers={"Authorization": f"Bearer {other['read_key']}"}).status_code == 403
    answer = httpx.get(
        path,
        params={"from": "2026-11-01T01:00:00+01:00", "to": "2026-11-23"},
        headers={"Authorization": f"Bearer {site['read_key']}"},
    )
    assert answer.status_code == 200
    # In UTC with a Z, as every time the API writes: JavaScript's Date reads a time without a zone as local.
    assert (answer.json()["from"], answer.json()["to"]) == ("2026-11-01T00:00:00.000Z", "2026-11-23T23:59:59.999Z")
    bad_range = httpx.get(path, params={"from": "tomorrow"}, headers={"Authorization": f"Bearer {site['read_key']}"})
    assert bad_range.status_code == 400


def test_a_live_stream_ends_once_its_read_key_is_revoked(stack: RunningStack) -> None:
    site = stack.create_site("live-revoked")
    url = f"{stack.api}/v1/sites/{site['site_id']}/live"
    key = {"Authorization": f"Bearer {site['read_key']}"}
    with httpx.stream("GET", url, headers=key, timeout=30) as live:
        lines = live.iter_lines()
        assert next(lines).startswith("data: ")
        stack.clickpulse("site", "revoke", site["site_id"])
        revoked_at = time.monotonic()
        # A snapshot comes at least every 6 s; the test stack's API trusts a checked key for 2 s.
        for _ in lines:
            assert time.monotonic() - revoked_at < 60, "the stream went on after its read key was revoked"
    assert httpx.get(url, headers=key).json()["error"] == "invalid_read_key"


def test_a_live_stream_asked_with_the_read_key_in_its_url_is_refused_and_never_streams(stack: RunningStack) -> None:
    # ?key= was taken for EventSource, and the key ended up in reverse proxies' and CDNs' access logs.
    site = stack.create_site("live-key-in-url")
    url = f"{stack.api}/v1/sites/{site['site_id']}/live"
    key = {"Authorization": f"Bearer {site['read_key']}"}
    for headers in ({}, key):  # refused even beside the header: the key still went into a log
        with httpx.stream("GET", url, params={"key": site["read_key"]}, headers=headers, timeout=10) as refused:
            assert refused.status_code == 401
            assert refused.headers["content-type"] == "application/json"
            assert json.loads(refused.read())["error"] == "key_in_url"
    with httpx.stream("GET", url, headers=key, timeout=10) as live:
        assert live.headers["content-type"].startswith("text/event-stream")
        assert next(live.iter_lines()).startswith("data: {")


def test_every_api_refusal_has_one_shape_with_a_machine_readable_reason(stack: RunningStack) -> None:
    site = stack.create_site("refusals")
    auth = {"Authorization": f"Bearer {site['read_key']}"}
    base = f"{stack.api}/v1/sites/{site['site_id']}"
    refusals = [
        (401, "missing_read_key", httpx.get(f"{base}/stats")),
        # A key in a URL is not taken: URLs end up in proxies' logs.
        (401, "missing_read_key", httpx.get(f"{base}/stats", params={"key": site["read_key"]})),
        (401, "key_in_url", httpx.get(f"{base}/live", params={"key": site["read_key"]})),
        (403, "invalid_read_key", httpx.get(f"{base}/stats", headers={"Authorization": "Bearer rk_wrong"})),
        (400, "bad_time", httpx.get(f"{base}/stats", params={"to": "0001-01-01T00:00:00+02:00"}, headers=auth)),
        (400, "bad_range", httpx.get(f"{base}/stats", params={"from": "2026-02-02", "to": "2026-02-01"}, headers=auth)),
        (400, "bad_cursor", httpx.get(f"{base}/intent", params={"cursor": "not-a-cursor"}, headers=auth)),
        (422, "invalid_parameter", httpx.get(f"{base}/intent", params={"limit": 0}, headers=auth)),
        (404, "not_found", httpx.get(f"{stack.api}/v1/nowhere", headers=auth)),
        # Not a redirect to an address made of the request's Host header.
        (404, "not_found", httpx.get(f"{base}/stats/", headers={**auth, "Host": "evil.example"})),
    ]
    for status, reason, response in refusals:
        assert (response.status_code, response.json()["error"]) == (status, reason), response.text
        assert isinstance(response.json()["detail"], str)
    ancient = httpx.get(f"{base}/stats", params={"to": "0001-01-01"}, headers=auth)
    assert ancient.status_code == 200 and ancient.json()["pageviews"] == 0


def test_dashboard_openapi_and_tracker_script_are_served(stack: RunningStack) -> None:
    assert "<title>Clickpulse" in httpx.get(f"{stack.api}/").text
    spec = httpx.get(f"{stack.api}/openapi.json").json()
    assert "/v1/sites/{site_id}/stats" in spec["paths"] and "/v1/sites/{site_id}/realtime" in spec["paths"]
    script = httpx.get(f"{stack.ingest}/cp.js")
    assert script.status_code == 200 and "max-age" in script.headers["cache-control"]
    assert httpx.get(f"{stack.ingest}/cp.js", headers={"If-None-Match": script.headers["etag"]}).status_code == 304
