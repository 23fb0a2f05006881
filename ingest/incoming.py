"""The shape every entry point (beacon, Segment API, pixel) decodes into before enrichment."""

from __future__ import annotations

from typing import Annotated

import msgspec

from clickpulse.records import EVENT_TYPES

ShortText = Annotated[str, msgspec.Meta(max_length=2048)]
Id = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
Millis = Annotated[int, msgspec.Meta(ge=0, le=10**14)]


class IncomingEvent(msgspec.Struct, omit_defaults=True):
    """One event as a client sent it, shape-checked but not yet trusted or enriched."""

    id: Id
    type: Annotated[str, msgspec.Meta(max_length=64)]
    ts: Millis | None = None
    name: Annotated[str, msgspec.Meta(max_length=200)] = ""
    # Clipped by enrichment, not refused: a page with a long address must not lose its cart or purchase events.
    # The body size limit bounds them meanwhile.
    url: str = ""
    referrer: str = ""
    title: str = ""
    engaged_ms: Annotated[int, msgspec.Meta(ge=0, le=86_400_000)] = 0
    scroll_pct: Annotated[int, msgspec.Meta(ge=0, le=100)] = 0
    props: dict[str, object] = {}
    # Filled by the decoder from the envelope or the Segment message, not sent per event by the beacon.
    # Bounded like every other field: they reach Kafka and ClickHouse as they are.
    visitor_id: Id | None = None
    customer_id: Annotated[str, msgspec.Meta(max_length=256)] = ""
    sent_at: int | None = None
    ip: Annotated[str, msgspec.Meta(max_length=64)] = ""
    user_agent: ShortText = ""
    campaign: dict[str, str] = {}


def unknown_type(event: IncomingEvent) -> bool:
    return event.type not in EVENT_TYPES
