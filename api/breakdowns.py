"""Breakdowns: the figures of a time range per source, page, country, device or product, top values first, with
the rest summed as `other` so that the rows add up to the range's totals."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, NamedTuple

from clickhouse_connect.driver.client import Client

from api.errors import ApiError
from api.queries import by_currency
from api.time_range import utc_iso

DEFAULT_ROWS = 10
MAX_ROWS = 100


class Dimension(NamedTuple):
    kind: str  # "sessions", "pages" or "products": which figures its rows carry
    column: str  # a column name or expression of this module's own, never the client's text


SESSION_COLUMNS = (
    "channel",
    "source",
    "medium",
    "campaign",
    "entry_page",
    "exit_page",
    "country",
    "device",
    "browser",
    "os",
)
# The dimension a client names picks its column here: nothing the client sends is ever written into SQL.
DIMENSIONS: dict[str, Dimension] = {
    # A session's attribution, entry and exit, and its visitor's place and device, as at its first event.
    **{name: Dimension("sessions", name) for name in SESSION_COLUMNS},
    "page": Dimension("pages", "path"),
    "product": Dimension("products", "arrayJoin(product_ids)"),
}

# Per kind, its figures as (name, aggregate). Counting is by unique ids, so redelivered copies count once.
FIGURES: dict[str, list[tuple[str, str]]] = {
    "sessions": [
        ("visitors", "uniqExact(visitor_id)"),
        ("sessions", "count()"),
        ("bounces", "countIf(bounce = 1)"),
        ("conversions", "sum(converted)"),
        ("revenue", "sum(revenue)"),
        ("revenue_by_currency", "sumMap(revenue_by_currency)"),
    ],
    "pages": [("pageviews", "uniqExact(event_id)"), ("visitors", "uniqExact(visitor_id)")],
    "products": [
        ("product_views", "uniqExactIf(event_id, type = 'product_view')"),
        ("add_to_carts", "uniqExactIf(event_id, type = 'add_to_cart')"),
        # Orders, as /stats counts them: a reloaded receipt page sends its order again under another event id.
        ("purchases", "uniqExactIf(if(order_id = '', event_id, order_id), type = 'purchase')"),
        ("visitors", "uniqExact(visitor_id)"),
    ],
}
COMMERCE_TYPES = "('product_view', 'add_to_cart', 'purchase')"
# The figures a kind's rows are sorted by, the main one first.
SORTED_BY = {"sessions": ["visitors", "sessions"], "pages": ["pageviews", "visitors"],
             "products": ["product_views", "purchases", "visitors"]}  # fmt: skip


def dimension_named(name: str) -> Dimension:
    dimension = DIMENSIONS.get(name)
    if dimension is None:
        known = ", ".join(DIMENSIONS)
        raise ApiError(400, "bad_dimension", f"no breakdown by {name[:100]!r}: ask for one of {known}")
    return dimension


def counted_rows(database: str, dimension: Dimension, bot_filter: str) -> str:
    """The rows a breakdown aggregates (sessions, page views or a commerce event's products) in the time range,
    each with its dimension's value."""
    if dimension.kind == "sessions":
        return f"""
            SELECT {dimension.column} AS value, visitor_id, bounce, converted, revenue, revenue_by_currency
            FROM {database}.sessions FINAL
            WHERE site_id = {{site:String}} AND deleted = 0 {bot_filter}
              AND start >= {{frm:DateTime64(3, 'UTC')}} AND start <= {{to:DateTime64(3, 'UTC')}}
        """
    types = "type = 'pageview'" if dimension.kind == "pages" else f"type IN {COMMERCE_TYPES}"
    return f"""
        SELECT {dimension.column} AS value, event_id, visitor_id, type, order_id
        FROM {database}.events
        WHERE site_id = {{site:String}} AND {types} {bot_filter}
          AND ts >= {{frm:DateTime64(3, 'UTC')}} AND ts <= {{to:DateTime64(3, 'UTC')}}
    """


def breakdown(
    client: Client, database: str, site_id: str, name: str, frm: dt.datetime, to: dt.datetime, limit: int,
    include_bots: bool,
) -> dict[str, object]:  # fmt: skip
    """The top `limit` values of a dimension by its main figure, and the rest as `other`."""
    dimension = dimension_named(name)
    # time_range answers in UTC; the parameters are typed as UTC, so no server time zone applies.
    params: dict[str, object] = {"site": site_id, "frm": frm.replace(tzinfo=None), "to": to.replace(tzinfo=None)}
    counted = counted_rows(database, dimension, "" if include_bots else "AND is_bot = 0")
    figures = FIGURES[dimension.kind]
    aggregates = ", ".join(f"{aggregate} AS {figure}" for figure, aggregate in figures)
    order = ", ".join(f"{figure} DESC" for figure in SORTED_BY[dimension.kind])
    top = client.query(
        f"SELECT value, {aggregates} FROM ({counted}) GROUP BY value ORDER BY {order}, value LIMIT {{limit:UInt32}}",
        parameters=params | {"limit": limit},
    ).result_rows
    # The rest as one row: a visitor of two of its values counts once there, so it is no sum of rows.
    rest = client.query(
        f"SELECT uniqExact(value), {aggregates} FROM ({counted}) WHERE NOT has({{shown:Array(String)}}, value)",
        parameters=params | {"shown": [row[0] for row in top]},
    ).result_rows[0]
    names = [figure for figure, _ in figures]
    return {
        "site_id": site_id,
        "from": utc_iso(frm),
        "to": utc_iso(to),
        "dimension": name,
        "kind": dimension.kind,
        "rows": [{"value": row[0], **read_figures(names, row[1:])} for row in top],
        "other": {"values": int(rest[0]), **read_figures(names, rest[1:])},
    }


def read_figures(names: list[str], values: Sequence[Any]) -> dict[str, object]:
    """The figures as the answer gives them: counts as ints, revenue to the cent (per currency as /stats gives it),
    bounces as a share of sessions."""
    read = dict(zip(names, values, strict=True))
    answer: dict[str, object] = {}
    for figure, value in read.items():
        if figure == "revenue":
            answer[figure] = round(float(value or 0), 2)
        elif figure == "revenue_by_currency":
            answer[figure] = by_currency(value)
        elif figure == "bounces":
            sessions = int(read["sessions"])
            answer["bounce_rate"] = round(int(value) / sessions, 4) if sessions else 0.0
        else:
            answer[figure] = int(value or 0)
    return answer
