"""The aggregate queries behind the API. Counting is by unique ids, so redelivered copies count once."""

from __future__ import annotations

import datetime as dt

from clickhouse_connect.driver.client import Client

from api.cursors import NOT_HANDED_OUT, BadCursor, seal, unseal
from api.time_range import LATEST, epoch_ms, utc_iso

LATEST_MS = int(LATEST.timestamp() * 1000)
# A session's place in a customer's history, newest first: its start, then its id among sessions that started together.
Place = tuple[int, str]


def encode_history_cursor(site_id: str, customer_id: str, place: Place) -> str:
    return seal({"site": site_id, "customer": customer_id, "before": list(place)})


def decode_history_cursor(cursor: str | None, site_id: str, customer_id: str) -> Place | None:
    """The place of the last session a page listed; the next page lists the sessions older than it."""
    if not cursor:
        return None
    raw = unseal(cursor)
    try:
        start_ms, session_id = raw["before"]
        site, customer = raw["site"], raw["customer"]
    except (ValueError, TypeError, KeyError):
        raise BadCursor(NOT_HANDED_OUT) from None
    # type(), not isinstance(): a bool is an int.
    if type(start_ms) is not int or not 0 <= start_ms <= LATEST_MS or type(session_id) is not str:
        raise BadCursor(NOT_HANDED_OUT)
    if (site, customer) != (site_id, customer_id):
        raise BadCursor("cursor is another customer's: each customer's history has cursors of its own")
    return start_ms, session_id


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
            SELECT count(), countIf(bounce = 1), avg(dateDiff('millisecond', start, end)), sum(converted), sum(revenue),
                   avg(engaged_ms), sumMap(revenue_by_currency)
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
            "avg_engaged_seconds": round(float(sessions[5]) / 1000, 2) if n_sessions else 0.0,
            "conversions": int(sessions[3] or 0),
            "revenue": round(float(sessions[4] or 0), 2),
            "revenue_by_currency": by_currency(sessions[6]),
        }

    def customer_history(self, site_id: str, customer_id: str, limit: int, cursor: str | None) -> dict[str, object]:
        """A CRM customer's sessions on every device: those in which they were identified, and those their
        devices had before they identified (through the identity links, the latest link per visitor). Listed newest
        first, a page at a time: the cursor holds the last listed session's place, so sessions that start meanwhile
        (all newer) neither repeat nor push any session off the next page."""
        before = decode_history_cursor(cursor, site_id, customer_id)
        params: dict[str, object] = {"site": site_id, "customer": customer_id}
        of_customer = f"""
            FROM {self.db}.sessions FINAL
            WHERE site_id = {{site:String}} AND deleted = 0 AND is_bot = 0
              AND (customer_id = {{customer:String}} OR (customer_id = '' AND visitor_id IN (
                  SELECT visitor_id FROM {self.db}.identity_links FINAL
                  WHERE site_id = {{site:String}} AND customer_id = {{customer:String}})))
        """
        totals = self.client.query(
            "SELECT count(), countIf(customer_id = ''), sum(converted), sum(revenue), min(start), max(end), "
            f"arraySort(groupUniqArray(visitor_id)), sumMap(revenue_by_currency) {of_customer}",
            parameters=params,
        ).result_rows[0]
        older = ""
        if before:
            older = "AND (start, session_id) < (fromUnixTimestamp64Milli({start_ms:Int64}, 'UTC'), {session:String})"
            params |= {"start_ms": before[0], "session": before[1]}
        columns = ["session_id", "visitor_id", "start", "end", "pageviews", "entry_page", "exit_page", "source",
                   "medium", "channel", "device", "converted", "revenue"]  # fmt: skip
        # One more than the page holds: whether it is there says if another page follows.
        rows = self.client.query(
            f"SELECT {', '.join(columns)}, customer_id = '' {of_customer} {older} "
            f"ORDER BY start DESC, session_id DESC LIMIT {int(limit) + 1}",
            parameters=params,
        ).result_rows
        sessions = []
        for row in rows[:limit]:
            session = dict(zip(columns, row[:-1], strict=True))
            session["start"], session["end"] = utc_iso(session["start"]), utc_iso(session["end"])
            session["converted"], session["before_identify"] = bool(session["converted"]), bool(row[-1])
            sessions.append(session)
        next_cursor = None
        if len(rows) > limit:
            last = rows[limit - 1]
            next_cursor = encode_history_cursor(site_id, customer_id, (epoch_ms(last[2]), last[0]))
        count = int(totals[0])
        return {
            "customer_id": customer_id,
            "visitors": list(totals[6]),
            "sessions_total": count,
            "sessions_before_identify": int(totals[1]),
            "conversions": int(totals[2] or 0),
            "revenue": round(float(totals[3] or 0), 2),
            "revenue_by_currency": by_currency(totals[7]),
            "first_seen": utc_iso(totals[4]) if count else None,
            "last_seen": utc_iso(totals[5]) if count else None,
            "sessions": sessions,
            "next_cursor": next_cursor,
        }


def by_currency(amounts: dict[str, float]) -> dict[str, float]:
    """Revenue per currency, rounded to the cent; currencies whose purchases added up to nothing left out."""
    return {currency: round(float(amount), 2) for currency, amount in sorted(amounts.items()) if round(amount, 2)}
