"""Data retention: rows older than the configured number of days leave the warehouse, deleted by ClickHouse itself (a
table TTL, applied to the rows there now and then in its background merges), as GA4's and Matomo's retention settings
do. 0 keeps everything.

The erasures table is not shortened: a record of a forgotten visitor still on its way through Kafka must still be
dropped when it arrives, however long ago the erasure was asked for.
"""

from __future__ import annotations

import re

from clickhouse_connect.driver.client import Client

# Each table's time column, by which its rows age: events by when they happened, sessions by when they started (as
# /stats counts them), signals and identity links by when they were raised or made.
AGED_BY = {"events": "ts", "sessions": "start", "intent_signals": "at", "identity_links": "at"}
TABLE_TTL = re.compile(r" TTL (.+?)(?: SETTINGS |$)")


def apply_retention(client: Client, database: str, days: int) -> list[str]:
    """Give each table the TTL of `days` (none for 0) where it has another; the tables changed. A changed TTL
    rewrites the table's parts once, so an unchanged one is left alone."""
    changed = []
    for table, column in AGED_BY.items():
        engine = client.query(
            "SELECT engine_full FROM system.tables WHERE database = {db:String} AND name = {table:String}",
            parameters={"db": database, "table": table},
        ).result_rows[0][0]
        found = TABLE_TTL.search(engine)
        current = found.group(1) if found else None
        wanted = f"toDateTime({column}) + toIntervalDay({days})" if days else None  # as ClickHouse shows a TTL
        if current == wanted:
            continue
        if wanted:
            client.command(f"ALTER TABLE {database}.{table} MODIFY TTL {wanted}")
        else:
            client.command(f"ALTER TABLE {database}.{table} REMOVE TTL")
        changed.append(table)
    return changed
