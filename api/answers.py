"""The API's answers as OpenAPI documents them: each route answers through its model, so /docs shows what a client
gets, field by field."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


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
    bounce_rate: float = Field(description="share of those sessions with one page view, 0 to 1")
    avg_session_seconds: float
    conversions: int = Field(description="sessions with a purchase")
    revenue: float


class MinutePageviews(BaseModel):
    minute: int = Field(description="start of the minute, epoch ms")
    pageviews: int


class Ranked(BaseModel):
    name: str = Field(description="a page path or a product id")
    count: int


class LiveEvent(BaseModel):
    type: str = Field(examples=["product_view"])
    path: str
    visitor_id: str
    ts: int = Field(description="epoch ms")
    country: str = Field(description="ISO 3166 code, empty when unknown")
    product: str = Field(description="product id, empty when none")


class Realtime(BaseModel):
    site_id: str
    at: int = Field(description="when the snapshot was taken, epoch ms")
    active_visitors: int = Field(description="visitors seen in the last 5 minutes")
    pageviews_per_minute: list[MinutePageviews] = Field(description="the last 30 minutes, oldest first")
    pageviews_last_30_min: int
    top_pages: list[Ranked] = Field(description="up to 10, last 30 minutes")
    top_products: list[Ranked] = Field(description="up to 10, last 30 minutes")
    recent_events: list[LiveEvent] = Field(description="up to 20, newest first")
    late_events: int = Field(description="events that arrived too late for the live counts")


class Signal(BaseModel):
    id: str = Field(description="stable: the same signal never comes with another id")
    kind: Literal["high_intent", "abandoned_cart", "returning_customer"]
    visitor_id: str
    customer_id: str | None = Field(description="the CRM id the visitor identified as, null while anonymous")
    score: float = Field(description="0 to 1", examples=[0.83])
    reasons: list[str] = Field(examples=[["started checkout", "added sku-1 to cart", "viewed sku-1 again"]])
    products: list[str] = Field(description="product ids the signal is about", examples=[["sku-1"]])
    at: str = Field(description="UTC, ISO 8601", examples=["2026-11-23T04:12:09.114Z"])


class IntentPage(BaseModel):
    signals: list[Signal]
    next_cursor: str = Field(description="ask with it next time, also after an empty page")


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
    revenue: float
    first_seen: str | None = Field(description="UTC, ISO 8601; null for a customer never seen")
    last_seen: str | None
    sessions: list[CustomerSession] = Field(description="the most recent first, up to `limit`")


class VisitorErased(BaseModel):
    site_id: str
    visitor_id: str
    erased: bool


class CustomerErased(BaseModel):
    site_id: str
    customer_id: str
    visitors: list[str] = Field(description="the visitors forgotten as the customer")
    erased: bool


def refusals(*statuses: int) -> dict[int | str, dict[str, object]]:
    """The error answers a route gives, for its OpenAPI page (a route always has 401, 403, 422 and 503)."""
    meaning = {
        400: "bad input: `bad_time`, `bad_range`, `bad_cursor` or `empty_id`",
        401: "`missing_read_key`: no `Authorization: Bearer <read key>`",
        403: "`invalid_read_key`: no site has this id and read key",
        422: "`invalid_parameter`: a parameter of the wrong type or out of its range",
        503: "`redis_unavailable`, `kafka_unavailable` or `clickhouse_unavailable`, with Retry-After",
    }
    return {s: {"model": ErrorAnswer, "description": meaning[s]} for s in sorted({401, 403, 422, 503, *statuses})}
