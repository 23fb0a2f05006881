"""Interest and purchase intent per visitor, from behaviour with time decay. Pure logic, no Faust.

Every behaviour adds weight to a named feature ("viewed p3", "added p3 to cart", ...); all features
decay with a half-life in event time. The score is 1 - exp(-total / scale): in [0, 1), monotone in
the evidence, and explainable, because the features that weigh most are the reasons.

Signals (each at most once per visitor, product and day; ids are deterministic so re-emission after
a crash is idempotent):
- high_intent: the score crosses the site's threshold upwards;
- abandoned_cart: the cart is not empty, no purchase followed, and the visitor's session ended
  `abandon_after_ms` of wall-clock time ago;
- returning_customer: an identified customer comes back, in a later session, to a product they viewed.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated

import msgspec

from clickpulse.records import EnrichedEvent, IntentSignal

DAY_MS = 86_400_000


class IntentSettings(msgspec.Struct, frozen=True):
    """Per-site knobs with sound defaults; a site may override any of them (see tuned). The ranges keep
    the model's divisions defined: a worker must never meet a half-life or scale of zero."""

    half_life_ms: Annotated[int, msgspec.Meta(gt=0)] = 3 * DAY_MS
    scale: Annotated[float, msgspec.Meta(gt=0)] = 8.0
    threshold: Annotated[float, msgspec.Meta(gt=0, le=1)] = 0.7
    abandon_after_ms: Annotated[int, msgspec.Meta(gt=0)] = 30 * 60 * 1000
    product_view: float = 1.0
    repeat_view: float = 1.5
    dwell_per_30s: float = 0.5
    category_view: float = 0.3
    search: float = 0.5
    add_to_cart: float = 4.0
    remove_from_cart: float = -2.0
    checkout: float = 6.0
    return_visit: float = 2.0
    identified: float = 1.0


def tuned(overrides: Mapping[str, float]) -> IntentSettings:
    """The defaults with a site's overrides, checked against the fields' types and ranges (raises
    msgspec.ValidationError). Not strict: JSON gives back a whole number stored for an int field as a float."""
    return msgspec.convert({**msgspec.to_builtins(IntentSettings()), **overrides}, IntentSettings, strict=False)


class IntentState(msgspec.Struct, omit_defaults=True):
    updated_at: int = 0  # event time the decayed values refer to
    features: dict[str, float] = {}  # reason -> decayed weight
    product_interest: dict[str, float] = {}
    category_interest: dict[str, float] = {}
    views: dict[str, int] = {}  # product -> views (not decayed), for "repeat view"
    viewed_in_session: dict[str, int] = {}  # product -> index of the session that first viewed it
    cart: dict[str, int] = {}
    cart_at: int = 0
    purchased_at: int = 0
    sessions_seen: int = 0
    score: float = 0.0
    current_page: str = ""
    current_product: str = ""
    ended_wall: int = 0  # wall-clock time the visitor's last session closed; 0 while one is open
    sent: list[str] = []  # ids of the last 50 signals emitted, whatever their age


@dataclass(frozen=True, slots=True)
class Visitor:
    site_id: str
    visitor_id: str
    customer_id: str
    session_index: int  # 1-based count of sessions so far


def _decay(state: IntentState, ts: int, s: IntentSettings) -> None:
    if ts <= state.updated_at:
        return
    if state.updated_at:
        factor = 0.5 ** ((ts - state.updated_at) / s.half_life_ms)
        state.features = _decayed(state.features, factor)
        state.product_interest = _decayed(state.product_interest, factor)
        state.category_interest = _decayed(state.category_interest, factor)
    state.updated_at = ts


def _decayed(weights: dict[str, float], factor: float) -> dict[str, float]:
    """The weights times factor, those that fade below 0.01 dropped. Built anew: this runs for every event, and a new
    dict takes about two thirds of the time of updating each weight in place."""
    return {key: weight for key, value in weights.items() if abs(weight := value * factor) >= 0.01}


def _add(state: IntentState, reason: str, weight: float) -> None:
    state.features[reason] = state.features.get(reason, 0.0) + weight


def score_of(state: IntentState, s: IntentSettings) -> float:
    total = sum(state.features.values())
    return round(1 - math.exp(-max(total, 0.0) / s.scale), 4)


def reasons_of(state: IntentState, limit: int = 5) -> list[str]:
    ranked = sorted(((w, r) for r, w in state.features.items() if w > 0.05), reverse=True)
    return [r for _, r in ranked[:limit]]


def top_products(state: IntentState, limit: int = 3) -> list[str]:
    ranked = sorted(state.product_interest.items(), key=lambda kv: (-kv[1], kv[0]))
    return [p for p, w in ranked[:limit] if w > 0]


def signal_id(site_id: str, visitor_id: str, kind: str, product: str, ts: int) -> str:
    day = ts // DAY_MS
    return hashlib.blake2b(f"{site_id}|{visitor_id}|{kind}|{product}|{day}".encode(), digest_size=12).hexdigest()


def _signal(
    state: IntentState, v: Visitor, kind: str, products: list[str], ts: int, s: IntentSettings
) -> IntentSignal | None:
    sid = signal_id(v.site_id, v.visitor_id, kind, ",".join(sorted(products)), ts)
    if sid in state.sent:
        return None
    state.sent = [*state.sent[-49:], sid]
    return IntentSignal(
        id=sid,
        site_id=v.site_id,
        kind=kind,
        visitor_id=v.visitor_id,
        customer_id=v.customer_id,
        score=score_of(state, s),
        at=ts,
        reasons=reasons_of(state),
        products=products,
    )


def observe(state: IntentState, event: EnrichedEvent, v: Visitor, s: IntentSettings) -> list[IntentSignal]:
    """Fold one (non-bot, non-late) event in; return the signals it triggers."""
    _decay(state, event.ts, s)
    before = state.score
    out: list[IntentSignal] = []
    if v.session_index > state.sessions_seen:
        if state.sessions_seen:
            _add(state, "returning visitor", s.return_visit)
        state.sessions_seen = v.session_index
        state.ended_wall = 0
    kind = event.type
    product = event.products[0] if event.products else None
    if kind == "pageview":
        state.current_page, state.current_product = event.path, ""
    elif kind == "product_view" and product is not None:
        pid = product.product_id
        state.current_product = pid
        state.views[pid] = state.views.get(pid, 0) + 1
        state.product_interest[pid] = state.product_interest.get(pid, 0.0) + s.product_view
        _add(state, f"viewed {pid}", s.product_view)
        if state.views[pid] > 1:
            _add(state, f"viewed {pid} again", s.repeat_view)
        if product.category:
            state.category_interest[product.category] = state.category_interest.get(product.category, 0.0) + 1
            _add(state, f"browsed {product.category}", s.category_view)
        first_session = state.viewed_in_session.setdefault(pid, v.session_index)
        if v.customer_id and first_session < v.session_index:
            signal = _signal(state, v, "returning_customer", [pid], event.ts, s)
            if signal:
                out.append(signal)
    elif kind in ("page_leave", "heartbeat") and state.current_product and event.engaged_ms:
        dwell = s.dwell_per_30s * min(event.engaged_ms / 30_000, 6)
        state.product_interest[state.current_product] = state.product_interest.get(state.current_product, 0) + dwell
        _add(state, f"spent time on {state.current_product}", dwell)
    elif kind == "search":
        _add(state, "searched the shop", s.search)
    elif kind == "add_to_cart" and product is not None:
        state.cart[product.product_id] = state.cart.get(product.product_id, 0) + max(product.quantity, 1)
        state.cart_at = event.ts
        state.product_interest[product.product_id] = state.product_interest.get(product.product_id, 0) + s.add_to_cart
        _add(state, f"added {product.product_id} to cart", s.add_to_cart)
    elif kind == "remove_from_cart" and product is not None:
        state.cart.pop(product.product_id, None)
        _add(state, f"removed {product.product_id} from cart", s.remove_from_cart)
    elif kind == "checkout_start":
        _add(state, "started checkout", s.checkout)
    elif kind == "identify":
        _add(state, "known customer", s.identified)
    elif kind == "purchase":
        # Bought: the intent is fulfilled. Keep interest (for recommendations), drop the cart and the push.
        state.purchased_at = event.ts
        state.cart = {}
        state.features = {r: w for r, w in state.features.items() if r.startswith(("viewed", "browsed"))}
    state.score = score_of(state, s)
    if before < s.threshold <= state.score:
        signal = _signal(state, v, "high_intent", top_products(state)[:1], event.ts, s)
        if signal:
            out.append(signal)
    return out


def session_ended(state: IntentState, wall_ms: int) -> None:
    state.ended_wall = wall_ms


def _abandoned_cart_id(state: IntentState, v: Visitor) -> str:
    return signal_id(v.site_id, v.visitor_id, "abandoned_cart", ",".join(sorted(state.cart)), state.cart_at)


def abandonment_pending(state: IntentState, v: Visitor) -> bool:
    """A cart left behind by a session that has ended, not bought and not yet signalled: check_abandoned
    will signal it once abandon_after_ms have passed."""
    if not state.cart or not state.ended_wall or state.purchased_at >= state.cart_at:
        return False
    return _abandoned_cart_id(state, v) not in state.sent


def check_abandoned(state: IntentState, v: Visitor, wall_ms: int, s: IntentSettings) -> IntentSignal | None:
    """Called from the sweep: a cart left behind once the session has been over for abandon_after_ms."""
    if not abandonment_pending(state, v) or wall_ms - state.ended_wall < s.abandon_after_ms:
        return None
    return _signal(state, v, "abandoned_cart", sorted(state.cart), state.cart_at, s)
