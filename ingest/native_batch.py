"""Decodes the beacon's batch: POST /collect, a text/plain JSON envelope around a list of events."""

from __future__ import annotations

from typing import Annotated

import msgspec

from ingest.incoming import IncomingEvent
from ingest.rejection import EventRejected, RequestRejected


class Envelope(msgspec.Struct):
    write_key: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    events: list[object]
    visitor_id: Annotated[str, msgspec.Meta(min_length=1, max_length=128)] | None = None
    sent_at: int | None = None


def decode_native(payload: object, max_events: int) -> tuple[str, list[IncomingEvent], list[EventRejected]]:
    """Return the write key, the events that have the right shape, and those that do not."""
    try:
        envelope = msgspec.convert(payload, Envelope)
    except msgspec.ValidationError as exc:
        raise RequestRejected(400, "invalid_envelope", str(exc)[:200]) from None
    if len(envelope.events) > max_events:
        raise RequestRejected(413, "too_many_events", f"at most {max_events} events per batch")
    good: list[IncomingEvent] = []
    bad: list[EventRejected] = []
    for raw in envelope.events:
        try:
            event = msgspec.convert(raw, IncomingEvent)
        except msgspec.ValidationError as exc:
            bad.append(EventRejected(f"invalid_event: {str(exc)[:120]}", raw))
            continue
        event.visitor_id = envelope.visitor_id
        event.sent_at = envelope.sent_at
        good.append(event)
    return envelope.write_key, good, bad
