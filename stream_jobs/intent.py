"""Interest and purchase intent per visitor, from behaviour with time decay. Pure logic, no Faust.

Every behaviour adds weight to a named feature ("viewed p3", "added p3 to cart", ...); all features
decay with a half-life in event time. The score is 1 - exp(-total / scale): in [0, 1), monotone in
the evidence, and explainable, because the features that weigh most are the reasons.

All weights fade by the same factor, so they are kept as of a reference time (IntentState.updated_at) and read
faded to the visitor's newest event: an event adds its weight scaled to the reference, one multiplication instead
of one per weight. The reference moves up (every weight faded, the faint ones dropped) once it is a half-life old.

Signals (each at most once per visitor, product and day; ids are deterministic so a signal sent again
after a crash, its events applied again, is the same signal):
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
from typing import Annotated, TypeVar

import msgspec

from clickpulse.records import EnrichedEvent, IntentSignal

DAY_MS = 86_400_000
# Keys kept per map of a visitor's state (reasons, product and category interest, views, cart lines). A shopper has
# a few dozen; a script posing as one would otherwise grow its row, decoded, scored and stored at each of its
# events, without end. Past it the weakest (the oldest cart lines) go, down to three quarters, so it is rare work.
MAX_KEYS = 200
Weight = TypeVar("Weight", int, float)


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
    updated_at: int = 0  # event time the kept weights refer to (the reference)
    features: dict[str, float] = {}  # reason -> weight as of updated_at
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
    newest_at: int = 0  # the newest event time folded in, which the weights are read faded to (0: updated_at)


@dataclass(frozen=True, slots=True)
class Visitor:
    site_id: str
    visitor_id: str
    customer_id: str
    session_index: int  # 1-based count of sessions so far


def _fade(state: IntentState, ts: int, s: IntentSettings) -> float:
    """Take in an event at ts (an older one counts as of the newest: weights never grow back) and return the factor
    that fades the kept weights to the newest event time; moves the reference there once it is a half-life old."""
    if not state.updated_at:
        state.updated_at = state.newest_at = ts
        return 1.0
    state.newest_at = max(state.newest_at, state.updated_at, ts)
    factor = fading(state, s)
    if factor > 0.5:
        return factor
    state.features = _faded(state.features, factor)
    state.product_interest = _faded(state.product_interest, factor)
    state.category_interest = _faded(state.category_interest, factor)
    state.updated_at = state.newest_at
    return 1.0


def fading(state: IntentState, s: IntentSettings) -> float:
    """The factor from the kept weights to their value at the visitor's newest event."""
    return 0.5 ** ((max(state.newest_at, state.updated_at) - state.updated_at) / s.half_life_ms)


def _faded(weights: dict[str, float], factor: float) -> dict[str, float]:
    """The weights times factor, those that fade below 0.01 dropped."""
    return {key: weight for key, value in weights.items() if abs(weight := value * factor) >= 0.01}


def _add(weights: dict[str, float], key: str, weight: float) -> None:
    weights[key] = weights.get(key, 0.0) + weight


def score_of(state: IntentState, s: IntentSettings) -> float:
    return _score(state, fading(state, s), s)


def _score(state: IntentState, factor: float, s: IntentSettings) -> float:
    total = sum(state.features.values()) * factor
    return round(1 - math.exp(-max(total, 0.0) / s.scale), 4)


def reasons_of(state: IntentState, s: IntentSettings, limit: int = 5) -> list[str]:
    faint = 0.05 / fading(state, s)
    ranked = sorted(((w, r) for r, w in state.features.items() if w > faint), reverse=True)
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
        reasons=reasons_of(state, s),
        products=products,
    )


def observe(state: IntentState, event: EnrichedEvent, v: Visitor, s: IntentSettings) -> list[IntentSignal]:
    """Fold one (non-bot, non-late) event in; return the signals it triggers."""
    factor = _fade(state, event.ts, s)
    up = 1 / factor  # what a weight added now counts as of the reference
    before = state.score
    out: list[IntentSignal] = []
    features, interest = state.features, state.product_interest
    if v.session_index > state.sessions_seen:
        if state.sessions_seen:
            _add(features, "returning visitor", s.return_visit * up)
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
        _add(interest, pid, s.product_view * up)
        _add(features, f"viewed {pid}", s.product_view * up)
        if state.views[pid] > 1:
            _add(features, f"viewed {pid} again", s.repeat_view * up)
        if product.category:
            _add(state.category_interest, product.category, up)
            _add(features, f"browsed {product.category}", s.category_view * up)
        first_session = state.viewed_in_session.setdefault(pid, v.session_index)
        if v.customer_id and first_session < v.session_index:
            signal = _signal(state, v, "returning_customer", [pid], event.ts, s)
            if signal:
                out.append(signal)
    elif kind in ("page_leave", "heartbeat") and state.current_product and event.engaged_ms:
        dwell = s.dwell_per_30s * min(event.engaged_ms / 30_000, 6) * up
        _add(interest, state.current_product, dwell)
        _add(features, f"spent time on {state.current_product}", dwell)
    elif kind == "search":
        _add(features, "searched the shop", s.search * up)
    elif kind == "add_to_cart" and product is not None:
        state.cart[product.product_id] = state.cart.get(product.product_id, 0) + max(product.quantity, 1)
        state.cart_at = event.ts
        _add(interest, product.product_id, s.add_to_cart * up)
        _add(features, f"added {product.product_id} to cart", s.add_to_cart * up)
    elif kind == "remove_from_cart" and product is not None:
        state.cart.pop(product.product_id, None)
        _add(features, f"removed {product.product_id} from cart", s.remove_from_cart * up)
    elif kind == "checkout_start":
        _add(features, "started checkout", s.checkout * up)
    elif kind == "identify":
        _add(features, "known customer", s.identified * up)
    elif kind == "purchase":
        # Bought: the intent is fulfilled. Keep interest (for recommendations), drop the cart and the push.
        state.purchased_at = event.ts
        state.cart = {}
        state.features = {r: w for r, w in features.items() if r.startswith(("viewed", "browsed"))}
    if len(state.features) > MAX_KEYS or len(state.views) > MAX_KEYS or len(state.cart) > MAX_KEYS:
        _shed(state)
    state.score = _score(state, factor, s)
    if before < s.threshold <= state.score:
        signal = _signal(state, v, "high_intent", top_products(state)[:1], event.ts, s)
        if signal:
            out.append(signal)
    return out


def _shed(state: IntentState) -> None:
    keep = MAX_KEYS * 3 // 4
    state.features = _strongest(state.features, keep)
    state.product_interest = _strongest(state.product_interest, keep)
    state.category_interest = _strongest(state.category_interest, keep)
    state.views = _strongest(state.views, keep)
    state.viewed_in_session = {p: i for p, i in state.viewed_in_session.items() if p in state.views}
    state.cart = dict(list(state.cart.items())[-keep:])


def _strongest(weights: dict[str, Weight], keep: int) -> dict[str, Weight]:
    return dict(sorted(weights.items(), key=lambda kv: kv[1], reverse=True)[:keep])


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


def abandoned_from(state: IntentState, s: IntentSettings) -> int:
    """The wall-clock time (ms) from which a cart still pending counts as abandoned."""
    return state.ended_wall + s.abandon_after_ms


def check_abandoned(state: IntentState, v: Visitor, wall_ms: int, s: IntentSettings) -> IntentSignal | None:
    """Called from the sweep: a cart left behind once the session has been over for abandon_after_ms."""
    if not abandonment_pending(state, v) or wall_ms < abandoned_from(state, s):
        return None
    return _signal(state, v, "abandoned_cart", sorted(state.cart), state.cart_at, s)
