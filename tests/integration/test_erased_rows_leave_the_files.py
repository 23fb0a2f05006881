"""An erasure against embedded chDB: the visitor's rows leave the tables' files, not only the query results. A
lightweight DELETE only masks rows until a merge rewrites their parts, which on a quiet table may be never."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from clickhouse.client import connect
from clickhouse.erasures import erase_visitors
from clickhouse.migrate import apply_migrations
from clickhouse.rows import EVENT_COLUMNS, IDENTITY_COLUMNS, event_row, identity_row
from clickpulse.records import EnrichedEvent, IdentityLink
from clickpulse.settings import Settings

pytestmark = pytest.mark.integration
NOW = 1_790_000_000_000


def test_an_erased_visitors_rows_are_gone_from_the_tables_files_soon_after_the_erasure(tmp_path: Path) -> None:
    settings = Settings(clickhouse_dsn=f"chdb://{tmp_path / 'ch'}", data_dir=tmp_path)
    client, db = connect(settings), settings.clickhouse_database
    try:
        apply_migrations(client, db)
        events = [
            EnrichedEvent(event_id=f"e{i}", site_id="s", visitor_id=f"v{i % 2}", type="pageview", ts=NOW + i,
                          received_at=NOW, title=f"Order {i}")
            for i in range(6)
        ]  # fmt: skip
        client.insert(f"{db}.events", [event_row(e) for e in events], column_names=EVENT_COLUMNS)
        link = IdentityLink(site_id="s", visitor_id="v0", customer_id="crm-0", at=NOW)
        client.insert(f"{db}.identity_links", [identity_row(link)], column_names=IDENTITY_COLUMNS)

        erase_visitors(client, db, "s", ["v0"], NOW + 1000)

        # apply_deleted_mask=0 shows what the files still hold, masked rows included.
        on_disk = (
            f"SELECT (SELECT count() FROM {db}.events WHERE visitor_id = 'v0'),"
            f" (SELECT count() FROM {db}.identity_links WHERE visitor_id = 'v0'),"
            f" (SELECT count() FROM {db}.events WHERE visitor_id = 'v1')"
            " SETTINGS apply_deleted_mask = 0"
        )
        deadline = time.monotonic() + 20
        while (left := client.query(on_disk).result_rows[0]) != (0, 0, 3) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert left == (0, 0, 3)
    finally:
        client.close()
