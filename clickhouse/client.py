"""The one place that turns a DSN into a ClickHouse client (embedded chDB or a server over HTTP)."""

from __future__ import annotations

import clickhouse_connect
from clickhouse_connect.driver.client import Client

from clickpulse.settings import Settings


def connect(settings: Settings) -> Client:
    """chdb:///path gives an in-process engine (one path per process); http(s):// a server."""
    dsn = settings.effective_clickhouse_dsn
    if dsn.startswith("chdb:"):
        path = dsn.removeprefix("chdb://")
        if path and path != "memory" and not path.startswith(":memory:"):
            # chDB needs the folder to exist before the engine opens it.
            from pathlib import Path

            Path(path).mkdir(parents=True, exist_ok=True)
    return clickhouse_connect.get_client(dsn=dsn)
