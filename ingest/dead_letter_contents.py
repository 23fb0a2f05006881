"""What a dead letter keeps of rejected input: what was sent, less the personal data ingest never stores.

Rejected input goes to events.dlq (and, while Kafka is away, to the spool) for someone to see why it was refused;
a full client IP or an e-mail address there would outlive every promise the events topic keeps. So the visitor IP
a server-side SDK relays (an event's `ip`, a Segment message's `context.ip`) is anonymised as in events, and each
e-mail address becomes (email); everything else stays as sent.
"""

from __future__ import annotations

from typing import Any

import msgspec

from ingest.client_ip import anonymise_ip
from ingest.enrichment import without_emails


def _with_network_only(message: dict[str, Any]) -> dict[str, Any]:
    """The message with the relayed IPs, where ingest reads them, anonymised (IPv4 /24, IPv6 /48)."""
    kept = dict(message)
    if isinstance(kept.get("ip"), str):
        kept["ip"] = anonymise_ip(kept["ip"])
    context = kept.get("context")
    if isinstance(context, dict) and isinstance(context.get("ip"), str):
        kept["context"] = {**context, "ip": anonymise_ip(context["ip"])}
    return kept


def dead_letter_contents(raw: object) -> bytes:
    """The bytes a dead letter keeps of rejected input: a decoded message, or an event's JSON as sent (msgspec.Raw)."""
    if isinstance(raw, msgspec.Raw):
        data = bytes(raw)
        if b'"ip"' in data:  # only then is there anything to anonymise; the decoders already checked the JSON
            raw = msgspec.json.decode(data)
    if isinstance(raw, dict):
        raw = _with_network_only(raw)
    data = bytes(raw) if isinstance(raw, msgspec.Raw) else msgspec.json.encode(raw)
    # The decoders accept valid UTF-8 only; surrogateescape gives any other byte back unchanged all the same.
    return without_emails(data.decode("utf-8", "surrogateescape")).encode("utf-8", "surrogateescape")
