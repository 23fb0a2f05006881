"""Decodes the beacon's batch: POST /collect, a text/plain JSON envelope around a list of events.

A valid batch, the common case, is decoded straight into typed events in one pass. Only when that fails are
the events decoded one by one, so the good ones pass and each bad one gets its reason.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from ingest.body import MAX_DEPTH, nesting_depth
from ingest.incoming import IncomingEvent
from ingest.rejection import EventRejected, RequestRejected

WriteKey = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
VisitorId = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
# Envelope {, events [ and event { come before an event's props.
PROPS_DEPTH = 3


class Envelope(msgspec.Struct):
    write_key: WriteKey
    events: list[msgspec.Raw]
    visitor_id: VisitorId | None = None
    sent_at: int | None = None


class ValidEnvelope(msgspec.Struct):
    write_key: WriteKey
    events: list[IncomingEvent]
    visitor_id: VisitorId | None = None
    sent_at: int | None = None


valid_envelope_decoder = msgspec.json.Decoder(ValidEnvelope)
envelope_decoder = msgspec.json.Decoder(Envelope)
event_decoder = msgspec.json.Decoder(IncomingEvent)


def decode_native(body: bytes, max_events: int) -> tuple[str, list[IncomingEvent], list[EventRejected]]:
    """Return the write key, the events that have the right shape, and those that do not."""
    if not body:
        raise RequestRejected(400, "empty_body")
    try:
        body.decode()  # the decoders skip unknown fields without checking their text (< 1 us per 8 KB)
        valid = valid_envelope_decoder.decode(body)
    except msgspec.ValidationError:
        valid = None
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        # msgspec rejects invalid UTF-8, NaN and Infinity here, which is what we want.
        raise RequestRejected(400, "malformed_json", str(exc)[:200]) from None
    except RecursionError:
        raise RequestRejected(400, "too_deeply_nested", f"at most {MAX_DEPTH} levels") from None
    if valid is not None:
        write_key, visitor_id, sent_at, good, bad = valid.write_key, valid.visitor_id, valid.sent_at, valid.events, []
    else:
        write_key, visitor_id, sent_at, good, bad = one_by_one(body, max_events)
    if len(good) + len(bad) > max_events:
        raise RequestRejected(413, "too_many_events", f"at most {max_events} events per batch")
    # Each level needs an opening bracket, so bodies with few of them cannot be too deep: skip the walk.
    if body.count(b"[") + body.count(b"{") > MAX_DEPTH and any(
        event.props and nesting_depth(event.props) + PROPS_DEPTH > MAX_DEPTH for event in good
    ):
        raise RequestRejected(400, "too_deeply_nested", f"at most {MAX_DEPTH} levels")
    for event in good:
        event.visitor_id = visitor_id
        event.sent_at = sent_at
    return write_key, good, bad


def one_by_one(
    body: bytes, max_events: int
) -> tuple[str, str | None, int | None, list[IncomingEvent], list[EventRejected]]:
    try:
        envelope = envelope_decoder.decode(body)
    except msgspec.ValidationError as exc:
        raise RequestRejected(400, "invalid_envelope", str(exc)[:200]) from None
    except msgspec.DecodeError as exc:
        # The typed pass may stop at a wrong type before it reaches a truncation further on.
        raise RequestRejected(400, "malformed_json", str(exc)[:200]) from None
    except RecursionError:
        raise RequestRejected(400, "too_deeply_nested", f"at most {MAX_DEPTH} levels") from None
    if len(envelope.events) > max_events:
        raise RequestRejected(413, "too_many_events", f"at most {max_events} events per batch")
    good: list[IncomingEvent] = []
    bad: list[EventRejected] = []
    for raw in envelope.events:
        try:
            good.append(event_decoder.decode(raw))
        except msgspec.ValidationError as exc:
            bad.append(EventRejected(f"invalid_event: {str(exc)[:120]}", raw))
        except RecursionError:
            raise RequestRejected(400, "too_deeply_nested", f"at most {MAX_DEPTH} levels") from None
    return envelope.write_key, envelope.visitor_id, envelope.sent_at, good, bad
