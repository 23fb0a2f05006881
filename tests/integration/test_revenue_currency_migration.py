"""Sessions a warehouse stored before sessions kept revenue per currency still show their revenue per currency,
under XXX (not known), in /stats' figures: after the upgrade it was missing from revenue_by_currency."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from api.queries import StatsQueries
from clickhouse import migrate
from clickhouse.client import connect
from clickpulse.settings import Settings

pytestmark = pytest.mark.integration


def test_revenue_of_sessions_stored_before_the_upgrade_shows_under_xxx(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(clickhouse_dsn=f"chdb://{tmp_path / 'ch'}", data_dir=tmp_path)
    client, db = connect(settings), settings.clickhouse_database
    try:
        every_file = migrate.migration_files()
        before = [(name, sql) for name, sql in every_file if name < "008"]
        with monkeypatch.context() as older:  # the warehouse as a release before revenue per currency left it
            older.setattr(migrate, "migration_files", lambda: before)
            migrate.apply_migrations(client, db)
        start = dt.datetime(2026, 11, 20, 12, tzinfo=dt.UTC)
        columns = ["site_id", "session_id", "visitor_id", "start", "end", "converted", "revenue", "version"]
        rows = [["s", "old-buy", "v1", start, start, 1, 42.5, 1], ["s", "old-look", "v2", start, start, 0, 0.0, 1]]
        client.insert(f"{db}.sessions", rows, column_names=columns)
        assert migrate.apply_migrations(client, db) == [name for name, _ in every_file if name >= "008"]
        day = (start.replace(hour=0), start.replace(hour=23))
        stats = StatsQueries(client, db).stats("s", *day, include_bots=False)
        assert (stats["sessions"], stats["revenue"], stats["revenue_by_currency"]) == (2, 42.5, {"XXX": 42.5})
    finally:
        client.close()  # an open chDB handle keeps its engine, and a process can hold one engine path only
