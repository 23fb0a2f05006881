"""What a dead letter keeps of rejected input: what was sent, less the personal data ingest never stores.

Rejected input goes to events.dlq (and, while Kafka is away, to the spool) for someone to see why it was refused;
a full client IP, an e-mail address or a password reset token there would outlive every promise the events topic
keeps. So the visitor IP a server-side SDK relays (an event's `ip`, a Segment message's `context.ip`) is anonymised
as in events, and in every text each e-mail address becomes (email) and each secret parameter's value (secret);
everything else stays as sent.
"""

from __future__ import annotations

from typing import Any

import msgspec

from ingest.body import MAX_DEPTH, nesting_depth
from ingest.client_ip import anonymise_ip
from ingest.enrichment import without_emails, without_secrets


def _with_network_only(message: dict[str, Any]) -> dict[str, Any]:
    """The message with the relayed IPs, where ingest reads them, anonymised (IPv4 /24, IPv6 /48)."""
    kept = dict(message)
    if isinstance(kept.get("ip"), str):
        kept["ip"] = anonymise_ip(kept["ip"])
    context = kept.get("context")
    if isinstance(context, dict) and isinstance(context.get("ip"), str):
        kept["context"] = {**context, "ip": anonymise_ip(context["ip"])}
    return kept


def _cleaned(text: str) -> str:
    return without_secrets(without_emails(text))


def _cleaned_texts(value: object) -> object:
    """The value with every text cleaned, names included (recursive: its depth is checked first)."""
    if isinstance(value, str):
        return _cleaned(value)
    if isinstance(value, dict):
        return {_cleaned(str(k)): _cleaned_texts(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_cleaned_texts(v) for v in value]
    return value


def dead_letter_contents(raw: object) -> bytes:
    """The JSON a dead letter keeps of rejected input: a decoded message, or an event's JSON as sent (msgspec.Raw,
    valid JSON: its envelope decoded)."""
    value = msgspec.json.decode(bytes(raw)) if isinstance(raw, msgspec.Raw) else raw
    # A bad event of the beacon's envelope may nest deeper than anything accepted (the decoder allows about 1,000
    # levels): too deep to walk safely, and what it holds is nothing anyone needs to see.
    if nesting_depth(value) > MAX_DEPTH:
        return msgspec.json.encode(f"(left out: nested deeper than {MAX_DEPTH} levels)")
    if isinstance(value, dict):
        value = _with_network_only(value)
    return msgspec.json.encode(_cleaned_texts(value))
