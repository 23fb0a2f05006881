"""Retention: of the visitors whose first session started in a day or week, how many came back in each day or week
after it (GA4's cohort exploration by first visit)."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from clickhouse_connect.driver.client import Client

from api.time_range import utc_iso

Period = Literal["day", "week"]

# The function that gives a time's period, and the period's days. Weeks start on Monday (ISO 8601).
PERIODS: dict[Period, tuple[str, int]] = {"day": ("toStartOfDay", 1), "week": ("toMonday", 7)}
MAX_PERIODS = 52
DEFAULT_PERIODS = 8


def retention(
    client: Client, database: str, site_id: str, period: Period, periods: int, frm: dt.datetime, to: dt.datetime,
    include_bots: bool, now: dt.datetime,
) -> dict[str, object]:  # fmt: skip
    """One cohort per period in which visitors' first sessions started within [frm, to]: its size and, for each
    period from the first on, the visitors with a session in it. Periods still to come are left out."""
    bucket, days = PERIODS[period]
    bot_filter = "" if include_bots else "AND is_bot = 0"
    sessions = f"""
        SELECT visitor_id, start FROM {database}.sessions FINAL
        WHERE site_id = {{site:String}} AND deleted = 0 {bot_filter}
    """
    # A visitor's first session is their first ever, not their first in the range: a visitor from before the range
    # who comes back in it is returning, not new.
    rows = client.query(
        f"""
        SELECT cohort, intDiv(dateDiff('day', cohort, {bucket}(s.start)), {days}) AS n, uniqExact(s.visitor_id)
        FROM ({sessions}) AS s
        INNER JOIN (
            SELECT visitor_id, {bucket}(min(start)) AS cohort, min(start) AS first FROM ({sessions})
            GROUP BY visitor_id
            HAVING first >= {{frm:DateTime64(3, 'UTC')}} AND first <= {{to:DateTime64(3, 'UTC')}}
        ) AS f ON s.visitor_id = f.visitor_id
        WHERE n < {{periods:UInt32}}
        GROUP BY cohort, n
        ORDER BY cohort, n
        """,
        parameters={
            "site": site_id,
            "frm": frm.replace(tzinfo=None),
            "to": to.replace(tzinfo=None),
            "periods": periods,
        },
    ).result_rows
    step = dt.timedelta(days=days)
    active: dict[dt.datetime, dict[int, int]] = {}
    for cohort, n, visitors in rows:
        start = cohort if isinstance(cohort, dt.datetime) else dt.datetime.combine(cohort, dt.time())
        active.setdefault(start.replace(tzinfo=dt.UTC), {})[int(n)] = int(visitors)
    cohorts = []
    for start, counts in sorted(active.items()):
        size = counts.get(0, 0)
        elapsed = min(periods, int((now - start) / step) + 1)  # the period now running counts, as far as it has come
        visitors = [counts.get(n, 0) for n in range(elapsed)]
        cohorts.append(
            {
                "start": utc_iso(start),
                "visitors": size,
                "active": visitors,
                "rates": [round(v / size, 4) if size else 0.0 for v in visitors],
            }
        )
    return {"site_id": site_id, "from": utc_iso(frm), "to": utc_iso(to), "period": period, "cohorts": cohorts}
