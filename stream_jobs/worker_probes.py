"""A stream worker's /healthz, /readyz and /metrics, served from its own event loop while Faust runs.

Started before the Faust app (a service of the worker, ahead of the app), so /healthz answers during a long table
recovery and /readyz says why the worker is not ready yet. Liveness depends on nothing outside the process: a Kafka
outage must not get every worker restarted."""

from __future__ import annotations

import time
from typing import Any

from mode import Service

from clickpulse.probe_server import ProbeServer
from clickpulse.prometheus_text import exposition, family
from clickpulse.records import EVENTS_TOPIC
from clickpulse.settings import Settings
from stream_jobs.batch_consumer import BatchingApp, BatchingConsumer
from stream_jobs.worker_metrics import WorkerMetrics


class WorkerProbes(Service):
    def __init__(self, app: BatchingApp, metrics: WorkerMetrics, settings: Settings, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.app = app
        self.metrics = metrics
        self.events_topic = settings.topic(EVENTS_TOPIC)
        self.server = ProbeServer(
            settings.worker_http_host,
            settings.worker_http_port,
            self.readiness,
            self.render,
            "CLICKPULSE_WORKER_HTTP_PORT",
        )
        self.started_at = time.monotonic()

    async def on_start(self) -> None:
        await self.server.start()

    async def on_stop(self) -> None:
        await self.server.stop()

    def _consumer(self) -> BatchingConsumer | None:
        # The app creates its consumer as it starts; asking for it earlier would create it here.
        consumer = self.app.consumer if self.app.started else None
        return consumer if isinstance(consumer, BatchingConsumer) else None

    def _assigned(self, consumer: BatchingConsumer | None) -> int:
        if consumer is None:
            return 0
        try:
            return sum(tp.topic == self.events_topic for tp in consumer.assignment())
        except Exception:  # the consumer thread not started yet, or stopping
            return 0

    def readiness(self) -> dict[str, object]:
        """Ready: a member of the group, with partitions of the events topic, no rebalance going on and the table
        recovered. A worker beyond the topic's partition count stays unready: it has nothing to do."""
        app, consumer = self.app, self._consumer()
        member = consumer is not None and consumer.in_group()
        assigned = self._assigned(consumer)
        rebalancing = bool(app.rebalancing)
        recovered = app.started and app.tables.recovery.completed.is_set()
        ready = member and assigned > 0 and not rebalancing and recovered
        return {
            "ready": ready,
            "member": member,
            "assigned_partitions": assigned,
            "rebalancing": rebalancing,
            "recovered": recovered,
        }

    def render(self) -> str:
        consumer = self._consumer()
        try:
            lag = consumer.lag(self.events_topic) if consumer is not None else 0
        except Exception:  # a partition revoked while we looked: the next scrape has it
            lag = 0
        gauges: dict[str, tuple[str, float]] = {
            "ready": ("1 when /readyz answers 200", int(bool(self.readiness()["ready"]))),
            "assigned_partitions": ("partitions of the events topic this worker holds", self._assigned(consumer)),
            "rebalancing": ("1 while the group rebalances", int(bool(self.app.rebalancing))),
            "lag_events": ("events in its partitions not read yet", lag),
            "uptime_seconds": ("seconds since the worker started", time.monotonic() - self.started_at),
        }
        rebalances = family(
            "clickpulse_worker_rebalances_total",
            "counter",
            "rebalances this worker went through",
            self.app.rebalancing_count,
        )
        restored = family(
            "clickpulse_worker_changelog_records_restored_total",
            "counter",
            "table changelog records written into the store in bulk while recovering",
            consumer.changelog_records_restored if consumer is not None else 0,
        )
        return exposition(self.metrics.render(gauges) + rebalances + restored)
