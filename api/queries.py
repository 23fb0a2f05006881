"""The aggregate queries behind the API. Counting is by unique ids, so redelivered copies count once."""

from __future__ import annotations

import datetime as dt

from clickhouse_connect.driver.client import Client


class StatsQueries:
    def __init__(self, client: Client, database: str) -> None:
        self.client = client
        self.db = database

    def stats(self, site_id: str, frm: dt.datetime, to: dt.datetime, include_bots: bool) -> dict[str, object]:
        # time_range answers in UTC; the parameters are typed as UTC, so no server time zone applies.
        params = {"site": site_id, "frm": frm.replace(tzinfo=None), "to": to.replace(tzinfo=None)}
        bot_filter = "" if include_bots else "AND is_bot = 0"
        events = self.client.query(
            f"""
            SELECT uniqExactIf(event_id, type = 'pageview'), uniqExact(visitor_id)
            FROM {self.db}.events
            WHERE site_id = {{site:String}} {bot_filter}
              AND ts >= {{frm:DateTime64(3, 'UTC')}} AND ts <= {{to:DateTime64(3, 'UTC')}}
            """,
            parameters=params,
        ).result_rows[0]
        sessions = self.client.query(
            f"""
            SELECT count(), countIf(bounce = 1), avg(dateDiff('millisecond', start, end)), sum(converted), sum(revenue)
            FROM {self.db}.sessions FINAL
            WHERE site_id = {{site:String}} AND deleted = 0 {bot_filter}
              AND start >= {{frm:DateTime64(3, 'UTC')}} AND start <= {{to:DateTime64(3, 'UTC')}}
            """,
            parameters=params,
        ).result_rows[0]
        n_sessions = int(sessions[0])
        return {
            "site_id": site_id,
            "from": frm.isoformat(),
            "to": to.isoformat(),
            "pageviews": int(events[0]),
            "visitors": int(events[1]),
            "sessions": n_sessions,
            "bounce_rate": round(sessions[1] / n_sessions, 4) if n_sessions else 0.0,
            "avg_session_seconds": round(float(sessions[2]) / 1000, 2) if n_sessions else 0.0,
            "conversions": int(sessions[3] or 0),
            "revenue": round(float(sessions[4] or 0), 2),
        }
