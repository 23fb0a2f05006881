"""Interest and purchase intent: scores in [0, 1] with reasons, decay, signals at most once a day."""

from __future__ import annotations

import math

import msgspec

from bench.intent_quality import evaluate, roc_auc
from clickpulse.records import EnrichedEvent, Product
from stream_jobs import intent
from stream_jobs.intent import DAY_MS, IntentSettings, IntentState

S = IntentSettings()
T0 = 1_790_000_000_000


def ev(type_: str, ts: int = T0, product: str = "", **kw: object) -> EnrichedEvent:
    products = [Product(product, category="shoes")] if product else []
    return EnrichedEvent(event_id=f"{type_}{ts}", site_id="s", visitor_id="v", type=type_, ts=ts, received_at=ts,
                         products=products, **kw)  # fmt: skip


def feed(state: IntentState, events: list[EnrichedEvent], session: int = 1, customer: str = "") -> list:
    out = []
    for e in events:
        out += intent.observe(state, e, intent.Visitor("s", "v", customer, session), S)
    return out


def test_score_grows_with_evidence_and_stays_below_one() -> None:
    state = IntentState()
    previous = 0.0
    for i, kind in enumerate(["product_view", "product_view", "add_to_cart", "checkout_start"]):
        feed(state, [ev(kind, T0 + i, "p1")])
        assert previous < state.score < 1
        previous = state.score


def test_reasons_explain_the_score_and_top_products_rank_interest() -> None:
    state = IntentState()
    feed(state, [ev("product_view", T0, "p1"), ev("product_view", T0 + 1, "p1"), ev("add_to_cart", T0 + 2, "p1"),
                 ev("product_view", T0 + 3, "p2")])  # fmt: skip
    assert intent.reasons_of(state, S)[0] == "added p1 to cart"
    assert "viewed p1 again" in intent.reasons_of(state, S)
    assert intent.top_products(state) == ["p1", "p2"]


def test_interest_decays_with_the_half_life() -> None:
    state = IntentState()
    feed(state, [ev("add_to_cart", T0, "p1")])
    fresh = sum(state.features.values())
    feed(state, [ev("search", T0 + S.half_life_ms)])
    assert math.isclose(state.features["added p1 to cart"], fresh / 2, rel_tol=1e-6)


def test_within_a_half_life_the_weights_are_kept_as_of_the_reference_and_read_faded() -> None:
    lazy, eager = IntentState(), IntentState()
    feed(lazy, [ev("add_to_cart", T0, "p1"), ev("product_view", T0 + S.half_life_ms // 2, "p2")])
    feed(eager, [ev("add_to_cart", T0, "p1")])
    assert lazy.updated_at == T0 and lazy.features["added p1 to cart"] == S.add_to_cart
    # The same weights faded eagerly to the second event: the same score, to rounding.
    eager.features = {r: w * 0.5**0.5 for r, w in eager.features.items()}
    feed(eager, [ev("product_view", T0, "p2")])
    assert lazy.score == eager.score
    assert math.isclose(intent.fading(lazy, S) * lazy.features["viewed p2"], S.product_view)


def test_an_older_event_counts_as_of_the_newest_and_weights_never_grow_back() -> None:
    state = IntentState()
    feed(state, [ev("search", T0), ev("search", T0 + S.half_life_ms // 2)])
    score = state.score
    feed(state, [ev("pageview", T0 + 1)])
    assert state.score == score and intent.fading(state, S) == 0.5**0.5


def test_moving_the_reference_drops_the_weights_that_faded_below_a_hundredth() -> None:
    state = IntentState()
    feed(state, [ev("search", T0), ev("add_to_cart", T0 + 1, "p1")])
    feed(state, [ev("pageview", T0 + 6 * S.half_life_ms)])  # 0.5 / 64 < 0.01 < 4.0 / 64
    assert state.updated_at == T0 + 6 * S.half_life_ms
    assert set(state.features) == {"added p1 to cart"} and intent.fading(state, S) == 1.0


def test_crossing_the_threshold_signals_once_per_day_with_reasons() -> None:
    state = IntentState()
    events = [ev("product_view", T0, "p1"), ev("add_to_cart", T0 + 1, "p1"), ev("checkout_start", T0 + 2)]
    signals = feed(state, events)
    assert [s.kind for s in signals] == ["high_intent"]
    assert signals[0].score >= S.threshold and signals[0].products == ["p1"] and signals[0].reasons
    state.score = 0.0  # fall back and cross again the same day: no second signal
    assert feed(state, [ev("checkout_start", T0 + 3)]) == []
    state.score = 0.0
    assert [s.kind for s in feed(state, [ev("checkout_start", T0 + DAY_MS)])] == ["high_intent"]


def test_abandoned_cart_signals_after_the_session_ended_unless_bought() -> None:
    state = IntentState()
    feed(state, [ev("add_to_cart", T0, "p1")])
    visitor = intent.Visitor("s", "v", "", 1)
    assert intent.check_abandoned(state, visitor, 10**9, S) is None  # the session is still open
    intent.session_ended(state, wall_ms=1000)
    assert intent.check_abandoned(state, visitor, 1000 + S.abandon_after_ms - 1, S) is None
    signal = intent.check_abandoned(state, visitor, 1000 + S.abandon_after_ms, S)
    assert signal is not None and signal.kind == "abandoned_cart" and signal.products == ["p1"]
    assert intent.check_abandoned(state, visitor, 2000 + S.abandon_after_ms, S) is None  # once

    bought = IntentState()
    feed(bought, [ev("add_to_cart", T0, "p1"), ev("purchase", T0 + 5)])
    intent.session_ended(bought, wall_ms=1000)
    assert intent.check_abandoned(bought, visitor, 10**12, S) is None


def test_known_customer_returning_to_a_viewed_product_is_signalled() -> None:
    state = IntentState()
    feed(state, [ev("product_view", T0, "p1")], session=1, customer="crm-1")
    assert feed(state, [ev("product_view", T0 + DAY_MS, "p2")], session=2, customer="crm-1") == []
    signals = feed(state, [ev("product_view", T0 + DAY_MS + 1, "p1")], session=2, customer="crm-1")
    assert [(s.kind, s.products, s.customer_id) for s in signals] == [("returning_customer", ["p1"], "crm-1")]


def test_signal_ids_are_deterministic() -> None:
    a = intent.signal_id("s", "v", "high_intent", "p1", T0)
    assert a == intent.signal_id("s", "v", "high_intent", "p1", T0 + 1000) != intent.signal_id("s", "v", "x", "p1", T0)


def test_roc_auc_of_perfect_random_and_inverted_rankings() -> None:
    assert roc_auc([0.9, 0.8, 0.1], [True, True, False]) == 1.0
    assert roc_auc([0.5, 0.5], [True, False]) == 0.5
    assert roc_auc([0.1, 0.9], [True, False]) == 0.0


def test_on_simulated_traffic_the_score_ranks_future_buyers_first() -> None:
    figures = evaluate(shoppers=600, seed=5)
    assert figures["roc_auc_before_purchase"] >= 0.8
    assert figures["roc_auc_first_visit_of_returning"] >= 0.8
    assert figures["abandoned_cart_signals"] > 0


def test_a_visitor_naming_thousands_of_products_keeps_a_bounded_state_and_the_strongest_interest() -> None:
    # A script posing as a shopper: its row is decoded, scored and stored at each of its events.
    state, n = IntentState(), 5_000
    feed(
        state, [ev("product_view", T0, "wanted"), ev("product_view", T0, "wanted"), ev("add_to_cart", T0 + 1, "wanted")]
    )
    events = []
    for i in range(n):
        events.append(ev("product_view", T0 + 2 + 2 * i, f"p{i}"))
        events.append(ev("add_to_cart", T0 + 3 + 2 * i, f"p{i}"))
    feed(state, events)
    for kept in (state.features, state.product_interest, state.views, state.viewed_in_session, state.cart):
        assert 0 < len(kept) <= intent.MAX_KEYS
    assert len(msgspec.json.encode(state)) < 64 * 1024
    assert f"p{n - 1}" in state.cart  # the latest cart lines stay
    assert intent.top_products(state)[0] == "wanted"  # viewed twice and added before the flood: the strongest
    feed(state, [ev("product_view", T0 + 3 * n, "wanted")])
    assert "viewed wanted again" in state.features and state.views["wanted"] == 3
