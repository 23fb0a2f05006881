"""Visitor erasures in the warehouse: the erasure logs, the deletion of a visitor's rows, and the loader's view
of who was erased when.

The API records an erasure, then deletes the visitor's rows. Records gathered before the erasure may still be
in Kafka; the loader drops them (ErasedVisitors.covers), and deletes what it inserted while the erasure was
being carried out (ErasedVisitors.refresh tells it who was erased since its last look).

A customer's erasure is recorded too, before the API looks up the customer's visitors: a record still in Kafka
that links another visitor to the customer (an identify, or an event, session or signal naming them) makes the
loader erase that visitor as of the customer's erasure (ErasedVisitors.customer_erased_at)."""

from __future__ import annotations

from clickhouse_connect.driver.client import Client

from clickhouse.rows import timestamp

# Per table, the column that says when a row's data was gathered (what the loader's erasure check reads).
GATHERED_AT = {"events": "received_at", "sessions": "start", "intent_signals": "at", "identity_links": "at"}
# Erasures are read again this far back, so one recorded by a host whose clock lags still reaches the loader.
CLOCK_SKEW_MS = 600_000


def erase_visitors(client: Client, database: str, site_id: str, visitor_ids: list[str], requested_at: int) -> None:
    """Record the erasures first: from then on the loader writes none of these visitors' older records."""
    log_erasures(client, database, [(site_id, visitor_id, requested_at) for visitor_id in visitor_ids])
    delete_rows(client, database, site_id, visitor_ids)


def log_erasures(client: Client, database: str, erasures: list[tuple[str, str, int]]) -> None:
    """(site, visitor, requested at ms) rows into the erasure log, in one insert."""
    client.insert(
        f"{database}.erasures",
        [[site_id, visitor_id, timestamp(at)] for site_id, visitor_id, at in erasures],
        column_names=["site_id", "visitor_id", "requested_at"],
    )


def erase_customer(client: Client, database: str, site_id: str, customer_id: str, requested_at: int) -> list[str]:
    """Record the customer's erasure, then erase every visitor the warehouse links to them; return those."""
    client.insert(
        f"{database}.customer_erasures",
        [[site_id, customer_id, timestamp(requested_at)]],
        column_names=["site_id", "customer_id", "requested_at"],
    )
    visitors = visitors_of_customer(client, database, site_id, customer_id)
    if visitors:
        erase_visitors(client, database, site_id, visitors, requested_at)
    return visitors


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
    """Delete the visitors' rows in every table, from its files too; with gathered_by (ms), only those gathered by
    then."""
    for table, column in GATHERED_AT.items():
        where = "site_id = {site:String} AND visitor_id IN {visitors:Array(String)}"
        if gathered_by is not None:
            where += f" AND {column} <= fromUnixTimestamp64Milli({{by:Int64}})"
        client.command(
            f"DELETE FROM {database}.{table} WHERE {where}",
            parameters={"site": site_id, "visitors": visitor_ids, "by": gathered_by or 0},
        )
        # A lightweight DELETE only masks the rows: they stay in the table's files until a merge rewrites their
        # parts, which on a quiet table may be never. This mutation rewrites the masked parts now, in the background.
        client.command(f"ALTER TABLE {database}.{table} APPLY DELETED MASK")


class ErasedVisitors:
    """Who was erased and when, as the loader last read it from the erasure log."""

    def __init__(self, client: Client, database: str) -> None:
        self.client = client
        self.database = database
        self.requested_at: dict[tuple[str, str], int] = {}
        self.customers: dict[tuple[str, str], int] = {}  # (site, customer) -> when the customer was erased
        self._unlogged: dict[tuple[str, str], int] = {}  # erasures the loader found, for log_found
        self._newest = 0

    def refresh(self) -> set[tuple[str, str]]:
        """Read the erasures recorded since the last look; return the visitors they are news for."""
        since = "WHERE requested_at >= fromUnixTimestamp64Milli({since:Int64})"
        rows = self.client.query(
            f"SELECT 'visitor', site_id, visitor_id, toUnixTimestamp64Milli(max(requested_at)) "
            f"FROM {self.database}.erasures {since} GROUP BY site_id, visitor_id "
            f"UNION ALL SELECT 'customer', site_id, customer_id, toUnixTimestamp64Milli(max(requested_at)) "
            f"FROM {self.database}.customer_erasures {since} GROUP BY site_id, customer_id",
            parameters={"since": max(self._newest - CLOCK_SKEW_MS, 0)},
        ).result_rows
        news = set()
        for kind, site_id, erased_id, at in rows:
            self._newest = max(self._newest, at)
            if kind == "customer":
                self.customers[(site_id, erased_id)] = max(at, self.customers.get((site_id, erased_id), -1))
            elif at > self.requested_at.get((site_id, erased_id), -1):
                self.requested_at[(site_id, erased_id)] = at
                news.add((site_id, erased_id))
        return news

    def customer_erased_at(self, site_id: str, customer_id: str, gathered_at: int) -> int | None:
        """When the customer this data names was erased, if that was at or after the data was gathered."""
        requested = self.customers.get((site_id, customer_id)) if customer_id else None
        return requested if requested is not None and gathered_at <= requested else None

    def erase(self, site_id: str, visitor_id: str, requested_at: int) -> bool:
        """Cover the data of a visitor the loader found linked to an erased customer from now on (log_found
        writes it to the log); False when an erasure at or after that time was already known."""
        if self.requested_at.get((site_id, visitor_id), -1) >= requested_at:
            return False
        self.requested_at[(site_id, visitor_id)] = self._unlogged[(site_id, visitor_id)] = requested_at
        return True

    def found(self) -> list[tuple[str, str, int]]:
        """The erasures erase() found since the last log_found: (site, visitor, requested_at)."""
        return [(s, v, at) for (s, v), at in self._unlogged.items()]

    def log_found(self) -> None:
        """Write the erasures erase() found since the last call, in one insert."""
        if self._unlogged:
            log_erasures(self.client, self.database, self.found())
            self._unlogged = {}

    def covers(self, site_id: str, visitor_id: str, gathered_at: int) -> bool:
        """Whether data gathered at this time (ms) belongs to an erasure requested since."""
        requested = self.requested_at.get((site_id, visitor_id))
        return requested is not None and gathered_at <= requested
