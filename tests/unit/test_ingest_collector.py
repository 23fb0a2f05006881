"""What the collector makes of a request's events: attribution by the referrer data set its settings name, one dead
letter per rejection carrying the input as sent less a full IP, an e-mail address or a secret, and one count per drop,
rejected or left out by a site rule."""

from __future__ import annotations

import json
import re
from pathlib import Path

import msgspec
import redis.asyncio as aioredis

from clickpulse.records import MAX_DEAD_LETTER_BYTES, DeadLetter
from clickpulse.settings import Settings
from clickpulse.sites import Site
from ingest.body import decode_json
from ingest.collector import Collector
from ingest.incoming import IncomingEvent
from ingest.metrics import Metrics
from ingest.native_batch import decode_native
from ingest.segment_api import decode_segment
from ingest.site_cache import SiteCache

SITE = Site(site_id="s1", name="t", write_key="wk", read_key_sha256="x", created_at=0, event_types=["pageview"])
HEADERS = {"user-agent": "Mozilla/5.0 Chrome/131.0", "accept-language": "en"}


def collector_with(metrics: Metrics, settings: Settings | None = None) -> Collector:
    # records_for never talks to Redis: the client is made but never connected.
    redis = aioredis.Redis.from_url("redis://127.0.0.1:1/0")
    return Collector(settings or Settings(), SiteCache(redis), metrics, redis)


def event(**fields: object) -> IncomingEvent:
    return msgspec.convert({"id": "e1", "visitor_id": "v", "url": "https://s.test/", **fields}, IncomingEvent)


def test_a_dead_letter_gives_back_the_rejected_bytes_exactly_cut_at_the_limit() -> None:
    raw = b"\xff\x00caf\xc3\xa9" + b"x" * MAX_DEAD_LETTER_BYTES
    letter = DeadLetter.of("invalid_event", raw, "s1", "collect", 123)
    assert letter.raw.encode("latin-1") == raw[:MAX_DEAD_LETTER_BYTES]
    assert (letter.reason, letter.site_id, letter.endpoint, letter.received_at) == (
        "invalid_event",
        "s1",
        "collect",
        123,
    )


def test_each_drop_is_counted_once_rejections_apart_from_events_a_site_rule_left_out() -> None:
    metrics = Metrics()
    records, accepted, reasons = collector_with(metrics).records_for(
        HEADERS,
        "203.0.113.7",
        SITE,
        [event(type="teleport"), event(type="click"), event(type="pageview")],
        [],
        "collect",
    )
    assert accepted == 1 and reasons == ["unknown_event_type"]
    letter = msgspec.json.decode(records[-1][2], type=DeadLetter)
    assert letter.reason == "unknown_event_type" and b'"type":"teleport"' in letter.raw.encode("latin-1")
    page = metrics.render({}).splitlines()
    assert 'clickpulse_ingest_rejected_total{reason="unknown_event_type"} 1' in page
    assert 'clickpulse_ingest_left_out_total{reason="event_type_not_allowed"} 1' in page


def test_pageviews_are_attributed_by_the_referrer_data_set_the_collectors_settings_name(tmp_path: Path) -> None:
    data_set = tmp_path / "referers.json"
    data_set.write_text(json.dumps({"search.example": {"source": "Example Search", "medium": "search"}}))
    collector = collector_with(Metrics(), Settings(referrer_data_path=data_set))
    records, accepted, _ = collector.records_for(
        HEADERS, "203.0.113.7", SITE, [event(type="pageview", referrer="https://search.example/q")], [], "collect"
    )
    attributed = msgspec.json.decode(records[0][2])
    assert accepted == 1
    assert (attributed["source"], attributed["medium"], attributed["channel"]) == (
        "Example Search",
        "organic",
        "Organic Search",
    )


def test_a_dead_letter_keeps_only_the_network_of_a_relayed_ip_and_no_e_mail_address_or_secret() -> None:
    segment_body = msgspec.json.encode({"batch": [
        # no messageId: refused by its shape, dead-lettered as the message it was
        {"type": "track", "event": "X", "anonymousId": "a1", "context": {"ip": "198.51.100.90", "locale": "en"},
         "properties": {"email": "jane@mail.example"}},
        # no product id: refused by enrichment, dead-lettered as the decoded event with its relayed ip
        {"type": "track", "event": "Product Viewed", "messageId": "m2", "anonymousId": "a1",
         "context": {"ip": "2001:db8:abcd:12::7"}, "properties": {}},
        # an unknown type, quoted in the reason
        {"type": "jane@mail.example", "messageId": "m3", "anonymousId": "a1"},
    ]})  # fmt: skip
    good, bad = decode_segment(decode_json(segment_body), None, max_events=10)
    native_body = msgspec.json.encode({"write_key": "wk", "visitor_id": "v", "events": [
        {"type": "pageview", "ip": "203.0.113.9", "url": "https://s.test/?to=bob@example.org&token=t0k3n"},  # no id
        {"type": "pageview", "url": "https://s.test/?to=carol%40example.org", "title": "Hi\ndave@example.org"},
    ]})  # fmt: skip
    _, _, native_bad = decode_native(native_body, max_events=10)
    sdk_headers = {"user-agent": "analytics-python/2.3.0"}
    any_type = Site(site_id="s1", name="t", write_key="wk", read_key_sha256="x", created_at=0)
    records, _, reasons = collector_with(Metrics()).records_for(
        sdk_headers, "192.0.2.1", any_type, good, [*bad, *native_bad], "segment_batch"
    )
    assert reasons[-1] == "product_view_without_product_id"
    dead = [msgspec.json.decode(value, type=DeadLetter) for topic, _, value in records if topic == "events.dlq"]
    letters = [letter.raw for letter in dead]
    assert len(letters) == 5
    kept = " ".join(letters + [letter.reason for letter in dead])
    assert not {"198.51.100.90", "2001:db8:abcd:12::7", "203.0.113.9"} & set(re.findall(r"[\d.:a-f]{7,}", kept))
    assert "@" not in kept and "%40" not in kept and "t0k3n" not in kept and "token=(secret)" in kept
    assert {"198.51.100.0", "2001:db8:abcd::", "203.0.113.0"} <= set(re.findall(r"[\d.:a-f]{7,}", kept))
    assert '"locale":"en"' in letters[0] and '"email":"(email)"' in letters[0]
    assert msgspec.json.decode(letters[3])["title"] == "Hi\n(email)"  # still the JSON that was sent, escapes whole


def test_a_rejected_event_nested_deeper_than_any_accepted_one_is_dead_lettered_as_a_note_not_walked() -> None:
    deep = b"[" * 900 + b'"jane@mail.example"' + b"]" * 900
    _, _, bad = decode_native(b'{"write_key": "wk", "visitor_id": "v", "events": [' + deep + b"]}", max_events=10)
    records, _, _ = collector_with(Metrics()).records_for(HEADERS, "203.0.113.7", SITE, [], bad, "collect")
    letter = msgspec.json.decode(records[0][2], type=DeadLetter)
    assert letter.reason.startswith("invalid_event") and "nested deeper than" in letter.raw and "@" not in letter.raw
