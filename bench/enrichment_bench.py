"""Benchmark of ingest's per-request work outside the HTTP server: the request context (agent parsing with its
cache, bot signals, geo from MaxMind's test database), the enrichment pipeline per event over a shop's varied
pages and referrers, and the rate limit's checks against a real Redis (leased: one EVALSHA per client per second
of its rate, local checks in between).

Run:  .venv/bin/python bench/enrichment_bench.py [seconds per figure, default 3]
(prints figures, writes bench/results/enrichment.json). It starts its own redis-server on port
CLICKPULSE_BENCH_REDIS_PORT (default 20530) and stops it afterwards.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import fake_useragent
import msgspec
import redis.asyncio as aioredis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from clickpulse.local_stack.redis_server import redis_command
from clickpulse.local_stack.supervisor import port_open
from clickpulse.settings import REPO_ROOT, Settings
from clickpulse.sites import Site
from ingest.enrichment import Pipeline
from ingest.geo import GeoLocator
from ingest.incoming import IncomingEvent
from ingest.rate_limits import RateLimiter
from ingest.referrers import ReferrerTable
from ingest.request_context import RequestContext, build_context

REDIS_PORT = int(os.environ.get("CLICKPULSE_BENCH_REDIS_PORT", "20530"))
SITE = Site(site_id="s_bench", name="bench", write_key="wk", read_key_sha256="x", created_at=0)
HEADERS = {"accept-language": "en-GB,en;q=0.9"}
T = TypeVar("T")


def agents_and_shares() -> tuple[list[str], list[float]]:
    lines = (Path(fake_useragent.__file__).parent / "data" / "browsers.jsonl").read_text().splitlines()
    rows = [json.loads(line) for line in lines if line.strip()]
    return [row["useragent"] for row in rows], [float(row["percent"]) for row in rows]


def per_second(work: list[T], run: Callable[[T], object], seconds: float) -> float:
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for item in work:
            run(item)
        done += len(work)
    return done / (time.perf_counter() - start)


def cpu_figures(seconds: float) -> dict[str, float]:
    rng = random.Random(7)
    ips = [f"{prefix}.{rng.randrange(256)}" for prefix in ("81.2.69", "89.160.20") for _ in range(500)]
    # Real traffic: a few agents make most requests, so sample agents by the corpus' own shares of traffic.
    agents, shares = agents_and_shares()
    requests = [(rng.choice(ips), agent) for agent in rng.choices(agents, weights=shares, k=2000)]
    geo = GeoLocator(Settings(geo_database_path=REPO_ROOT / ".local" / "geo" / "GeoIP2-City-Test.mmdb"))
    # A shop's pages, some with campaign tags or a unique ad click id, and a mix of referrers: the URL caches
    # hit as often as real traffic lets them, not on every event.
    referrers = ["", "", "https://www.google.co.uk/", "https://l.facebook.com/l.php", "https://news.example.org/a"]
    events = [
        msgspec.convert(
            {"id": f"e{n}", "type": "pageview", "visitor_id": "v1", "referrer": rng.choice(referrers),
             "url": f"https://shop.test/p/{rng.randrange(500)}" + rng.choice(["", "", "?utm_source=news",
                                                                               f"?gclid=g{n}"])},
            IncomingEvent,
        )
        for n in range(20_000)
    ]  # fmt: skip
    pipeline = Pipeline(ReferrerTable.load(Settings().referrer_data_path))

    def context(request: tuple[str, str]) -> RequestContext:
        ip, agent = request
        return build_context(SITE, 1_000, ip, agent, geo.locate(ip, HEADERS), "salt", HEADERS)

    contexts = [context(r) for r in requests[:200]]
    work = [(contexts[n % len(contexts)], event) for n, event in enumerate(events)]
    return {
        "request_contexts_per_s": round(per_second(requests, context, seconds)),
        "events_enriched_per_s": round(per_second(work, lambda item: pipeline.run(item[1], item[0]), seconds)),
    }


async def rate_limit_figures(seconds: float) -> dict[str, float]:
    """Checks from 250 clients, limits high enough that none is refused: each lease is one EVALSHA, then local
    checks until a second of the bucket's rate is spent."""
    settings = Settings(rate_limit_site_per_s=1_000_000, rate_limit_ip_per_s=10_000)
    limiter = RateLimiter(aioredis.Redis.from_url(f"redis://127.0.0.1:{REDIS_PORT}/0"), settings)
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds
    n = 0
    while time.perf_counter() < deadline:
        start = time.perf_counter()
        await limiter.admit(SITE, f"198.51.100.{n % 250}", "salt", 1)
        latencies.append(time.perf_counter() - start)
        n += 1
    latencies.sort()
    return {
        "rate_limit_checks_per_s_sequential": round(len(latencies) / sum(latencies)),
        "rate_limit_p50_us": round(latencies[len(latencies) // 2] * 1e6, 1),
        "rate_limit_p99_us": round(latencies[int(len(latencies) * 0.99)] * 1e6, 1),
        "rate_limit_redis_round_trips_per_check": round(limiter.round_trips / len(latencies), 4),
    }


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 3.0
    folder = tempfile.mkdtemp(prefix="cp-enrichment-bench-")
    settings = Settings(redis_url=f"redis://127.0.0.1:{REDIS_PORT}/0", data_dir=Path(folder))
    server = subprocess.Popen(redis_command(settings), stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while not port_open("127.0.0.1", REDIS_PORT) and time.monotonic() < deadline:
            time.sleep(0.05)
        figures = {**cpu_figures(seconds), **asyncio.run(rate_limit_figures(seconds))}
    finally:
        server.terminate()
        server.wait(10)
        shutil.rmtree(folder, ignore_errors=True)
    figures["cpus"] = os.cpu_count() or 0
    for name, value in figures.items():
        print(f"{name:38s} {value:>12,}")
    out = REPO_ROOT / "bench" / "results" / "enrichment.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **figures}, indent=2))


if __name__ == "__main__":
    main()
