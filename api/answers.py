"""The API's answers as OpenAPI documents them: each route answers through its model, so /docs shows what a client
gets, field by field."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from clickpulse.sites import KeyKind


class ErrorAnswer(BaseModel):
    """Every refusal (4xx) and outage (503, with Retry-After)."""

    error: str = Field(description="machine-readable reason", examples=["bad_time"])
    detail: str = Field(description="for people", examples=["cannot read '2026-13-01' as a date or time"])


class Stats(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    site_id: str
    from_: str = Field(alias="from", description="UTC, ISO 8601", examples=["2026-11-01T00:00:00.000Z"])
    to: str = Field(description="UTC, ISO 8601", examples=["2026-11-23T23:59:59.999Z"])
    pageviews: int
    visitors: int
    sessions: int = Field(description="sessions that started in the range")
    bounce_rate: float = Field(
        description="share of those sessions that bounced: at most one page view, under 10 s engaged and no purchase"
    )
    avg_session_seconds: float = Field(description="from a session's first event to its last")
    avg_engaged_seconds: float = Field(description="time the page was visible and focused, per session")
    conversions: int = Field(description="sessions with a purchase")
    revenue: float = Field(description="every currency's amounts added up: use revenue_by_currency")
    revenue_by_currency: dict[str, float] = Field(
        description="ISO 4217 code -> revenue; XXX for purchases that named no currency", examples=[{"EUR": 1549.0}]
    )


class MinutePageviews(BaseModel):
    minute: str = Field(description="start of the minute, UTC, ISO 8601", examples=["2026-11-23T04:12:00.000Z"])
    pageviews: int


class Ranked(BaseModel):
    name: str = Field(description="a page path or a product id")
    count: int


class LiveEvent(BaseModel):
    type: str = Field(examples=["product_view"])
    path: str
    visitor_id: str
    ts: str = Field(description="when it happened, UTC, ISO 8601", examples=["2026-11-23T04:12:09.114Z"])
    country: str = Field(description="ISO 3166 code, empty when unknown")
    product: str = Field(description="product id, empty when none")


class Signal(BaseModel):
    id: str = Field(description="stable: the same signal never comes with another id")
    kind: Literal["high_intent", "abandoned_cart", "returning_customer"]
    visitor_id: str
    customer_id: str | None = Field(description="the CRM id the visitor identified as, null while anonymous")
    score: float = Field(description="0 to 1", examples=[0.83])
    reasons: list[str] = Field(examples=[["started checkout", "added sku-1 to cart", "viewed sku-1 again"]])
    products: list[str] = Field(description="product ids the signal is about", examples=[["sku-1"]])
    at: str = Field(description="UTC, ISO 8601", examples=["2026-11-23T04:12:09.114Z"])


class Realtime(BaseModel):
    site_id: str
    at: str = Field(description="when the snapshot was taken, UTC, ISO 8601", examples=["2026-11-23T04:12:31.020Z"])
    active_visitors: int = Field(description="visitors seen in the last 5 minutes")
    pageviews_per_minute: list[MinutePageviews] = Field(description="the last 30 minutes, oldest first")
    pageviews_last_30_min: int
    top_pages: list[Ranked] = Field(description="up to 10, last 30 minutes")
    top_products: list[Ranked] = Field(description="up to 10, last 30 minutes")
    recent_events: list[LiveEvent] = Field(description="up to 20, newest first")
    intent_signals: list[Signal] = Field(
        description="the latest purchase-intent signals, up to 20, newest first, as /intent lists them (which keeps "
        "them all)"
    )
    late_events: int = Field(
        description="since the site began, not in the last 30 minutes: events older than their visitor's newest one "
        "by more than the session gap and grace, stored and counted in /stats' page views but in no session and in "
        "no live figure"
    )


class IntentPage(BaseModel):
    signals: list[Signal]
    next_cursor: str = Field(description="ask with it next time, also after an empty page")
    cursor_reset: bool = Field(
        description="true when the cursor pointed past where the feed's data ends (the data was reset, or the cursor "
        "was not one this API handed out): the feed was read again from its start there, so signals seen before may "
        "come again, with the same ids"
    )


class WebhookStatus(BaseModel):
    site_id: str
    url: str | None = Field(description="where the site's new signals are pushed; null when it has no webhook")
    delivered_signals: int = Field(description="signals the URL took (2xx) since the webhook was set")
    last_success: str | None = Field(description="UTC, ISO 8601, of the last push the URL took; null if none yet")
    last_failure: str | None = Field(description="UTC, ISO 8601, of the last push that failed; null if none")
    last_failure_reason: str | None = Field(
        description="why it failed", examples=["answered HTTP 500", "not delivered: ConnectError('…')"]
    )
    failures_since_success: int = Field(
        description="0 while pushes go through; failed pushes are tried again after 1 s, the wait doubling to 5 min"
    )


class CustomerSession(BaseModel):
    session_id: str
    visitor_id: str
    start: str = Field(description="UTC, ISO 8601")
    end: str = Field(description="UTC, ISO 8601")
    pageviews: int
    entry_page: str
    exit_page: str
    source: str
    medium: str
    channel: str = Field(examples=["Paid Search"])
    device: str = Field(examples=["desktop"])
    converted: bool
    revenue: float
    before_identify: bool = Field(description="a session the device had before the visitor identified")


class CustomerHistory(BaseModel):
    customer_id: str
    visitors: list[str] = Field(description="every device (visitor id) identified as the customer")
    sessions_total: int
    sessions_before_identify: int
    conversions: int
    revenue: float = Field(description="every currency's amounts added up: use revenue_by_currency")
    revenue_by_currency: dict[str, float] = Field(description="ISO 4217 code -> revenue; XXX for no currency")
    first_seen: str | None = Field(description="UTC, ISO 8601; null for a customer never seen")
    last_seen: str | None
    sessions: list[CustomerSession] = Field(description="newest first, up to `limit`")
    next_cursor: str | None = Field(
        description="ask with it for the next page (older sessions); null on the last page. Sessions that start "
        "meanwhile are newer than every page: a first page (no cursor) lists them"
    )


class VisitorErased(BaseModel):
    site_id: str
    visitor_id: str
    erased: bool


class CustomerErased(BaseModel):
    site_id: str
    customer_id: str
    visitors: list[str] = Field(description="the visitors forgotten as the customer")
    erased: bool


class Ranging(BaseModel):
    """What every breakdown, funnel and retention answers about itself."""

    model_config = ConfigDict(populate_by_name=True)

    site_id: str
    from_: str = Field(alias="from", description="UTC, ISO 8601", examples=["2026-11-01T00:00:00.000Z"])
    to: str = Field(description="UTC, ISO 8601", examples=["2026-11-23T23:59:59.999Z"])


class Valued(BaseModel):
    value: str = Field(description="the dimension's value; empty for none (a direct visit's source) or unknown")


class Rest(BaseModel):
    values: int = Field(description="how many values the rows leave out; `other` holds their figures")


class SessionFigures(BaseModel):
    visitors: int = Field(description="visitors of those sessions; one with sessions of two values counts in both")
    sessions: int = Field(description="sessions that started in the range, as /stats counts them")
    bounce_rate: float = Field(description="share of those sessions that bounced, 0 to 1")
    conversions: int = Field(description="sessions with a purchase")
    revenue: float = Field(description="every currency's amounts added up: use revenue_by_currency")
    revenue_by_currency: dict[str, float] = Field(description="ISO 4217 code -> revenue; XXX for no currency")


class SessionRow(SessionFigures, Valued):
    pass


class SessionRest(SessionFigures, Rest):
    pass


class SessionBreakdown(Ranging):
    """Sessions by an attribute they have from their first event (source, entry page, country, device...)."""

    dimension: str = Field(examples=["channel"])
    kind: Literal["sessions"]
    rows: list[SessionRow] = Field(description="up to `limit`, most visitors first")
    other: SessionRest = Field(description="the other values together: rows and other add up to /stats' sessions")


class PageFigures(BaseModel):
    pageviews: int
    visitors: int


class PageRow(PageFigures, Valued):
    pass


class PageRest(PageFigures, Rest):
    pass


class PageBreakdown(Ranging):
    """Page views by page path."""

    dimension: Literal["page"]
    kind: Literal["pages"]
    rows: list[PageRow] = Field(description="up to `limit`, most page views first")
    other: PageRest = Field(description="the other pages together: rows and other add up to /stats' page views")


class ProductFigures(BaseModel):
    product_views: int
    add_to_carts: int
    purchases: int = Field(description="orders that held the product (an order id sent again counts once)")
    visitors: int = Field(description="visitors who viewed, added or bought it")


class ProductRow(ProductFigures, Valued):
    pass


class ProductRest(ProductFigures, Rest):
    pass


class ProductBreakdown(Ranging):
    """Commerce events by product id."""

    dimension: Literal["product"]
    kind: Literal["products"]
    rows: list[ProductRow] = Field(description="up to `limit`, most viewed first")
    other: ProductRest = Field(description="the other products together")


Breakdown = Annotated[SessionBreakdown | PageBreakdown | ProductBreakdown, Field(discriminator="kind")]


class FunnelStep(BaseModel):
    step: str = Field(description="as asked: a page path (a trailing * for every path so starting) or an event type")
    visitors: int = Field(description="visitors who did this step after every step before it, within the window")
    conversion_from_previous: float | None = Field(description="share of the previous step's visitors; null first")
    conversion_from_first: float = Field(description="share of the first step's visitors")


class Funnel(Ranging):
    window_seconds: int = Field(description="the time from a visitor's first step in which the others count")
    steps: list[FunnelStep]


class Cohort(BaseModel):
    start: str = Field(description="the day or week (from Monday) in which these visitors' first sessions started")
    visitors: int = Field(description="visitors whose first session ever started then")
    active: list[int] = Field(
        description="for each period from that one on, the cohort's visitors with a session in it (the first is "
        "`visitors`); periods still to come are left out, the one now running counts as far as it has come"
    )
    rates: list[float] = Field(description="`active` as shares of `visitors`")


class Retention(Ranging):
    period: str = Field(description="`day` or `week`")
    cohorts: list[Cohort] = Field(description="one per period with first sessions in the range, oldest first")


def refusals(*statuses: int, key: KeyKind = "read") -> dict[int | str, dict[str, object]]:
    """The error answers a route gives, for its OpenAPI page (a route always has 401, 403, 422 and 503); key: the
    site's key the route takes."""
    meaning = {
        400: "bad input: `bad_time`, `bad_range`, `bad_cursor`, `empty_id`, `bad_dimension`, `bad_step` "
        "or `bad_window`",
        401: f"`missing_{key}_key`: no `Authorization: Bearer <{key} key>`",
        403: f"`invalid_{key}_key`: no site has this id and {key} key",
        422: "`invalid_parameter`: a parameter of the wrong type or out of its range",
        503: "`redis_unavailable`, `kafka_unavailable` or `clickhouse_unavailable`, with Retry-After",
    }
    return {s: {"model": ErrorAnswer, "description": meaning[s]} for s in sorted({401, 403, 422, 503, *statuses})}
