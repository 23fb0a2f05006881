"""Decoding of the beacon batch and the Segment API: shape checks, per-event rejection, mapping."""

from __future__ import annotations

import base64
import gzip

import msgspec
import pytest

from ingest.body import decode_json, inflate
from ingest.native_batch import decode_native
from ingest.rejection import RequestRejected
from ingest.segment_api import decode_segment, write_key_from


def test_native_batch_keeps_valid_events_and_rejects_invalid_ones_with_reasons() -> None:
    payload = {
        "write_key": "wk",
        "visitor_id": "v1",
        "sent_at": 1000,
        "events": [
            {"id": "a", "type": "pageview", "ts": 900, "url": "https://x.test/"},
            {"id": "b", "type": "pageview", "ts": "yesterday"},
            {"type": "pageview"},
            "not an object",
        ],
    }
    key, good, bad = decode_native(msgspec.json.encode(payload), max_events=10)
    assert key == "wk"
    assert [e.id for e in good] == ["a"] and good[0].visitor_id == "v1" and good[0].sent_at == 1000
    assert len(bad) == 3 and all(b.reason.startswith("invalid_event") for b in bad)
    assert [msgspec.json.encode(b.raw) for b in bad[1:]] == [b'{"type":"pageview"}', b'"not an object"']


@pytest.mark.parametrize(
    "body",
    [
        b'{"write_key":"wk","events":[{"id":"a","type":"pageview"},{"id":"b","type":5,"name":"\xff"}]}',
        b'{"write_key":"wk","events":[{"id":"a","type":"pageview","ts":NaN}]}',
        b"",
        b'{"write_key":"wk","events":[{"id":"a","type":5},{"id":"b","type":"pageview","url":"https://s.te',
        b'{"write_key":"wk","events":[{"id":"a","type":"pageview","unknown_field":"\xff"}]}',
    ],
    ids=["bad-utf8-in-a-bad-event", "nan", "empty", "truncated-after-a-bad-event", "bad-utf8-in-an-unknown-field"],
)
def test_native_batch_with_bad_utf8_nan_truncation_or_no_body_is_a_400_even_inside_one_event(body: bytes) -> None:
    with pytest.raises(RequestRejected) as err:
        decode_native(body, max_events=10)
    assert err.value.status == 400


def test_native_batch_with_too_deeply_nested_props_is_a_400() -> None:
    deep: object = "x"
    for _ in range(40):
        deep = {"k": deep}
    body = msgspec.json.encode({"write_key": "wk", "events": [{"id": "a", "type": "custom", "props": deep}]})
    with pytest.raises(RequestRejected) as err:
        decode_native(body, max_events=10)
    assert (err.value.status, err.value.reason) == (400, "too_deeply_nested")
    shallow = {"write_key": "wk", "events": [{"id": "a", "type": "custom", "props": {"items": [{"id": 1}]}}] * 9}
    assert len(decode_native(msgspec.json.encode(shallow), max_events=10)[1]) == 9


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ({"events": []}, "invalid_envelope"),
        ({"write_key": 5, "events": []}, "invalid_envelope"),
        ({"write_key": "wk", "events": "x"}, "invalid_envelope"),
        ([1, 2], "invalid_envelope"),
    ],
)
def test_native_batch_with_a_broken_envelope_is_a_400(payload: object, reason: str) -> None:
    with pytest.raises(RequestRejected) as err:
        decode_native(msgspec.json.encode(payload), max_events=10)
    assert (err.value.status, err.value.reason) == (400, reason)


def test_too_many_events_is_a_413() -> None:
    with pytest.raises(RequestRejected) as err:
        decode_native(msgspec.json.encode({"write_key": "k", "events": [{}] * 11}), max_events=10)
    assert err.value.status == 413


@pytest.mark.parametrize("body", [b"{bad", b'{"a": NaN}', b'{"a": Infinity}', b"\xff\xfe{}", b'{"k": "\xff"}', b""])
def test_malformed_json_nan_infinity_and_bad_utf8_are_400(body: bytes) -> None:
    with pytest.raises(RequestRejected) as err:
        decode_json(body)
    assert err.value.status == 400


def test_gzip_bomb_is_refused_after_decompression_limit() -> None:
    bomb = gzip.compress(b"0" * 10_000_000)
    with pytest.raises(RequestRejected) as err:
        inflate(bomb, max_out=100_000)
    assert err.value.status == 413
    assert inflate(gzip.compress(b'{"ok":1}'), max_out=100) == b'{"ok":1}'


def test_segment_write_key_from_basic_auth_or_body() -> None:
    basic = "Basic " + base64.b64encode(b"wk_abc:").decode()
    assert write_key_from({"authorization": basic}, {}) == "wk_abc"
    assert write_key_from({}, {"writeKey": "wk_body"}) == "wk_body"
    with pytest.raises(RequestRejected) as err:
        write_key_from({}, {})
    assert err.value.status == 401


def test_segment_ecommerce_names_map_onto_ours() -> None:
    batch = {
        "batch": [
            {"type": "track", "event": "Product Viewed", "messageId": "m1", "anonymousId": "a1",
             "properties": {"sku": "p9", "price": 5}},
            {"type": "track", "event": "Order Completed", "messageId": "m2", "userId": "u1",
             "properties": {"order_id": "o1", "total": 30, "products": [{"product_id": "p9"}]}},
            {"type": "page", "messageId": "m3", "anonymousId": "a1", "properties": {"url": "https://x.test/a"},
             "context": {"userAgent": "Mozilla/5.0 Chrome/120", "ip": "203.0.113.9"}},
            {"type": "identify", "messageId": "m4", "userId": "crm-1", "anonymousId": "a1", "traits": {"plan": "pro"}},
        ]
    }  # fmt: skip
    good, bad = decode_segment(batch, None, max_events=10)
    assert bad == []
    assert [e.type for e in good] == ["product_view", "purchase", "pageview", "identify"]
    assert good[0].props["product_id"] == "p9"
    assert good[1].props["revenue"] == 30 and good[1].props["items"] == [{"product_id": "p9"}]
    assert (good[2].url, good[2].user_agent, good[2].ip) == (
        "https://x.test/a",
        "Mozilla/5.0 Chrome/120",
        "203.0.113.9",
    )
    assert good[3].props["customer_id"] == "crm-1" and good[3].visitor_id == "a1"


def test_an_order_completed_whose_total_is_a_numeric_string_keeps_it_as_its_revenue() -> None:
    order = {"type": "track", "event": "Order Completed", "messageId": "m1", "userId": "u1",
             "properties": {"order_id": "o1", "total": "12.50", "currency": "usd"}}  # fmt: skip
    good, bad = decode_segment({"batch": [order]}, None, max_events=10)
    assert bad == [] and good[0].props["revenue"] == "12.50"


def test_segment_messages_without_ids_are_rejected_one_by_one() -> None:
    good, bad = decode_segment(
        {"batch": [{"type": "track", "event": "X", "anonymousId": "a"}, {"type": "nope", "messageId": "m"}]},
        None,
        max_events=10,
    )
    assert good == [] and len(bad) == 2


@pytest.mark.parametrize(
    "body",
    [b"[" * 100_000 + b"]" * 100_000, b'{"a":' * 5_000 + b"1" + b"}" * 5_000, b"[" * 40 + b"]" * 40],
    ids=["past-the-decoder-recursion-limit", "deep-objects", "just-past-our-limit"],
)
def test_deeply_nested_json_is_a_400_not_a_recursion_crash(body: bytes) -> None:
    with pytest.raises(RequestRejected) as err:
        decode_json(body)
    assert (err.value.status, err.value.reason) == (400, "too_deeply_nested")


def test_realistic_nesting_and_many_flat_brackets_still_decode() -> None:
    assert decode_json(b'{"props": {"products": [{"tags": ["a"]}]}}') == {"props": {"products": [{"tags": ["a"]}]}}
    flat = b"[" + b",".join([b"[]"] * 1000) + b"]"
    assert len(decode_json(flat)) == 1000


def test_truncated_gzip_is_a_400_not_a_partial_body() -> None:
    whole = gzip.compress(b'{"write_key": "wk", "events": []}')
    with pytest.raises(RequestRejected) as err:
        inflate(whole[:-6], max_out=1000)
    assert (err.value.status, err.value.reason) == (400, "bad_compression")


def test_segment_ids_and_agents_longer_than_their_bounds_reject_only_that_message() -> None:
    messages = [
        {"type": "page", "messageId": "m1", "anonymousId": "a" * 5000},
        {"type": "page", "messageId": "m2", "anonymousId": "a", "context": {"ip": "1" * 500}},
        {"type": "page", "messageId": "m3", "anonymousId": "a", "context": {"userAgent": "U" * 100_000}},
        {"type": "page", "messageId": "m4", "anonymousId": "a"},
    ]
    good, bad = decode_segment({"batch": messages}, None, max_events=10)
    assert [e.id for e in good] == ["m4"] and len(bad) == 3
