"""Session windows with the semantics of Kafka Streams' SessionWindows, per visitor.

Pure logic, no Faust: the agent keeps one VisitorState per visitor in a table and calls
`apply` for each batch of that visitor's events and `close_idle` from a timer.

- An event within `gap` of a session joins it; one that falls within `gap` of two sessions merges them.
- Stream time is per visitor (their newest event time). An event older than
  stream time - gap - grace is late: counted, never applied (the raw event is still stored).
- A session is closed once its visitor was silent for gap + grace of wall-clock time; it is also
  cut when it would outgrow max_len.
- Session ids derive from (site, visitor, start), so reprocessing yields the same ids; a session
  whose start moved (a merge, an earlier event) is retracted under its old id.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import msgspec

from clickpulse.records import NO_CURRENCY, EnrichedEvent, IdentityLink, Session
from stream_jobs.intent import IntentState, Visitor

BOUNCE_ENGAGED_MS = 10_000
EVENT_KEY_BYTES = 8
# A session knows its last 10,000 events (80 KB of keys) and 1,000 orders: enough for any retry or redelivered copy,
# which come soon after the original, while a script sending one visitor's events all day cannot grow the row
# decoded and encoded at each of its batches without end. Past a bound the newest three quarters stay.
MAX_EVENT_KEYS = 10_000
MAX_ORDER_IDS = 1_000


class SessionState(msgspec.Struct, omit_defaults=True):
    start: int
    end: int
    pageviews: int = 0
    events: int = 0
    engaged_ms: int = 0
    entry_ts: int = 0
    entry_page: str = ""
    exit_ts: int = 0
    exit_page: str = ""
    source: str = ""
    medium: str = ""
    campaign: str = ""
    channel: str = ""
    device: str = ""
    browser: str = ""
    os: str = ""
    country: str = ""
    converted: bool = False
    revenue: float = 0.0
    revenue_by_currency: dict[str, float] = {}
    is_bot: bool = False
    closed: bool = False
    ordinal: int = 0  # this visitor's n-th session (1-based); merges keep the smaller
    emitted_id: str = ""  # the id this session was last emitted under ("" = never emitted)
    # The event_key of each event the session has, to know a duplicate: 8 bytes an event where its id took ~40,
    # and most of a visitor's row (decoded, encoded, stored and sent to the changelog at every change).
    event_keys: bytes = b""
    # Rows written before event_keys kept the ids themselves; decoding one turns them into keys.
    event_ids: list[str] = []
    order_ids: list[str] = []  # of the purchases that counted: a repeated order (a reloaded receipt) adds nothing
    # The customer the visitor was in this session (by event time): a session before they identified stays
    # anonymous when it is emitted again later (closed), so the history can tell the sessions before identify.
    customer_id: str = ""

    def __post_init__(self) -> None:
        if self.event_ids:
            self.event_keys += b"".join(map(event_key, self.event_ids))
            self.event_ids = []


class VisitorState(msgspec.Struct, omit_defaults=True):
    site_id: str
    visitor_id: str
    stream_time: int = 0
    last_seen_wall: int = 0
    last_offset: int = -1  # highest source offset applied; redelivered offsets are skipped
    version: int = 0
    late_events: int = 0
    sessions_started: int = 0
    customer_id: str = ""
    # Event time of the newest applied event that named customer_id: an older one (late, replayed) never
    # takes the visitor back to an earlier customer.
    customer_since: int = 0
    sessions: list[SessionState] = []
    intent: IntentState = msgspec.field(default_factory=IntentState)
    # When the visitor asked to be forgotten (ms): events ingest received by then may still be on their way
    # through Kafka, and belong to the erasure.
    erased_at: int = 0


ENTRY_FIELDS = (
    "entry_ts",
    "entry_page",
    "source",
    "medium",
    "campaign",
    "channel",
    "device",
    "browser",
    "os",
    "country",
)

state_encoder = msgspec.msgpack.Encoder()
state_decoder = msgspec.msgpack.Decoder(VisitorState)


@dataclass(frozen=True, slots=True)
class Windowing:
    gap_ms: int
    grace_ms: int
    max_len_ms: int


def event_key(event_id: str) -> bytes:
    """A 64-bit digest of an event id: a visitor's events collide with odds of about n^2 / 2^65."""
    return hashlib.blake2b(event_id.encode(), digest_size=EVENT_KEY_BYTES).digest()


def _has_event(sessions: list[SessionState], key: bytes) -> bool:
    for s in sessions:
        at = s.event_keys.find(key)
        while at >= 0:
            if at % EVENT_KEY_BYTES == 0:  # a match across two keys is not one
                return True
            at = s.event_keys.find(key, at + 1)
    return False


def session_id(site_id: str, visitor_id: str, start: int) -> str:
    return hashlib.blake2b(f"{site_id}|{visitor_id}|{start}".encode(), digest_size=12).hexdigest()


def intent_visitor(state: VisitorState, session_index: int) -> Visitor:
    """The visitor as the intent model sees them in their session_index-th session."""
    return Visitor(state.site_id, state.visitor_id, state.customer_id, session_index)


def _absorb(session: SessionState, event: EnrichedEvent, key: bytes, repeated_order: bool) -> None:
    session.start = min(session.start, event.ts)
    session.end = max(session.end, event.ts)
    session.events += 1
    session.event_keys += key
    session.engaged_ms += event.engaged_ms
    session.is_bot = session.is_bot or event.is_bot
    if event.type == "purchase" and not repeated_order:
        session.converted = True
        session.revenue += event.revenue
        currency = event.currency or NO_CURRENCY
        session.revenue_by_currency[currency] = session.revenue_by_currency.get(currency, 0.0) + event.revenue
        if event.order_id:
            session.order_ids.append(event.order_id)
    if event.type != "pageview":
        return
    session.pageviews += 1
    if session.pageviews == 1 or event.ts < session.entry_ts:
        session.entry_ts, session.entry_page = event.ts, event.path
        session.source, session.medium, session.campaign = event.source, event.medium, event.campaign
        session.channel = event.channel
        session.device, session.browser, session.os, session.country = (
            event.device,
            event.browser,
            event.os,
            event.country,
        )
    if event.ts >= session.exit_ts:
        session.exit_ts, session.exit_page = event.ts, event.path


def _merge(into: SessionState, other: SessionState) -> None:
    if other.pageviews and (into.pageviews == 0 or other.entry_ts < into.entry_ts):
        for name in ENTRY_FIELDS:
            setattr(into, name, getattr(other, name))
    if other.pageviews and (into.pageviews == 0 or other.exit_ts >= into.exit_ts):
        into.exit_ts, into.exit_page = other.exit_ts, other.exit_page
    into.start, into.end = min(into.start, other.start), max(into.end, other.end)
    into.pageviews += other.pageviews
    into.events += other.events
    into.engaged_ms += other.engaged_ms
    into.converted = into.converted or other.converted
    into.revenue += other.revenue
    for currency, amount in other.revenue_by_currency.items():
        into.revenue_by_currency[currency] = into.revenue_by_currency.get(currency, 0.0) + amount
    into.is_bot = into.is_bot or other.is_bot
    into.event_keys += other.event_keys
    into.order_ids.extend(other.order_ids)
    into.customer_id = into.customer_id or other.customer_id
    into.closed = False


def _bound(session: SessionState) -> None:
    """Once per batch, not per event: within a batch a session grows by at most the batch's events."""
    if len(session.event_keys) > MAX_EVENT_KEYS * EVENT_KEY_BYTES:
        session.event_keys = session.event_keys[-(MAX_EVENT_KEYS * 3 // 4) * EVENT_KEY_BYTES :]
    if len(session.order_ids) > MAX_ORDER_IDS:
        del session.order_ids[: -(MAX_ORDER_IDS * 3 // 4)]


def _record(state: VisitorState, session: SessionState, *, deleted: bool = False, sid: str = "") -> Session:
    return Session(
        session_id=sid or session_id(state.site_id, state.visitor_id, session.start),
        site_id=state.site_id,
        visitor_id=state.visitor_id,
        start=session.start,
        end=session.end,
        version=state.version,
        customer_id=session.customer_id,
        engaged_ms=session.engaged_ms,
        pageviews=session.pageviews,
        events=session.events,
        entry_page=session.entry_page,
        exit_page=session.exit_page,
        # A purchase engages whatever the pages (GA4's key event, Plausible's interactive event).
        bounce=session.pageviews <= 1 and session.engaged_ms < BOUNCE_ENGAGED_MS and not session.converted,
        source=session.source,
        medium=session.medium,
        campaign=session.campaign,
        channel=session.channel,
        device=session.device,
        browser=session.browser,
        os=session.os,
        country=session.country,
        converted=session.converted,
        revenue=round(session.revenue, 2),
        revenue_by_currency={currency: round(amount, 2) for currency, amount in session.revenue_by_currency.items()},
        is_bot=session.is_bot,
        closed=session.closed,
        deleted=deleted,
    )


def _retract(state: VisitorState, session: SessionState, out: list[Session]) -> None:
    """Retract the id the session was last emitted under."""
    out.append(_record(state, session, deleted=True, sid=session.emitted_id))


def _emit(state: VisitorState, session: SessionState, out: list[Session]) -> None:
    """Upsert the session under its current id; retract the id it had before if that changed."""
    state.version += 1
    current = session_id(state.site_id, state.visitor_id, session.start)
    if session.emitted_id and session.emitted_id != current:
        _retract(state, session, out)
        state.version += 1
    session.emitted_id = current
    out.append(_record(state, session, sid=current))


@dataclass(slots=True)
class ApplyResult:
    emitted: list[Session]
    # Events that joined a session, each with the ordinal of its session, for the intent model.
    applied: list[tuple[EnrichedEvent, int]] = field(default_factory=list)
    late: int = 0
    duplicates: int = 0
    # Ids of events received before the visitor's erasure, skipped.
    erased: list[str] = field(default_factory=list)
    # One link per change of the visitor's customer, by whichever applied event named the new one.
    links: list[IdentityLink] = field(default_factory=list)


def forget(state: VisitorState, requested_at: int) -> VisitorState:
    """What is left of a visitor who asked to be forgotten: who they are (the row's key) and when they asked."""
    return VisitorState(
        site_id=state.site_id,
        visitor_id=state.visitor_id,
        last_offset=state.last_offset,
        erased_at=max(state.erased_at, requested_at),
    )


def apply(state: VisitorState, events: list[tuple[int, EnrichedEvent]], w: Windowing, wall_ms: int) -> ApplyResult:
    """Apply (offset, event) pairs of one visitor in offset order. Returns the session records to emit."""
    result = ApplyResult(emitted=[])
    touched: list[SessionState] = []
    retracted: list[SessionState] = []
    orders: set[str] = set()
    for s in state.sessions:
        orders.update(s.order_ids)
    for offset, event in events:
        if offset <= state.last_offset:
            result.duplicates += 1
            continue
        state.last_offset = offset
        if state.erased_at and event.received_at <= state.erased_at:
            result.erased.append(event.event_id)
            continue
        key = event_key(event.event_id)
        if _has_event(state.sessions, key):
            result.duplicates += 1
            continue
        if state.stream_time and event.ts < state.stream_time - w.gap_ms - w.grace_ms:
            state.late_events += 1
            result.late += 1
            continue
        if event.customer_id:
            _name_customer(state, event, result.links)
        state.stream_time = max(state.stream_time, event.ts)
        state.last_seen_wall = wall_ms
        joined = _sessions_joined_by(state.sessions, event.ts, w)
        if not joined:
            state.sessions_started += 1
            target = SessionState(start=event.ts, end=event.ts, ordinal=state.sessions_started)
            state.sessions.append(target)
        else:
            target = joined[0]
            for other in joined[1:]:
                target.ordinal = min(target.ordinal, other.ordinal)
                _merge(target, other)
                state.sessions.remove(other)
                if other.emitted_id:
                    retracted.append(other)
                if other in touched:
                    touched.remove(other)
        target.closed = False
        repeated_order = event.type == "purchase" and event.order_id in orders
        if event.type == "purchase" and event.order_id:
            orders.add(event.order_id)
        _absorb(target, event, key, repeated_order)
        if state.customer_id and event.ts >= state.customer_since:
            target.customer_id = state.customer_id
        result.applied.append((event, target.ordinal))
        if target not in touched:
            touched.append(target)
    state.sessions.sort(key=lambda s: s.start)
    for gone in retracted:
        state.version += 1
        _retract(state, gone, result.emitted)
    for session in touched:  # a merged session's target is touched too
        _bound(session)
        _emit(state, session, result.emitted)
    _forget_unreachable(state, w)
    return result


def _name_customer(state: VisitorState, event: EnrichedEvent, links: list[IdentityLink]) -> None:
    """An applied event naming a customer: the newest one (event time) is the visitor's customer."""
    if state.customer_id and event.ts <= state.customer_since:
        return
    state.customer_since = event.ts
    if event.customer_id != state.customer_id:
        state.customer_id = event.customer_id
        links.append(IdentityLink(state.site_id, state.visitor_id, event.customer_id, event.ts))


def _sessions_joined_by(sessions: list[SessionState], ts: int, w: Windowing) -> list[SessionState]:
    """The sessions an event at ts joins, earliest first: those within the gap, nearest first, as long as
    the session they make together stays shorter than max_len (the 24 h cut holds for merged sessions too)."""
    within_gap = [s for s in sessions if s.start - w.gap_ms <= ts <= s.end + w.gap_ms]
    if len(within_gap) < 2:  # most events: the one session they continue, or none
        return [s for s in within_gap if max(ts, s.end) - min(ts, s.start) < w.max_len_ms]
    within_gap.sort(key=lambda s: max(s.start - ts, ts - s.end, 0))
    joined: list[SessionState] = []
    start = end = ts
    for s in within_gap:
        if max(end, s.end) - min(start, s.start) < w.max_len_ms:
            joined.append(s)
            start, end = min(start, s.start), max(end, s.end)
    joined.sort(key=lambda s: s.start)
    return joined


def _forget_unreachable(state: VisitorState, w: Windowing) -> None:
    """Closed sessions that no non-late event can reach any more leave the state (and their ids with them)."""
    horizon = state.stream_time - 2 * w.gap_ms - w.grace_ms
    state.sessions = [s for s in state.sessions if not (s.closed and s.end < horizon)]


def idle_from(state: VisitorState, w: Windowing) -> int:
    """The wall-clock time (ms) from which the visitor has been silent for gap + grace."""
    return state.last_seen_wall + w.gap_ms + w.grace_ms


def close_idle(state: VisitorState, w: Windowing, wall_ms: int) -> list[Session]:
    """Close the open sessions of a visitor silent for gap + grace of wall-clock time."""
    if wall_ms < idle_from(state, w):
        return []
    out: list[Session] = []
    for session in state.sessions:
        if not session.closed:
            session.closed = True
            _emit(state, session, out)
    return out
