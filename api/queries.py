"""The aggregate queries behind the API. Counting is by unique ids, so redelivered copies count once."""

from __future__ import annotations

import datetime as dt

from clickhouse_connect.driver.client import Client

from api.time_range import utc_iso


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
            "from": utc_iso(frm),
            "to": utc_iso(to),
            "pageviews": int(events[0]),
            "visitors": int(events[1]),
            "sessions": n_sessions,
            "bounce_rate": round(sessions[1] / n_sessions, 4) if n_sessions else 0.0,
            "avg_session_seconds": round(float(sessions[2]) / 1000, 2) if n_sessions else 0.0,
            "conversions": int(sessions[3] or 0),
            "revenue": round(float(sessions[4] or 0), 2),
        }

    def customer_history(self, site_id: str, customer_id: str, limit: int) -> dict[str, object]:
        """A CRM customer's sessions on every device: those in which they were identified, and those their
        devices had before they identified (through the identity links, the latest link per visitor)."""
        params = {"site": site_id, "customer": customer_id}
        of_customer = f"""
            FROM {self.db}.sessions FINAL
            WHERE site_id = {{site:String}} AND deleted = 0 AND is_bot = 0
              AND (customer_id = {{customer:String}} OR (customer_id = '' AND visitor_id IN (
                  SELECT visitor_id FROM {self.db}.identity_links FINAL
                  WHERE site_id = {{site:String}} AND customer_id = {{customer:String}})))
        """
        totals = self.client.query(
            "SELECT count(), countIf(customer_id = ''), sum(converted), sum(revenue), min(start), max(end), "
            f"arraySort(groupUniqArray(visitor_id)) {of_customer}",
            parameters=params,
        ).result_rows[0]
        columns = ["session_id", "visitor_id", "start", "end", "pageviews", "entry_page", "exit_page", "source",
                   "medium", "channel", "device", "converted", "revenue"]  # fmt: skip
        rows = self.client.query(
            f"SELECT {', '.join(columns)}, customer_id = '' {of_customer} ORDER BY start DESC LIMIT {int(limit)}",
            parameters=params,
        ).result_rows
        sessions = []
        for row in rows:
            session = dict(zip(columns, row[:-1], strict=True))
            session["start"], session["end"] = utc_iso(session["start"]), utc_iso(session["end"])
            session["converted"], session["before_identify"] = bool(session["converted"]), bool(row[-1])
            sessions.append(session)
        count = int(totals[0])
        return {
            "customer_id": customer_id,
            "visitors": list(totals[6]),
            "sessions_total": count,
            "sessions_before_identify": int(totals[1]),
            "conversions": int(totals[2] or 0),
            "revenue": round(float(totals[3] or 0), 2),
            "first_seen": utc_iso(totals[4]) if count else None,
            "last_seen": utc_iso(totals[5]) if count else None,
            "sessions": sessions,
        }
