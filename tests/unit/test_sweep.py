"""The sweep's work on one visitor, and when it has some: once a session open has been silent for gap + grace, or
a cart left behind may be signalled; a visitor with nothing open drops out of the regular sweep."""

from __future__ import annotations

from clickpulse.records import EnrichedEvent, Product
from stream_jobs import intent
from stream_jobs.intent import IntentSettings
from stream_jobs.sessionizer import VisitorState, Windowing, apply, intent_visitor
from stream_jobs.sweep import sweep_due, sweep_visitor

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


def test_an_idle_session_is_due_for_closing_once_silent_for_gap_and_grace_and_then_needs_no_more_sweeping() -> None:
    state = VisitorState(site_id="s", visitor_id="v")
    visit(state, 0, "pageview")
    assert sweep_due(state, W, S) == WALL + 35 * MIN
    assert sweep_visitor(state, W, S, WALL + 35 * MIN - 1) == ([], [])  # not silent for gap + grace yet
    closed, signals = sweep_visitor(state, W, S, WALL + 35 * MIN)
    assert [(r.closed, r.events) for r in closed] == [(True, 1)] and signals == []
    assert sweep_due(state, W, S) is None


def test_a_left_cart_is_due_abandon_after_the_session_closed_and_needs_no_sweeping_once_signalled() -> None:
    state = VisitorState(site_id="s", visitor_id="v")
    visit(state, 0, "add_to_cart", "p1")
    sweep_visitor(state, W, S, WALL + 35 * MIN)  # the session closes
    assert sweep_due(state, W, S) == WALL + 95 * MIN  # the cart waits abandon_after_ms
    assert sweep_visitor(state, W, S, WALL + 95 * MIN - 1)[1] == []
    _, signals = sweep_visitor(state, W, S, WALL + 95 * MIN)
    assert [s.kind for s in signals] == ["abandoned_cart"]
    assert sweep_due(state, W, S) is None


def test_a_bought_cart_needs_no_sweeping_once_the_session_closed() -> None:
    state = VisitorState(site_id="s", visitor_id="v")
    visit(state, 0, "add_to_cart", "p1")
    visit(state, 1, "purchase")
    sweep_visitor(state, W, S, WALL + 35 * MIN)
    assert sweep_due(state, W, S) is None
