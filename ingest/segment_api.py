"""Decodes the Segment HTTP Tracking API so existing Segment and RudderStack SDKs work unchanged."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any

import msgspec

from ingest.incoming import IncomingEvent
from ingest.rejection import EventRejected, RequestRejected

# Segment's e-commerce spec names onto ours.
TRACK_NAMES = {
    "Product Viewed": "product_view",
    "Product Added": "add_to_cart",
    "Product Removed": "remove_from_cart",
    "Checkout Started": "checkout_start",
    "Order Completed": "purchase",
    "Products Searched": "search",
}
MESSAGE_TYPES = ("track", "page", "screen", "identify", "alias", "group")
# A page call's address, as analytics.js puts it in properties: it becomes the event's url, referrer and title.
PAGE_ADDRESS_PROPERTIES = frozenset({"url", "path", "search", "referrer", "title"})


def write_key_from(headers: Any, payload: object) -> str:
    auth = headers.get("authorization", "")
    if auth.lower().startswith("basic "):
        try:
            user = base64.b64decode(auth[6:].strip()).decode("utf-8").split(":", 1)[0]
        except (ValueError, UnicodeDecodeError):
            raise RequestRejected(401, "bad_authorization") from None
        if user:
            return user
    if isinstance(payload, dict) and isinstance(payload.get("writeKey"), str):
        return payload["writeKey"]
    raise RequestRejected(401, "missing_write_key", "send it as the HTTP Basic user or as writeKey")


def _millis(value: object) -> int | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError:
        return None


def _products(props: dict[str, Any]) -> dict[str, Any]:
    out = dict(props)
    if "product_id" not in out and isinstance(out.get("sku"), str):
        out["product_id"] = out["sku"]
    # A numeric string too ("12.50", as hand-written calls send it): enrichment reads it as it reads revenue.
    if "revenue" not in out and isinstance(out.get("total"), int | float | str):
        out["revenue"] = out["total"]
    if isinstance(out.get("products"), list):
        out["items"] = out.pop("products")
    return out


def convert_message(message: dict[str, Any], batch_sent_at: int | None) -> IncomingEvent:
    kind = message.get("type")
    if kind not in MESSAGE_TYPES:
        raise ValueError(f"unknown message type {kind!r}")
    event_id = message.get("messageId")
    if not isinstance(event_id, str) or not event_id:
        raise ValueError("messageId is required")
    context = message.get("context") if isinstance(message.get("context"), dict) else {}
    page = context.get("page") if isinstance(context.get("page"), dict) else {}
    props = message.get("properties") if isinstance(message.get("properties"), dict) else {}
    user_id = message.get("userId")
    anonymous_id = message.get("anonymousId")
    if not isinstance(user_id, str | type(None)) or not isinstance(anonymous_id, str | type(None)):
        raise ValueError("userId and anonymousId must be strings")
    if not user_id and not anonymous_id:
        raise ValueError("userId or anonymousId is required")
    name = ""
    if kind == "track":
        name = message.get("event") if isinstance(message.get("event"), str) else ""
        if not name:
            raise ValueError("track needs an event name")
        event_type = TRACK_NAMES.get(name, "custom")
        props = _products(props)
    elif kind in ("page", "screen"):
        event_type = "pageview"
        name = message.get("name") if isinstance(message.get("name"), str) else ""
    elif kind == "identify":
        event_type = "identify"
        traits = message.get("traits") if isinstance(message.get("traits"), dict) else {}
        props = {"customer_id": user_id or "", "traits": traits}
    else:
        event_type = "custom"
        name = kind
        props = {k: message.get(k) for k in ("previousId", "groupId", "traits") if k in message}
    url = props.get("url") or page.get("url") or ""
    referrer = props.get("referrer") or page.get("referrer") or ""
    title = props.get("title") or page.get("title") or ""
    if kind == "screen" and not url:
        url = f"app://screen/{name}"
    if kind in ("page", "screen"):
        # Enrichment cleans the page fields (e-mail addresses, credentials, stripped parameters); a raw copy of
        # the address left in props would be stored as sent.
        props = {k: v for k, v in props.items() if k not in PAGE_ADDRESS_PROPERTIES}
    campaign = context.get("campaign") if isinstance(context.get("campaign"), dict) else {}
    event = {
        "id": event_id,
        "type": event_type,
        "ts": _millis(message.get("timestamp")) or _millis(message.get("originalTimestamp")),
        "name": name,
        "url": url if isinstance(url, str) else "",
        "referrer": referrer,
        "title": title,
        "props": props,
        "visitor_id": anonymous_id or user_id,
        "customer_id": user_id or "",
        "sent_at": _millis(message.get("sentAt")) or batch_sent_at,
        "ip": context.get("ip") if isinstance(context.get("ip"), str) else "",
        "user_agent": context.get("userAgent") if isinstance(context.get("userAgent"), str) else "",
        "campaign": {str(k): str(v) for k, v in campaign.items() if isinstance(v, str)},
    }
    return msgspec.convert(event, IncomingEvent)


def decode_segment(
    payload: object, single_type: str | None, max_events: int
) -> tuple[list[IncomingEvent], list[EventRejected]]:
    """single_type is set for /v1/track, /v1/page, ...; None for /v1/batch."""
    if not isinstance(payload, dict):
        raise RequestRejected(400, "invalid_payload", "expected a JSON object")
    if single_type is None:
        messages = payload.get("batch")
        if not isinstance(messages, list):
            raise RequestRejected(400, "invalid_payload", "batch must be a list")
        if len(messages) > max_events:
            raise RequestRejected(413, "too_many_events", f"at most {max_events} events per batch")
    else:
        messages = [{**payload, "type": payload.get("type", single_type)}]
    sent_at = _millis(payload.get("sentAt"))
    good: list[IncomingEvent] = []
    bad: list[EventRejected] = []
    for message in messages:
        try:
            if not isinstance(message, dict):
                raise ValueError("message must be an object")
            good.append(convert_message(message, sent_at))
        except ValueError as exc:  # msgspec.ValidationError is a ValueError
            bad.append(EventRejected(f"invalid_event: {str(exc)[:120]}", message))
    return good, bad
