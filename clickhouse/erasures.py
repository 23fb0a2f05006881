"""Visitor erasures in the warehouse: the erasure log, the deletion of a visitor's rows, and the loader's view
of who was erased when.

The API records an erasure, then deletes the visitor's rows. Records gathered before the erasure may still be
in Kafka; the loader drops them (ErasedVisitors.covers), and deletes what it inserted while the erasure was
being carried out (ErasedVisitors.refresh tells it who was erased since its last look)."""

from __future__ import annotations

from clickhouse_connect.driver.client import Client

from clickhouse.rows import timestamp

# Per table, the column that says when a row's data was gathered (what the loader's erasure check reads).
GATHERED_AT = {"events": "received_at", "sessions": "start", "intent_signals": "at", "identity_links": "at"}
# Erasures are read again this far back, so one recorded by a host whose clock lags still reaches the loader.
CLOCK_SKEW_MS = 600_000


def erase_visitors(client: Client, database: str, site_id: str, visitor_ids: list[str], requested_at: int) -> None:
    """Record the erasures first: from then on the loader writes none of these visitors' older records."""
    client.insert(
        f"{database}.erasures",
        [[site_id, visitor_id, timestamp(requested_at)] for visitor_id in visitor_ids],
        column_names=["site_id", "visitor_id", "requested_at"],
    )
    delete_rows(client, database, site_id, visitor_ids)


def visitors_of_customer(client: Client, database: str, site_id: str, customer_id: str) -> list[str]:
    """Every visitor the warehouse knows as this customer: linked by an identify, or named on an event or
    session."""
    where = "WHERE site_id = {site:String} AND customer_id = {customer:String}"
    rows = client.query(
        " UNION DISTINCT ".join(
            f"SELECT visitor_id FROM {database}.{table} {where}" for table in ("identity_links", "events", "sessions")
        ),
        parameters={"site": site_id, "customer": customer_id},
    ).result_rows
    return sorted({row[0] for row in rows})


def delete_rows(
    client: Client, database: str, site_id: str, visitor_ids: list[str], gathered_by: int | None = None
) -> None:
    """Delete the visitors' rows in every table; with gathered_by (ms), only those gathered by then."""
    for table, column in GATHERED_AT.items():
        where = "site_id = {site:String} AND visitor_id IN {visitors:Array(String)}"
        if gathered_by is not None:
            where += f" AND {column} <= fromUnixTimestamp64Milli({{by:Int64}})"
        client.command(
            f"DELETE FROM {database}.{table} WHERE {where}",
            parameters={"site": site_id, "visitors": visitor_ids, "by": gathered_by or 0},
        )


class ErasedVisitors:
    """Who was erased and when, as the loader last read it from the erasure log."""

    def __init__(self, client: Client, database: str) -> None:
        self.client = client
        self.database = database
        self.requested_at: dict[tuple[str, str], int] = {}
        self._newest = 0

    def refresh(self) -> set[tuple[str, str]]:
        """Read the erasures recorded since the last look; return the visitors they are news for."""
        rows = self.client.query(
            f"SELECT site_id, visitor_id, toUnixTimestamp64Milli(max(requested_at)) FROM {self.database}.erasures "
            "WHERE requested_at >= fromUnixTimestamp64Milli({since:Int64}) GROUP BY site_id, visitor_id",
            parameters={"since": max(self._newest - CLOCK_SKEW_MS, 0)},
        ).result_rows
        news = set()
        for site_id, visitor_id, at in rows:
            if at > self.requested_at.get((site_id, visitor_id), -1):
                self.requested_at[(site_id, visitor_id)] = at
                news.add((site_id, visitor_id))
            self._newest = max(self._newest, at)
        return news

    def covers(self, site_id: str, visitor_id: str, gathered_at: int) -> bool:
        """Whether data gathered at this time (ms) belongs to an erasure requested since."""
        requested = self.requested_at.get((site_id, visitor_id))
        return requested is not None and gathered_at <= requested
