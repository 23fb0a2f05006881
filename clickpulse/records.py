"""The records that cross process boundaries, and the topic names. Defined once; every stage imports them.

Wire encoding is JSON (msgspec): readable in any Kafka tool, fast to decode.
"""

from __future__ import annotations

from typing import Final

import msgspec

# Topic base names; the settings' topic_prefix is put in front (Settings.topic).
EVENTS_TOPIC: Final = "events"
DLQ_TOPIC: Final = "events.dlq"
SESSIONS_TOPIC: Final = "sessions"
INTENT_TOPIC: Final = "intent"
IDENTITIES_TOPIC: Final = "identities"
ERASURES_TOPIC: Final = "erasures"

# Event types the pipeline understands. Anything else arrives as "custom" with a name.
EVENT_TYPES: Final = frozenset(
    {
        "pageview",
        "page_leave",
        "heartbeat",
        "click",
        "rage_click",
        "form_submit",
        "search",
        "product_view",
        "add_to_cart",
        "remove_from_cart",
        "checkout_start",
        "purchase",
        "identify",
        "custom",
    }
)


class Product(msgspec.Struct, omit_defaults=True):
    product_id: str
    name: str = ""
    category: str = ""
    price: float = 0.0
    quantity: int = 1


class EnrichedEvent(msgspec.Struct, omit_defaults=True):
    """One event after ingest validated and enriched it. Key on Kafka: visitor_key."""

    event_id: str
    site_id: str
    visitor_id: str
    type: str
    ts: int  # event time, ms since epoch, skew-corrected
    received_at: int  # ms since epoch, server clock
    name: str = ""
    customer_id: str = ""
    url: str = ""
    host: str = ""
    path: str = ""
    title: str = ""
    referrer: str = ""
    source: str = ""
    medium: str = ""
    campaign: str = ""
    channel: str = ""
    browser: str = ""
    os: str = ""
    device: str = ""
    country: str = ""
    region: str = ""
    city: str = ""
    ip: str = ""  # the client's network, anonymised by ingest (IPv4 /24, IPv6 /48), never the full address
    is_bot: bool = False
    bot_reason: str = ""
    engaged_ms: int = 0
    scroll_pct: int = 0
    revenue: float = 0.0
    currency: str = ""
    order_id: str = ""
    products: list[Product] = []
    props: dict[str, object] = {}

    @property
    def key(self) -> bytes:
        return visitor_key(self.site_id, self.visitor_id)


# A dead letter keeps at most this much of its input: enough to see what went wrong, never a whole upload.
MAX_DEAD_LETTER_BYTES: Final = 65536


class DeadLetter(msgspec.Struct):
    """Input ingest or the worker rejected, with its reason and the raw bytes (latin-1 decoded, so any byte
    survives JSON and raw.encode("latin-1") gives them back)."""

    reason: str
    received_at: int
    site_id: str = ""
    endpoint: str = ""
    raw: str = ""

    @classmethod
    def of(cls, reason: str, raw: bytes, site_id: str, endpoint: str, received_at: int) -> DeadLetter:
        """The letter for rejected bytes, cut to MAX_DEAD_LETTER_BYTES."""
        text = raw[:MAX_DEAD_LETTER_BYTES].decode("latin-1")
        return cls(reason=reason, received_at=received_at, site_id=site_id, endpoint=endpoint, raw=text)


# ISO 4217's code for "no currency": the revenue of purchases that named none, kept apart from every real currency.
NO_CURRENCY: Final = "XXX"


class Session(msgspec.Struct, omit_defaults=True):
    """A session upsert. The newest version per session_id wins; deleted=1 retracts a merged-away session."""

    session_id: str
    site_id: str
    visitor_id: str
    start: int  # ms
    end: int  # ms
    version: int
    customer_id: str = ""
    engaged_ms: int = 0
    pageviews: int = 0
    events: int = 0
    entry_page: str = ""
    exit_page: str = ""
    bounce: bool = True
    source: str = ""
    medium: str = ""
    campaign: str = ""
    channel: str = ""
    device: str = ""
    browser: str = ""
    os: str = ""
    country: str = ""
    converted: bool = False
    revenue: float = 0.0  # every currency's amounts added up: revenue_by_currency is the one to report
    # Currency code -> revenue; NO_CURRENCY for purchases that named none.
    revenue_by_currency: dict[str, float] = {}
    is_bot: bool = False
    closed: bool = False
    deleted: bool = False


class IntentSignal(msgspec.Struct, omit_defaults=True):
    """A purchase-intent signal for CRMs. id is deterministic: one sent again after a crash is the same signal."""

    id: str
    site_id: str
    kind: str  # "high_intent" | "abandoned_cart" | "returning_customer"
    visitor_id: str
    score: float
    at: int  # ms
    customer_id: str = ""
    reasons: list[str] = []
    products: list[str] = []


class IdentityLink(msgspec.Struct):
    """A visitor was identified as a CRM customer; the warehouse can attribute their earlier history."""

    site_id: str
    visitor_id: str
    customer_id: str
    at: int  # ms, event time of the identify


class Erasure(msgspec.Struct):
    """A visitor's data is to be forgotten: the worker drops its state for them."""

    site_id: str
    visitor_id: str
    requested_at: int  # ms

    @property
    def key(self) -> bytes:
        """The visitor's events' key: the erasure reaches the worker holding their state."""
        return visitor_key(self.site_id, self.visitor_id)


def visitor_key(site_id: str, visitor_id: str) -> bytes:
    """The Kafka key of every record about one visitor, so all of them stay in one partition, in order."""
    return f"{site_id}:{visitor_id}".encode()


event_encoder: Final = msgspec.json.Encoder()
event_decoder: Final = msgspec.json.Decoder(EnrichedEvent)
session_decoder: Final = msgspec.json.Decoder(Session)
signal_decoder: Final = msgspec.json.Decoder(IntentSignal)
identity_decoder: Final = msgspec.json.Decoder(IdentityLink)
erasure_decoder: Final = msgspec.json.Decoder(Erasure)
