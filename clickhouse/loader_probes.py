"""The loader's readiness and metrics: served by `clickpulse loader` on CLICKPULSE_LOADER_HTTP_PORT (server mode),
and by the API's /metrics when the loader runs inside it (chDB mode)."""

from __future__ import annotations

import asyncio

from clickhouse.loader import Loader
from clickpulse.kafka_group_membership import in_group
from clickpulse.probe_server import ProbeServer
from clickpulse.prometheus_text import exposition, family
from clickpulse.settings import Settings


def _assigned(loader: Loader) -> int:
    consumer = loader.consumer
    try:
        return len(consumer.assignment()) if consumer is not None else 0
    except Exception:  # not started yet, or stopping
        return 0


def loader_readiness(loader: Loader) -> dict[str, object]:
    """Ready: its consumer is in the group with partitions assigned, and ClickHouse answered its last write or ping."""
    consumer = loader.consumer
    member = consumer is not None and in_group(consumer)
    assigned = _assigned(loader)
    clickhouse = bool(loader.clickhouse_answered)
    return {
        "ready": member and assigned > 0 and clickhouse,
        "member": member,
        "assigned_partitions": assigned,
        "clickhouse": clickhouse,
    }


def _lag(loader: Loader) -> int:
    """Records not loaded yet in the partitions it has loaded from (high watermark minus the next offset)."""
    consumer, lag = loader.consumer, 0
    if consumer is None:
        return 0
    for tp, position in list(loader.next_offsets.items()):
        try:
            highwater = consumer.highwater(tp)
        except Exception:  # revoked meanwhile
            continue
        if highwater is not None:
            lag += max(highwater - position, 0)
    return lag


def loader_metrics(loader: Loader) -> str:
    p = "clickpulse_loader_"
    lines = family(f"{p}rows_total", "counter", "rows inserted per table", dict(loader.rows), label="table")
    lines += family(f"{p}failed_records_total", "counter", "records skipped as undecodable", loader.failed_records)
    lines += family(f"{p}erased_records_total", "counter", "records of erased visitors skipped", loader.erased_records)
    lines += family(f"{p}batches_total", "counter", "batches inserted and committed", loader.batches)
    lines += family(
        f"{p}last_flush_timestamp_seconds", "gauge", "when the last batch was committed (epoch s)", loader.last_flush_at
    )
    lines += family(
        f"{p}clickhouse_up",
        "gauge",
        "1 when ClickHouse answered the last write or ping",
        int(bool(loader.clickhouse_answered)),
    )
    lines += family(f"{p}assigned_partitions", "gauge", "partitions this loader holds", _assigned(loader))
    lines += family(f"{p}lag_records", "gauge", "records in its partitions not loaded yet", _lag(loader))
    lines += family(f"{p}ready", "gauge", "1 when /readyz answers 200", int(bool(loader_readiness(loader)["ready"])))
    return exposition(lines)


async def run_with_probes(loader: Loader, settings: Settings, stop: asyncio.Event) -> None:
    """`clickpulse loader`: the loader, with /healthz, /readyz and /metrics unless CLICKPULSE_LOADER_HTTP_PORT is 0."""
    if not settings.loader_http_port:
        return await loader.run(stop)
    server = ProbeServer(
        settings.loader_http_host,
        settings.loader_http_port,
        lambda: loader_readiness(loader),
        lambda: loader_metrics(loader),
        "CLICKPULSE_LOADER_HTTP_PORT",
    )
    await server.start()
    try:
        await loader.run(stop)
    finally:
        await server.stop()
