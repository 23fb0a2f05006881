"""Data retention against embedded chDB: with CLICKPULSE_RETENTION_DAYS set, rows older than that leave every table
that holds a visitor's behaviour, newer ones stay; 0 keeps everything again; setting the same retention twice leaves
the tables alone."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from clickhouse.client import connect
from clickhouse.migrate import apply_migrations
from clickhouse.retention import AGED_BY, apply_retention
from clickhouse.rows import (
    EVENT_COLUMNS,
    IDENTITY_COLUMNS,
    SESSION_COLUMNS,
    SIGNAL_COLUMNS,
    event_row,
    identity_row,
    session_row,
    signal_row,
)
from clickpulse.records import EnrichedEvent, IdentityLink, IntentSignal, Session
from clickpulse.settings import Settings

pytestmark = pytest.mark.integration
DAY_MS = 86_400_000


def rows_at(ms: int, visitor: str) -> dict[str, list[object]]:
    """One row per aged table, of this visitor, at this time."""
    return {
        "events": event_row(EnrichedEvent(event_id=f"e-{visitor}", site_id="s", visitor_id=visitor, type="pageview",
                                          ts=ms, received_at=ms)),
        "sessions": session_row(Session(session_id=f"s-{visitor}", site_id="s", visitor_id=visitor, start=ms, end=ms,
                                        version=1)),
        "intent_signals": signal_row(IntentSignal(id=f"i-{visitor}", site_id="s", kind="high_intent",
                                                  visitor_id=visitor, score=0.9, at=ms), 0, ms),
        "identity_links": identity_row(IdentityLink(site_id="s", visitor_id=visitor, customer_id="c", at=ms)),
    }  # fmt: skip


COLUMNS = {"events": EVENT_COLUMNS, "sessions": SESSION_COLUMNS, "intent_signals": SIGNAL_COLUMNS,
           "identity_links": IDENTITY_COLUMNS}  # fmt: skip


def test_rows_older_than_the_retention_leave_every_table_and_newer_ones_stay(tmp_path: Path) -> None:
    settings = Settings(clickhouse_dsn=f"chdb://{tmp_path / 'ch'}", data_dir=tmp_path)
    client, db = connect(settings), settings.clickhouse_database
    now = int(time.time() * 1000)
    try:
        apply_migrations(client, db)
        for visitor, ms in (("old", now - 40 * DAY_MS), ("new", now - 20 * DAY_MS)):
            for table, row in rows_at(ms, visitor).items():
                client.insert(f"{db}.{table}", [row], column_names=COLUMNS[table])

        assert apply_retention(client, db, 30) == list(AGED_BY)
        assert apply_retention(client, db, 30) == []  # already so: no second rewrite

        def visitors() -> dict[str, set[str]]:
            return {
                table: {row[0] for row in client.query(f"SELECT visitor_id FROM {db}.{table}").result_rows}
                for table in AGED_BY
            }

        deadline = time.monotonic() + 30
        while visitors() != {table: {"new"} for table in AGED_BY} and time.monotonic() < deadline:
            time.sleep(0.2)
        assert visitors() == {table: {"new"} for table in AGED_BY}

        assert apply_retention(client, db, 0) == list(AGED_BY)  # kept for ever again
        client.insert(f"{db}.events", [rows_at(now - 400 * DAY_MS, "ancient")["events"]], column_names=EVENT_COLUMNS)
        client.command(f"OPTIMIZE TABLE {db}.events FINAL")
        assert visitors()["events"] == {"new", "ancient"}
        assert apply_retention(client, db, 0) == []
    finally:
        client.close()


def test_the_retention_setting_reaches_the_warehouse_when_a_service_starts(tmp_path: Path) -> None:
    env = {**os.environ, "CLICKPULSE_CLICKHOUSE_DSN": f"chdb://{tmp_path / 'ch'}", "CLICKPULSE_DATA_DIR": str(tmp_path)}

    def migrate(days: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "clickpulse.cli", "migrate"]
        run_env = {**env, "CLICKPULSE_RETENTION_DAYS": days}
        return subprocess.run(command, env=run_env, capture_output=True, text=True, timeout=120)

    first = migrate("30")
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["retention_changed"] == list(AGED_BY)
    assert json.loads(migrate("30").stdout) == {"applied": [], "retention_changed": []}
    refused = migrate("-1")  # said by the variable's name, without a traceback
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert refused.stderr.startswith(
        "error: CLICKPULSE_RETENTION_DAYS='-1': Input should be greater than or equal to 0"
    )
