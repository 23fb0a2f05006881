"""Enrichment as a named list of small steps (after Plausible's ingestion).

Each step takes the event being built and returns it, or returns a Drop with the reason
(the collector counts each drop once, in ingest/metrics.py).
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, NamedTuple
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from clickpulse.records import EnrichedEvent, Product
from ingest.incoming import IncomingEvent, unknown_type
from ingest.referrers import ReferrerTable
from ingest.request_context import RequestContext
from ingest.user_agents import parse_agent

# A client clock may be wrong; beyond these bounds we clamp and flag rather than trust it.
MAX_FUTURE_MS = 60_000
MAX_PAST_MS = 7 * 24 * 3600 * 1000
MAX_PROPS = 50
MAX_PROP_TEXT = 1000
MAX_URL = 2048
MAX_TITLE = 1000
# A cart line beyond this is a typo or an attack, not an order: it would only inflate intent.
MAX_QUANTITY = 10_000


@dataclass(slots=True)
class Drop:
    reason: str
    # False when a site rule left the event out on purpose (sampling, allow-list): counted, but not an error.
    rejected: bool = True


@dataclass(slots=True)
class Draft:
    """What a step sees: the incoming event, the request's facts and the record being filled."""

    incoming: IncomingEvent
    ctx: RequestContext
    out: EnrichedEvent


Step = Callable[[Draft], Draft | Drop]


def check_type(d: Draft) -> Draft | Drop:
    if unknown_type(d.incoming):
        return Drop("unknown_event_type")
    if d.incoming.type == "custom" and not d.incoming.name:
        return Drop("custom_event_without_name")
    return d


def put_event_time(d: Draft) -> Draft | Drop:
    """Client time corrected by the skew between the client's send time and our receive time."""
    received = d.ctx.received_at
    ts = d.incoming.ts if d.incoming.ts is not None else received
    sent_at = d.incoming.sent_at
    if sent_at is not None and d.incoming.ts is not None:
        ts = received - (sent_at - ts)
    if ts > received + MAX_FUTURE_MS or ts < received - MAX_PAST_MS:
        d.out.props["$time_clamped"] = True
        ts = min(max(ts, received - MAX_PAST_MS), received)
    d.out.ts = ts
    return d


def put_visitor(d: Draft) -> Draft | Drop:
    """A given visitor id, or for cookieless pages a daily-rotating salted hash of ip, agent and site."""
    visitor = d.incoming.visitor_id
    if not visitor:
        if not d.ctx.cookieless_salt:
            return Drop("no_visitor_id")
        seed = f"{d.ctx.cookieless_salt}|{d.ctx.site.site_id}|{d.ctx.ip}|{d.ctx.user_agent}"
        visitor = "h_" + hashlib.sha256(seed.encode()).hexdigest()[:24]
    d.out.visitor_id = visitor
    d.out.customer_id = d.incoming.customer_id
    return d


def apply_site_rules(d: Draft) -> Draft | Drop:
    """The site's event-type allow-list and its sampling, decided by visitor so journeys stay whole."""
    site = d.ctx.site
    if site.event_types and d.incoming.type not in site.event_types:
        return Drop("event_type_not_allowed", rejected=False)
    if site.sample_rate < 1.0 and not visitor_sampled(site.site_id, d.out.visitor_id, site.sample_rate):
        return Drop("sampled_out", rejected=False)
    return d


def visitor_sampled(site_id: str, visitor_id: str, rate: float) -> bool:
    digest = hashlib.blake2b(f"{site_id}|{visitor_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest) < rate * 2**64


def put_user_agent(d: Draft) -> Draft | Drop:
    agent, bot_reason = d.ctx.agent, d.ctx.bot_reason
    # An agent sent inside the event (Segment's context.userAgent): only the pattern list can judge it.
    if d.incoming.user_agent:
        agent = parse_agent(d.incoming.user_agent)
        bot_reason = agent.bot_reason
    d.out.browser, d.out.os, d.out.device = agent.browser, agent.os, agent.device
    if bot_reason:
        d.out.is_bot, d.out.bot_reason = True, bot_reason
    return d


def put_geo(d: Draft) -> Draft | Drop:
    d.out.country, d.out.region, d.out.city = d.ctx.country, d.ctx.region, d.ctx.city
    return d


def put_network(d: Draft) -> Draft | Drop:
    d.out.ip = d.ctx.network
    return d


class PageAddress(NamedTuple):
    url: str
    host: str
    path: str


# An e-mail address in an address (a sign-up confirmation page, a webmail referrer), plain or percent-encoded.
# Each part bounded (as RFC 5321 bounds them) and a match starting only where a run of address characters
# starts, so a hostile address costs linear time, not quadratic.
EMAIL = re.compile(r"(?<![\w.%+-])[\w.%+-]{1,64}(?:@|%40)[\w-]{1,63}(?:\.[\w-]{1,63}){0,8}\.[a-z]{2,24}", re.IGNORECASE)


def without_emails(text: str) -> str:
    """Personal data that pages put in their addresses is never stored: each e-mail address becomes (email)."""
    return EMAIL.sub("(email)", text) if "@" in text or "%40" in text else text


# The value of a parameter named for a secret (a password, a reset or access token, an API key, a session id) in
# a query, a fragment (an OAuth callback's #access_token=) or a path (;jsessionid=): a credential, never stored,
# whatever the site's own strip list says (Matomo leaves session ids out of stored addresses the same way).
SECRET_VALUE = re.compile(
    r"((?:^|[?&#;/])(?:[\w.-]*[_.-])?(?:pass(?:word|wd)?|pwd?|token|secret|api[_-]?key|auth|sess(?:ion)?_?id|sid|"
    r"jsessionid|phpsessid)=)[^&#;/]*",
    re.IGNORECASE,
)


# Words one of which every name SECRET_VALUE matches contains: most addresses have none, and a substring test is
# several times cheaper than the expression.
SECRET_WORDS = ("pass", "pw", "token", "secret", "api", "auth", "sess", "sid")


def without_secrets(text: str) -> str:
    """Each value of a secret-named parameter becomes (secret); the parameter's name stays."""
    if "=" not in text:
        return text
    lowered = text.lower()
    for word in SECRET_WORDS:
        if word in lowered:
            return SECRET_VALUE.sub(r"\1(secret)", text)
    return text


@lru_cache(maxsize=16384)
def page_address(url: str, strip_params: tuple[str, ...]) -> PageAddress | None:
    """Host lowercased, credentials, secret parameters' values and e-mail addresses left out, fragment kept (hash
    routers), path without trailing noise; None when it is no URL. Cached: a site's pages repeat far more often than
    they change."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    # A scheme without an authority (javascript:, data:, mailto:, about:) names no page: stored, such an address
    # would run as script in any tool that made a link of it.
    if parts.scheme and not parts.netloc and parts.scheme != "file":
        return None
    host = (parts.hostname or "").lower()
    netloc = (f"[{host}]" if ":" in host else host) + (f":{port}" if port is not None else "")
    query = parts.query
    if query and strip_params:
        kept = [pair for pair in parse_qsl(query, keep_blank_values=True) if pair[0] not in strip_params]
        query = urlencode(kept)
    path = without_secrets(without_emails(parts.path))
    query = without_secrets(without_emails(query))
    fragment = without_secrets(without_emails(parts.fragment))
    return PageAddress(
        urlunsplit((parts.scheme.lower(), netloc, path, query, fragment)),
        host,
        (path or "/") + (f"#{fragment}" if fragment.startswith("/") else ""),
    )


def put_url(d: Draft) -> Draft | Drop:
    # Clipped before anything parses or caches it: the body limit alone would allow 64 KB keys in the caches.
    url = d.incoming.url[:MAX_URL]
    if not url:
        return d if d.incoming.type != "pageview" else Drop("pageview_without_url")
    address = page_address(url, tuple(d.ctx.site.strip_params))
    if address is None:
        return Drop("invalid_url")
    d.out.url, d.out.host, d.out.path = address.url[:MAX_URL], address.host, address.path[:MAX_URL]
    # A page's title is no personal data by design, but confirmation and account pages put addresses in it.
    d.out.title = without_emails(d.incoming.title[:MAX_TITLE])
    return d


def referrer_step(referrers: ReferrerTable) -> Step:
    """The step that attributes pageviews by the given referrer data set."""
    attribute = referrers.attribute

    def put_referrer(d: Draft) -> Draft | Drop:
        referrer = d.incoming.referrer[:MAX_URL]
        if referrer:
            # Stored the way page addresses are: without credentials or e-mail addresses; one that is no address
            # (javascript:, data:, unparseable) is no referrer.
            address = page_address(referrer, ())
            d.out.referrer = address.url[:MAX_URL] if address else ""
        if d.incoming.type != "pageview":
            return d
        source, medium, campaign, d.out.channel = attribute(d.incoming.url[:MAX_URL], referrer, d.incoming.campaign)
        # Read from the address as sent: a mailing's tags may name its recipient (utm_term=jane@…).
        d.out.source, d.out.medium, d.out.campaign = (
            without_emails(source),
            without_emails(medium),
            without_emails(campaign),
        )
        return d

    return put_referrer


def _number(value: Any) -> float:
    """A price or revenue: a number, or a numeric string as data layers and hand-written Segment calls often send
    ("12.50"); anything else, and NaN or infinity, is 0."""
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return 0.0
    if not isinstance(value, int | float) or isinstance(value, bool):
        return 0.0
    return float(value) if math.isfinite(value) else 0.0


def _quantity(value: Any) -> int:
    """A whole positive quantity, also from a numeric string ("2"), at most MAX_QUANTITY; else 1."""
    number = _number(value)
    return min(int(number), MAX_QUANTITY) if number >= 1 and number == int(number) else 1


def _product(raw: Any) -> Product | None:
    if not isinstance(raw, dict):
        return None
    product_id = raw.get("product_id") or raw.get("sku") or raw.get("id")
    if not isinstance(product_id, str | int) or isinstance(product_id, bool) or product_id == "":
        return None
    return Product(
        product_id=str(product_id)[:128],
        name=str(raw.get("name") or "")[:200],
        category=str(raw.get("category") or "")[:200],
        price=_number(raw.get("price")),
        quantity=_quantity(raw.get("quantity")),
    )


def put_commerce(d: Draft) -> Draft | Drop:
    props = d.incoming.props
    kind = d.incoming.type
    if kind in ("product_view", "add_to_cart", "remove_from_cart"):
        product = _product(props)
        if product is None:
            return Drop(f"{kind}_without_product_id")
        d.out.products = [product]
    elif kind in ("checkout_start", "purchase"):
        items = props.get("items")
        d.out.products = [p for p in map(_product, items if isinstance(items, list) else []) if p]
        d.out.revenue = _number(props.get("revenue", props.get("value")))
        d.out.order_id = str(props.get("order_id") or "")[:128]
    elif kind == "identify":
        customer = props.get("customer_id")
        if not isinstance(customer, str) or not customer:
            return Drop("identify_without_customer_id")
        d.out.customer_id = customer[:128]
    currency = props.get("currency")
    if isinstance(currency, str):
        d.out.currency = currency[:8].upper()
    return d


def put_engagement(d: Draft) -> Draft | Drop:
    d.out.engaged_ms = d.incoming.engaged_ms
    d.out.scroll_pct = d.incoming.scroll_pct
    return d


def put_props(d: Draft) -> Draft | Drop:
    """Keep custom properties small and flat enough for storage; long text is truncated."""
    kept: dict[str, object] = d.out.props
    for key, value in list(d.incoming.props.items())[:MAX_PROPS]:
        if isinstance(value, str):
            kept[key[:100]] = value[:MAX_PROP_TEXT]
        elif isinstance(value, int | float | bool) or value is None:
            kept[key[:100]] = value
        elif isinstance(value, list | dict):
            kept[key[:100]] = value  # depth already bounded by the decoder's nesting check (MAX_DEPTH)
    return d


# The text the beacon captures by itself on these events (a control's caption, a search's query).
CAPTURED_TEXT = {"click": "text", "search": "query"}


def clean_autocaptured(d: Draft) -> Draft | Drop:
    """A clicked link's address (the beacon's props.href) and a submitted form's (props.action) are stored as page
    addresses are: without credentials, secrets, e-mail addresses or the site's stripped parameters. A clicked
    control's caption and a search's query without e-mail addresses: the beacon masks them, a Segment SDK or a
    hand-made request may not."""
    props = d.out.props
    if not props:  # most events: page views
        return d
    for name in ("href", "action") if d.out.type == "form_submit" else ("href",):
        link = props.get(name)
        if isinstance(link, str) and link:
            address = page_address(link[:MAX_URL], tuple(d.ctx.site.strip_params))
            props[name] = address.url[:MAX_PROP_TEXT] if address else without_emails(link)
    text_prop = CAPTURED_TEXT.get(d.out.type)
    text = props.get(text_prop) if text_prop else None
    if text_prop and isinstance(text, str):
        props[text_prop] = without_emails(text)
    return d


class Pipeline:
    def __init__(self, referrers: ReferrerTable) -> None:
        self.steps: tuple[Step, ...] = (
            check_type,
            put_event_time,
            put_visitor,
            apply_site_rules,
            put_user_agent,
            put_geo,
            put_network,
            put_url,
            referrer_step(referrers),
            put_commerce,
            put_engagement,
            put_props,
            clean_autocaptured,
        )

    def run(self, incoming: IncomingEvent, ctx: RequestContext) -> EnrichedEvent | Drop:
        out = EnrichedEvent(
            event_id=incoming.id,
            site_id=ctx.site.site_id,
            visitor_id="",
            type=incoming.type,
            name=incoming.name,
            ts=0,
            received_at=ctx.received_at,
            props={},
        )
        draft: Draft | Drop = Draft(incoming, ctx, out)
        for step in self.steps:
            draft = step(draft)
            if isinstance(draft, Drop):
                return draft
        return out
