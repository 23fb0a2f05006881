"""`clickpulse up`: Redis, Kafka, ingest, the worker and the API as supervised local processes."""

from __future__ import annotations

import asyncio
import signal
import sys
from urllib.parse import urlsplit

from clickpulse.folder_claim import FolderInUse, claim_folder, release_folder
from clickpulse.local_stack.kafka_broker import bootstrap_host_port, broker_command
from clickpulse.local_stack.redis_server import redis_command
from clickpulse.local_stack.supervisor import Service, StopRequested, Supervisor, http_ok, port_open
from clickpulse.settings import Settings
from clickpulse.topics import ensure_topics


def _clickpulse(*args: str) -> list[str]:
    return [sys.executable, "-m", "clickpulse.cli", *args]


def _topics_ready(settings: Settings) -> bool:
    if not port_open(*bootstrap_host_port(settings.kafka_bootstrap)):
        return False
    try:
        asyncio.run(ensure_topics(settings, timeout_s=5))
    except Exception:
        return False
    return True


def kafka_and_redis(settings: Settings) -> list[Service]:
    """Redis, then Kafka, ready once the settings' topics exist: what every service needs, and what the tests and
    benchmarks that run their own services start first."""
    redis_url = urlsplit(settings.redis_url)
    redis_at = (redis_url.hostname or "127.0.0.1", redis_url.port or 6379)
    kafka_host, kafka_port = bootstrap_host_port(settings.kafka_bootstrap)
    return [
        Service("redis", redis_command(settings), lambda: port_open(*redis_at), listens_on=(redis_at,)),
        Service(
            "kafka",
            broker_command(settings),
            lambda: _topics_ready(settings),
            start_timeout_s=120,
            listens_on=((kafka_host, kafka_port), (kafka_host, settings.kafka_controller_port)),
        ),
    ]


def build_services(settings: Settings) -> list[Service]:
    return [
        *kafka_and_redis(settings),
        Service(
            "ingest",
            _clickpulse("ingest"),
            lambda: http_ok(f"http://{settings.ingest_host}:{settings.ingest_port}/healthz"),
            listens_on=((settings.ingest_host, settings.ingest_port),),
        ),
        Service(
            "worker",
            _clickpulse("worker"),
            # Ready: in its group with the events' partitions and its table recovered.
            lambda: http_ok(f"http://{settings.worker_http_host}:{settings.worker_http_port}/readyz"),
            start_timeout_s=120,
            listens_on=((settings.worker_http_host, settings.worker_http_port),),
        ),
        Service(
            "api",
            _clickpulse("api"),
            lambda: http_ok(f"http://{settings.api_host}:{settings.api_port}/healthz"),
            listens_on=((settings.api_host, settings.api_port),),
        ),
    ]


def run_stack(settings: Settings, *, demo: bool, demo_visitors: int = 300, seed: int = 7) -> None:
    # A second stack on the data dir would run its Redis on the first one's append-only file, fail on Kafka's
    # locked log dirs, and delete the first one's stack.json as it stopped.
    try:
        data_dir_claim = claim_folder(
            settings.data_dir,
            f"another `clickpulse up` is running on {settings.data_dir}; stop it, or give this one its own "
            "CLICKPULSE_DATA_DIR",
        )
    except FolderInUse as exc:
        sys.exit(f"error: {exc}")
    supervisor = Supervisor(settings.data_dir / "logs", settings.data_dir / "stack.json")
    signal.signal(signal.SIGTERM, supervisor.request_stop)
    signal.signal(signal.SIGINT, supervisor.request_stop)
    tick = None
    try:
        if settings.topic_replication_factor > 1:
            # Its topic check would only time out: say why at once.
            raise RuntimeError(
                "the local stack runs one Kafka broker: CLICKPULSE_TOPIC_REPLICATION_FACTOR must be 1, not "
                f"{settings.topic_replication_factor}"
            )
        if not settings.worker_http_port:
            raise RuntimeError(
                "the local stack waits for the worker's /readyz: CLICKPULSE_WORKER_HTTP_PORT must not be 0"
            )
        for service in build_services(settings):
            print(f"  starting {service.name:<7}", end="", flush=True)
            supervisor.start(service)
            print(" ok", flush=True)
        _print_where(settings)
        if demo and not supervisor.stopping:
            from clickpulse.demo.runner import start_demo

            tick = start_demo(settings, demo_visitors, seed)
        print("Ctrl-C stops everything.", flush=True)
        supervisor.watch(tick)
    except StopRequested:
        pass
    except RuntimeError as exc:
        print(f"\nerror: {exc}", file=sys.stderr, flush=True)
        raise SystemExit(1) from None
    finally:
        print("\nstopping ...", flush=True)
        supervisor.stop_all()
        release_folder(data_dir_claim)
        print("stopped.", flush=True)


def without_password(url: str) -> str:
    """A URL to print: its password, if any, masked (a Redis URL or ClickHouse DSN may carry one)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    return parts._replace(netloc=f"{parts.username or ''}:***@{host}").geturl()


def _print_where(settings: Settings) -> None:
    print(
        "\nClickpulse is running:\n"
        f"  dashboard + API   http://{settings.api_host}:{settings.api_port}/   (OpenAPI: /docs)\n"
        f"  ingest            http://{settings.ingest_host}:{settings.ingest_port}/collect   (script: /cp.js)\n"
        f"  worker probes     http://{settings.worker_http_host}:{settings.worker_http_port}/readyz   (and /metrics)\n"
        f"  kafka             {settings.kafka_bootstrap}\n"
        f"  redis             {without_password(settings.redis_url)}\n"
        f"  clickhouse        {without_password(settings.effective_clickhouse_dsn)}\n"
        f"  logs              {settings.data_dir / 'logs'}\n",
        flush=True,
    )
