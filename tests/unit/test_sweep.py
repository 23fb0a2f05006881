"""The sweep's work on one visitor, and which visitors it must keep visiting: those with a session open or a
cart whose abandonment may still be signalled; a visitor with nothing open drops out of the regular sweep."""

from __future__ import annotations

from clickpulse.records import EnrichedEvent, Product
from stream_jobs import intent
from stream_jobs.intent import IntentSettings
from stream_jobs.sessionizer import VisitorState, Windowing, apply, intent_visitor
from stream_jobs.sweep import needs_sweep, sweep_visitor

MIN = 60_000
W = Windowing(gap_ms=30 * MIN, grace_ms=5 * MIN, max_len_ms=24 * 60 * MIN)
S = IntentSettings(abandon_after_ms=60 * MIN)
WALL = 1_790_000_000_000


def visit(state: VisitorState, offset: int, type_: str, product: str = "") -> None:
    """One event of the visitor at WALL, through the sessionizer and the intent model as the batch path does."""
    products = [Product(product, product, "c", 10.0)] if product else []
    event = EnrichedEvent(
        event_id=f"e{offset}", site_id="s", visitor_id="v", type=type_, ts=WALL, received_at=WALL, path="/",
        products=products,
    )  # fmt: skip
    for applied, index in apply(state, [(offset, event)], W, WALL).applied:
        intent.observe(state.intent, applied, intent_visitor(state, index), S)


def test_an_idle_session_closes_by_sweep_and_then_the_visitor_needs_no_more_sweeping() -> None:
    state = VisitorState(site_id="s", visitor_id="v")
    visit(state, 0, "pageview")
    assert needs_sweep(state)
    assert sweep_visitor(state, W, S, WALL + 30 * MIN) == ([], [])  # not silent for gap + grace yet
    closed, signals = sweep_visitor(state, W, S, WALL + 35 * MIN)
    assert [(r.closed, r.events) for r in closed] == [(True, 1)] and signals == []
    assert not needs_sweep(state)


def test_a_left_cart_keeps_the_visitor_swept_until_its_abandonment_is_signalled() -> None:
    state = VisitorState(site_id="s", visitor_id="v")
    visit(state, 0, "add_to_cart", "p1")
    sweep_visitor(state, W, S, WALL + 35 * MIN)  # the session closes
    assert needs_sweep(state)  # the cart waits abandon_after_ms
    assert sweep_visitor(state, W, S, WALL + 90 * MIN)[1] == []
    _, signals = sweep_visitor(state, W, S, WALL + 95 * MIN)
    assert [s.kind for s in signals] == ["abandoned_cart"]
    assert not needs_sweep(state)


def test_a_bought_cart_needs_no_sweeping_once_the_session_closed() -> None:
    state = VisitorState(site_id="s", visitor_id="v")
    visit(state, 0, "add_to_cart", "p1")
    visit(state, 1, "purchase")
    sweep_visitor(state, W, S, WALL + 35 * MIN)
    assert not needs_sweep(state)
