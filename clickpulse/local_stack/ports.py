"""A local stack's ports, derived from one base so several stacks (tests, benchmarks) run side by side."""

from __future__ import annotations

API = 0
INGEST = 1
DEMO_SHOP = 2
WORKER_HTTP = 3
LOADER_HTTP = 4
KAFKA = 10
KAFKA_CONTROLLER = 11
REDIS = 20


def ports_env(base: int) -> dict[str, str]:
    """The settings (as CLICKPULSE_* variables) that put every service of a stack at base + its offset."""
    return {
        "CLICKPULSE_API_PORT": str(base + API),
        "CLICKPULSE_INGEST_PORT": str(base + INGEST),
        "CLICKPULSE_DEMO_SHOP_PORT": str(base + DEMO_SHOP),
        "CLICKPULSE_WORKER_HTTP_PORT": str(base + WORKER_HTTP),
        "CLICKPULSE_LOADER_HTTP_PORT": str(base + LOADER_HTTP),
        "CLICKPULSE_KAFKA_BOOTSTRAP": f"127.0.0.1:{base + KAFKA}",
        "CLICKPULSE_KAFKA_CONTROLLER_PORT": str(base + KAFKA_CONTROLLER),
        "CLICKPULSE_REDIS_URL": f"redis://127.0.0.1:{base + REDIS}/0",
    }
