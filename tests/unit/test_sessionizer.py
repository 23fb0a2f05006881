"""Session windows: the Kafka Streams reference cases, merging, lateness, idempotence, the 24 h cut."""

from __future__ import annotations

import random

import msgspec

from clickpulse.records import EnrichedEvent, IdentityLink
from stream_jobs.sessionizer import (
    SessionState,
    VisitorState,
    Windowing,
    _has_event,
    apply,
    close_idle,
    event_key,
    forget,
    session_id,
    state_decoder,
)

MIN = 60_000
# Kafka Streams' SessionWindows docs use an inactivity gap of 5 (minutes here) and no grace.
REF = Windowing(gap_ms=5 * MIN, grace_ms=0, max_len_ms=24 * 60 * MIN)


def ev(eid: str, minute: float, type_: str = "pageview", **kw: object) -> EnrichedEvent:
    fields: dict[str, object] = {"path": f"/{eid}", "received_at": 0, **kw}
    return EnrichedEvent(event_id=eid, site_id="s", visitor_id="v", type=type_, ts=int(minute * MIN), **fields)


def run(events: list[EnrichedEvent], w: Windowing = REF) -> tuple[VisitorState, dict[str, object]]:
    """Apply events one batch each (as separate polls would) and fold the emitted upserts like ClickHouse does."""
    state = VisitorState(site_id="s", visitor_id="v")
    table: dict[str, object] = {}
    for offset, e in enumerate(events):
        for record in apply(state, [(offset, e)], w, wall_ms=0).emitted:
            previous = table.get(record.session_id)
            if previous is None or previous.version <= record.version:  # type: ignore[attr-defined]
                table[record.session_id] = record
    live = {sid: r for sid, r in table.items() if not r.deleted}  # type: ignore[attr-defined]
    return state, live


def spans(live: dict[str, object]) -> list[tuple[float, float]]:
    return sorted((r.start / MIN, r.end / MIN) for r in live.values())  # type: ignore[attr-defined]


def test_events_within_the_gap_form_one_session_and_a_later_one_starts_another() -> None:
    _, live = run([ev("a", 10), ev("b", 12), ev("c", 20)])
    assert spans(live) == [(10, 12), (20, 20)]


def test_out_of_order_event_between_two_sessions_merges_them() -> None:
    _, live = run([ev("a", 10), ev("b", 12), ev("c", 20), ev("d", 16)])
    assert spans(live) == [(10, 20)]
    (merged,) = live.values()
    assert merged.events == 4 and merged.pageviews == 4  # type: ignore[attr-defined]


def test_merge_retracts_the_session_that_was_absorbed() -> None:
    state = VisitorState(site_id="s", visitor_id="v")
    apply(state, [(0, ev("a", 10)), (1, ev("b", 12)), (2, ev("c", 20))], REF, 0)
    emitted = apply(state, [(3, ev("d", 16))], REF, 0).emitted
    retracted = [r for r in emitted if r.deleted]
    assert [r.session_id for r in retracted] == [session_id("s", "v", 20 * MIN)]
    assert [r.session_id for r in emitted if not r.deleted] == [session_id("s", "v", 10 * MIN)]


def test_an_earlier_event_moves_the_start_and_retracts_the_old_id() -> None:
    _, live = run([ev("a", 10), ev("b", 8)])
    assert list(live) == [session_id("s", "v", 8 * MIN)]


def test_events_later_than_grace_are_counted_and_not_applied() -> None:
    w = Windowing(gap_ms=5 * MIN, grace_ms=2 * MIN, max_len_ms=24 * 60 * MIN)
    state, live = run([ev("a", 100), ev("late", 92)], w)  # 92 < 100 - 5 - 2
    assert state.late_events == 1
    assert spans(live) == [(100, 100)]


def test_event_within_grace_is_still_applied() -> None:
    w = Windowing(gap_ms=5 * MIN, grace_ms=2 * MIN, max_len_ms=24 * 60 * MIN)
    state, live = run([ev("a", 100), ev("ok", 94)], w)  # 94 >= 93: not late, its own session
    assert state.late_events == 0
    assert spans(live) == [(94, 94), (100, 100)]


def test_redelivered_offsets_and_duplicate_event_ids_change_nothing() -> None:
    state = VisitorState(site_id="s", visitor_id="v")
    apply(state, [(0, ev("a", 10)), (1, ev("b", 11))], REF, 0)
    again = apply(state, [(0, ev("a", 10)), (1, ev("b", 11)), (2, ev("b", 11))], REF, 0)
    assert again.duplicates == 3 and again.emitted == []
    assert [s.events for s in state.sessions] == [2]


def test_a_row_written_with_event_ids_still_knows_those_events_as_duplicates() -> None:
    old_row = msgspec.msgpack.encode(
        {"site_id": "s", "visitor_id": "v", "stream_time": 11 * MIN, "last_offset": 1,
         "sessions": [{"start": 10 * MIN, "end": 11 * MIN, "events": 2, "pageviews": 2, "event_ids": ["a", "b"]}]}
    )  # fmt: skip
    state = state_decoder.decode(old_row)
    assert state.sessions[0].event_ids == [] and state.sessions[0].event_keys == event_key("a") + event_key("b")
    retried = apply(state, [(2, ev("a", 10)), (3, ev("c", 12))], REF, 0)
    assert retried.duplicates == 1 and [s.events for s in state.sessions] == [3]


def test_an_event_key_matches_only_where_a_key_starts() -> None:
    session = SessionState(start=0, end=0, event_keys=bytes(range(16)))
    assert _has_event([session], bytes(range(8, 16)))
    assert not _has_event([session], bytes(range(4, 12)))


def test_shuffled_and_duplicated_deliveries_give_identical_sessions() -> None:
    rng = random.Random(3)
    minutes = sorted(rng.uniform(0, 300) for _ in range(60))
    events = [ev(f"e{i}", m, "pageview" if i % 3 else "click") for i, m in enumerate(minutes)]
    _, reference = run(events, Windowing(5 * MIN, 10_000 * MIN, 24 * 60 * MIN))
    for trial in range(5):
        stream = events + rng.sample(events, 15)
        random.Random(trial).shuffle(stream)
        _, live = run(stream, Windowing(5 * MIN, 10_000 * MIN, 24 * 60 * MIN))
        assert {k: (r.start, r.end, r.events, r.pageviews) for k, r in live.items()} == {  # type: ignore[attr-defined]
            k: (r.start, r.end, r.events, r.pageviews)
            for k, r in reference.items()  # type: ignore[attr-defined]
        }


def test_session_is_cut_at_its_maximum_length() -> None:
    w = Windowing(gap_ms=30 * MIN, grace_ms=0, max_len_ms=60 * MIN)
    _, live = run([ev(f"e{i}", i * 20) for i in range(6)], w)  # one event every 20 min for 100 min
    assert spans(live) == [(0, 40), (60, 100)]


def test_bounce_engaged_time_entry_exit_and_revenue() -> None:
    _, live = run(
        [
            ev("p1", 0, source="Google", medium="organic"),
            ev("l1", 1, "page_leave", engaged_ms=4000),
            ev("p2", 1, path="/cart"),
            ev("buy", 2, "purchase", revenue=20.5),
        ]
    )
    (s,) = live.values()
    assert (s.entry_page, s.exit_page, s.source) == ("/p1", "/cart", "Google")  # type: ignore[attr-defined]
    assert (s.engaged_ms, s.bounce, s.converted, s.revenue) == (4000, False, True, 20.5)  # type: ignore[attr-defined]


def test_single_short_pageview_is_a_bounce() -> None:
    _, live = run([ev("p1", 0), ev("l1", 0.1, "page_leave", engaged_ms=3000)])
    assert next(iter(live.values())).bounce is True  # type: ignore[attr-defined]


def test_a_single_short_page_with_a_purchase_is_no_bounce() -> None:
    _, live = run([ev("p1", 0), ev("buy", 0.05, "purchase", revenue=30.0)])
    assert next(iter(live.values())).bounce is False  # type: ignore[attr-defined]


def test_a_purchase_repeating_an_order_counts_once_in_revenue_and_conversions() -> None:
    # A reloaded receipt page sends its order again (another event id), in the session and in a later one.
    _, live = run(
        [
            ev("p1", 0),
            ev("buy", 1, "purchase", revenue=100.0, order_id="o-1"),
            ev("reload", 2, "purchase", revenue=100.0, order_id="o-1"),
            ev("other", 3, "purchase", revenue=5.0, order_id="o-2"),
            ev("no-id-1", 4, "purchase", revenue=1.0),
            ev("no-id-2", 4.5, "purchase", revenue=1.0),
            ev("p2", 30),
            ev("reload-later", 31, "purchase", revenue=100.0, order_id="o-1"),
        ]
    )
    first, later = sorted(live.values(), key=lambda r: r.start)  # type: ignore[attr-defined]
    assert (first.converted, first.revenue) == (True, 107.0)  # type: ignore[attr-defined]
    assert (later.converted, later.revenue) == (False, 0.0)  # type: ignore[attr-defined]


def test_revenue_is_kept_per_currency_and_purchases_naming_none_apart() -> None:
    _, live = run(
        [
            ev("a", 10),
            ev("eur", 11, "purchase", revenue=40.0, currency="EUR"),
            ev("c", 20),
            ev("usd", 21, "purchase", revenue=5.5, currency="USD"),
            ev("bridge", 16),  # merges the two sessions
            ev("none", 22, "purchase", revenue=1.25),
            ev("eur-2", 23, "purchase", revenue=0.1, currency="EUR"),
        ]
    )
    (merged,) = live.values()
    assert merged.revenue_by_currency == {"EUR": 40.1, "USD": 5.5, "XXX": 1.25}  # type: ignore[attr-defined]


def test_merging_sessions_keeps_each_order_counted_once() -> None:
    _, live = run(
        [
            ev("a", 10),
            ev("buy", 11, "purchase", revenue=40.0, order_id="o-1"),
            ev("c", 20),
            ev("reload", 21, "purchase", revenue=40.0, order_id="o-1"),
            ev("bridge", 16),
        ]
    )
    (merged,) = live.values()
    assert (merged.converted, merged.revenue) == (True, 40.0)  # type: ignore[attr-defined]


def test_idle_sessions_close_after_gap_plus_grace_of_wall_clock() -> None:
    w = Windowing(gap_ms=5 * MIN, grace_ms=1 * MIN, max_len_ms=24 * 60 * MIN)
    state = VisitorState(site_id="s", visitor_id="v")
    apply(state, [(0, ev("a", 10))], w, wall_ms=1_000_000)
    assert close_idle(state, w, wall_ms=1_000_000 + 5 * MIN) == []
    closed = close_idle(state, w, wall_ms=1_000_000 + 6 * MIN)
    assert len(closed) == 1 and closed[0].closed and closed[0].events == 1
    assert close_idle(state, w, wall_ms=1_000_000 + 7 * MIN) == []


def test_session_ids_are_deterministic_across_reprocessing() -> None:
    events = [ev("a", 10), ev("b", 30), ev("c", 12)]
    assert set(run(events)[1]) == set(run(events)[1])


def test_a_forgotten_visitor_keeps_no_sessions_and_skips_events_received_before_the_erasure() -> None:
    state = VisitorState(site_id="s", visitor_id="v")
    apply(state, [(0, ev("a", 0, received_at=1_000)), (1, ev("b", 1, received_at=2_000))], REF, wall_ms=0)
    state = forget(state, requested_at=5_000)
    assert (state.sessions, state.last_offset, state.erased_at) == ([], 1, 5_000)

    still_in_kafka = (2, ev("c", 2, received_at=4_000))
    after = (3, ev("d", 3, received_at=6_000))
    result = apply(state, [still_in_kafka, after], REF, wall_ms=0)
    assert result.erased == ["c"]
    assert [s.pageviews for s in state.sessions] == [1] and state.sessions[0].event_keys == event_key("d")


def test_a_bridging_event_never_merges_sessions_past_the_24_h_cut() -> None:
    w = Windowing(gap_ms=30 * MIN, grace_ms=60 * MIN, max_len_ms=24 * 60 * MIN)
    a = [ev(f"a{i}", i * 10) for i in range(0, 24 * 6)]  # 0 .. 23h50, one event every 10 min
    b = [ev("b", 24 * 60 + 25)]  # 24h25
    bridge = [ev("bridge", 23 * 60 + 59)]  # within the gap of both
    state, live = run(a + b + bridge, w)
    assert all(r.end - r.start < w.max_len_ms for r in live.values())  # type: ignore[attr-defined]
    assert spans(live) == [(0, 23 * 60 + 59), (24 * 60 + 25, 24 * 60 + 25)]
    assert all(s.end - s.start < w.max_len_ms for s in state.sessions)


def test_a_row_stored_by_an_older_worker_still_decodes() -> None:
    old_row = msgspec.msgpack.encode(
        {"site_id": "s", "visitor_id": "v", "version": 3, "sessions": [], "customer_id": "crm-1",
         "retracted": [{"start": 1, "end": 2, "emitted_id": "gone"}]}  # a field older workers wrote
    )  # fmt: skip
    state = state_decoder.decode(old_row)
    assert (state.version, state.customer_id, state.customer_since) == (3, "crm-1", 0)


def link(customer: str, minute: float) -> IdentityLink:
    return IdentityLink("s", "v", customer, int(minute * MIN))


def test_a_segment_track_naming_a_customer_links_the_visitor_without_any_identify() -> None:
    state = VisitorState(site_id="s", visitor_id="v")
    apply(state, [(0, ev("page", 10))], REF, 0)
    result = apply(state, [(1, ev("track", 11, "product_view", customer_id="crm-1"))], REF, 0)
    assert (result.links, state.customer_id) == ([link("crm-1", 11)], "crm-1")
    again = apply(state, [(2, ev("track-2", 12, "add_to_cart", customer_id="crm-1"))], REF, 0)
    assert again.links == []  # the same customer again is no new link


def test_an_older_identify_replayed_or_late_never_takes_the_visitor_back_to_an_earlier_customer() -> None:
    w = Windowing(gap_ms=5 * MIN, grace_ms=60 * MIN, max_len_ms=24 * 60 * MIN)
    state = VisitorState(site_id="s", visitor_id="v")
    identify_a, identify_b = ev("id-a", 10, "identify", customer_id="A"), ev("id-b", 100, "identify", customer_id="B")
    apply(state, [(0, identify_a), (1, identify_b)], w, 0)
    within_grace = apply(state, [(2, ev("id-a-retry", 50, "identify", customer_id="A"))], w, 0)
    assert (within_grace.links, within_grace.late, state.customer_id) == ([], 0, "B")
    late = apply(state, [(3, ev("id-a-old", 1, "identify", customer_id="A"))], w, 0)
    assert (late.links, late.late, state.customer_id) == ([], 1, "B")
    assert state.sessions[-1].customer_id == "B"


def test_a_session_before_the_identify_stays_anonymous_when_it_is_closed() -> None:
    state = VisitorState(site_id="s", visitor_id="v")
    apply(state, [(0, ev("a", 10))], REF, wall_ms=0)
    apply(state, [(1, ev("b", 60)), (2, ev("id", 61, "identify", customer_id="crm-1"))], REF, wall_ms=0)
    closed = close_idle(state, REF, wall_ms=REF.gap_ms + REF.grace_ms)
    assert sorted((r.start // MIN, r.customer_id) for r in closed) == [(10, ""), (60, "crm-1")]
    assert [(s.start // MIN, s.customer_id) for s in state.sessions] == [(10, ""), (60, "crm-1")]


def test_a_late_event_naming_a_customer_neither_links_nor_changes_the_customer() -> None:
    state = VisitorState(site_id="s", visitor_id="v")
    apply(state, [(0, ev("a", 100))], REF, 0)
    late = apply(state, [(1, ev("late-id", 10, "identify", customer_id="A"))], REF, 0)
    assert (late.late, late.links, state.customer_id) == (1, [], "")


def test_two_identifies_in_one_batch_give_one_link_each_naming_its_own_customer() -> None:
    state = VisitorState(site_id="s", visitor_id="v")
    identify_a, identify_b = ev("id-a", 10, "identify", customer_id="A"), ev("id-b", 11, "identify", customer_id="B")
    result = apply(state, [(0, identify_a), (1, identify_b)], REF, 0)
    assert (result.links, state.customer_id) == ([link("A", 10), link("B", 11)], "B")


def test_a_redelivered_identify_gives_no_second_link() -> None:
    state = VisitorState(site_id="s", visitor_id="v")
    identify = ev("id-a", 10, "identify", customer_id="A")
    first = apply(state, [(0, identify)], REF, 0)
    again = apply(state, [(0, identify), (1, identify)], REF, 0)  # the batch again, and a retry at a new offset
    assert (first.links, again.links, again.duplicates) == ([link("A", 10)], [], 2)


def test_a_day_long_session_of_a_script_keeps_a_bounded_row_and_still_knows_a_recent_retry() -> None:
    # One visitor id sending an event a second: the row is decoded and encoded at each of its batches.
    state, n = VisitorState(site_id="s", visitor_id="v"), 50_000
    events = [ev(f"e{i}", i / 60, "purchase", order_id=f"o{i}", revenue=1.0) for i in range(n)]
    numbered = list(enumerate(events))
    for start in range(0, n, 1_000):
        apply(state, numbered[start : start + 1_000], REF, wall_ms=0)
    (session,) = state.sessions
    assert session.events == n and session.revenue == n  # every event and order counts
    assert len(msgspec.json.encode(state)) < 200 * 1024
    retried = apply(state, [(n, ev(f"e{n - 10}", (n - 10) / 60, "purchase", order_id=f"o{n - 10}", revenue=1.0))],
                    REF, wall_ms=0)  # fmt: skip
    assert retried.duplicates == 1 and not retried.applied
