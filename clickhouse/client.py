"""The one place that turns a DSN into a ClickHouse client (embedded chDB or a server over HTTP)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from urllib.parse import urlsplit

import clickhouse_connect
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import OperationalError

from clickpulse.dependency_wait import wait_for_dependency
from clickpulse.settings import Settings


def connect(settings: Settings) -> Client:
    """chdb:///path gives an in-process engine (one path per process); http(s):// a server."""
    dsn = settings.effective_clickhouse_dsn
    if dsn.startswith("chdb:"):
        path = dsn.removeprefix("chdb://")
        if path and path != "memory" and not path.startswith(":memory:"):
            # chDB needs the folder to exist before the engine opens it.
            Path(path).mkdir(parents=True, exist_ok=True)
    return clickhouse_connect.get_client(dsn=dsn)


async def wait_for_clickhouse(settings: Settings) -> None:
    """A ClickHouse server may still be starting with the rest of a stack: the API, the loader and migrate wait for
    it as the other services wait for Kafka and Redis, instead of exiting with a traceback. chDB is in-process."""
    dsn = settings.effective_clickhouse_dsn
    if dsn.startswith("chdb:"):
        return
    url = urlsplit(dsn)
    where = f"{url.hostname}:{url.port or (8443 if url.scheme == 'https' else 8123)}"  # the DSN may hold a password

    async def answers() -> None:
        client = await asyncio.to_thread(connect, settings)
        client.close()

    await wait_for_dependency(
        "ClickHouse", where, "CLICKPULSE_CLICKHOUSE_DSN", answers, (OperationalError,), settings.dependency_wait_s
    )
