"""Benchmark of the stream worker: events/s on one core through sessionizer, intent and live state
(Kafka in, Kafka and Redis out), next to a plain aiokafka consume-and-decode loop over the same
topic (the ceiling); then end-to-end latency from ingest acceptance to the Redis live counters.

Run:  .venv/bin/python bench/stream_bench.py [events]     (prints figures, writes bench/results/stream.json)
It starts its own Kafka, Redis and ingest on ports 19400-19430 (or CLICKPULSE_BENCH_PORT_BASE and the 30 after it)
and stops them afterwards.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import httpx
import redis as sync_redis
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from clickpulse import live_keys
from clickpulse.local_stack.ports import INGEST, ports_env
from clickpulse.local_stack.stack import kafka_and_redis
from clickpulse.local_stack.supervisor import Service, Supervisor, http_ok
from clickpulse.records import EVENTS_TOPIC, EnrichedEvent, Product, event_decoder, event_encoder
from clickpulse.settings import REPO_ROOT, Settings
from clickpulse.sites import create_site
from clickpulse.topics import ensure_topics

RESULTS = REPO_ROOT / "bench" / "results"
# Ports BASE..BASE+30; CLICKPULSE_BENCH_PORT_BASE moves them (two people benchmarking on one machine).
BASE = int(os.environ.get("CLICKPULSE_BENCH_PORT_BASE", "19400"))
WORKER_CORE = "1"
# Ingest rightly flags python-httpx, or a browser agent without Accept-Language, as a bot, and bots stay out
# of the live counters.
BROWSER = {
    "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
    "Accept-Language": "en-US,en;q=0.9",
}


def make_events(n: int, visitors: int, seed: int = 1) -> list[EnrichedEvent]:
    rng = random.Random(seed)
    now = int(time.time() * 1000) - 3_600_000
    clocks = {f"v{i}": now + rng.randrange(600_000) for i in range(visitors)}
    out = []
    for _ in range(n):
        visitor = f"v{rng.randrange(visitors)}"
        clocks[visitor] += rng.randrange(1000, 60_000)
        kind = rng.choices(["pageview", "product_view", "page_leave", "add_to_cart"], [5, 3, 3, 1])[0]
        products = (
            [Product(f"p{rng.randrange(50)}", category="gear")] if kind in ("product_view", "add_to_cart") else []
        )
        out.append(
            EnrichedEvent(event_id=uuid.uuid4().hex, site_id="bench", visitor_id=visitor, type=kind,
                          ts=clocks[visitor], received_at=now, path=f"/p/{rng.randrange(100)}", products=products,
                          engaged_ms=rng.randrange(60_000) if kind == "page_leave" else 0, browser="Chrome")
        )  # fmt: skip
    return out


async def produce(settings: Settings, events: list[EnrichedEvent]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, linger_ms=20, max_batch_size=512 * 1024)
    await producer.start()
    topic = settings.topic(EVENTS_TOPIC)
    try:
        futures = [await producer.send(topic, event_encoder.encode(e), key=e.key) for e in events]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def ceiling(settings: Settings, total: int) -> float:
    """A plain consume-and-decode loop: how fast Python can take these events off Kafka at all."""
    consumer = AIOKafkaConsumer(settings.topic(EVENTS_TOPIC), bootstrap_servers=settings.kafka_bootstrap,
                                auto_offset_reset="earliest", group_id=None, max_poll_records=5000)  # fmt: skip
    await consumer.start()
    seen, started = 0, None
    try:
        while seen < total:
            batches = await consumer.getmany(timeout_ms=1000, max_records=5000)
            if started is None and batches:
                started = time.perf_counter()
            for messages in batches.values():
                for m in messages:
                    event_decoder.decode(m.value)
                seen += sum(len(m) for m in batches.values())
    finally:
        await consumer.stop()
    assert started is not None
    return total / (time.perf_counter() - started)


async def committed(admin: AIOKafkaAdminClient, settings: Settings, group: str) -> int:
    try:
        offsets = await admin.list_consumer_group_offsets(group)
    except KafkaError:  # the group has no coordinator until the worker joins
        return 0
    topic = settings.topic(EVENTS_TOPIC)
    return sum(meta.offset for tp, meta in offsets.items() if tp.topic == topic and meta.offset > 0)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (from /proc: Linux only)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def watch_commits(settings: Settings, pid: int, total: int) -> tuple[float, float]:
    """Rate between the worker's first and last commit, per second of wall time and per second of its CPU
    time; one admin client polling every 50 ms, so a run of a few seconds is timed to a few percent."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        first: tuple[float, float, int] | None = None
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            done = await committed(admin, settings, settings.worker_id)
            now, cpu = time.perf_counter(), cpu_seconds(pid)
            if done and first is None:
                first = (now, cpu, done)
            if done >= total and first is not None:
                n = done - first[2]
                return n / max(now - first[0], 1e-6), n / max(cpu - first[1], 1e-6)
            await asyncio.sleep(0.05)
        raise TimeoutError("worker did not catch up")
    finally:
        await admin.close()


def worker_throughput(settings: Settings, env: dict[str, str], total: int, log: Path) -> tuple[float, float]:
    """Start one worker pinned to one core and time it from its first to its last commit (watch_commits);
    the per-CPU-second figure is the one a busy shared machine distorts least."""
    cmd = ["taskset", "-c", WORKER_CORE, sys.executable, "-m", "clickpulse.cli", "worker"]
    with log.open("ab") as out:
        worker = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        return asyncio.run(watch_commits(settings, worker.pid, total))
    finally:
        worker.terminate()
        worker.wait(30)


def latency(
    settings: Settings, env: dict[str, str], ingest_url: str, rate: float, samples: int, log: Path
) -> list[float]:
    """Background load at `rate` events/s through ingest; meanwhile probes, each timed from ingest's 200
    to the moment the Redis live counter of its own site has counted it."""
    client = sync_redis.Redis.from_url(settings.redis_url)
    load_site, probe_site = (asyncio.run(create_site(settings.redis_url, "bench")) for _ in range(2))
    cmd = ["taskset", "-c", WORKER_CORE, sys.executable, "-m", "clickpulse.cli", "worker"]
    ready = f"http://127.0.0.1:{env['CLICKPULSE_WORKER_HTTP_PORT']}/readyz"
    with log.open("ab") as out:
        worker = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    stop = threading.Event()

    def load() -> None:
        http = httpx.Client(timeout=10, headers=BROWSER)
        batch, n = 20, 0
        while not stop.is_set():
            started = time.perf_counter()
            now = int(time.time() * 1000)
            events = [{"id": uuid.uuid4().hex, "type": "pageview", "ts": now, "url": "https://b.test/x"}] * batch
            events = [{**e, "id": uuid.uuid4().hex} for e in events]
            http.post(f"{ingest_url}/collect", content=json.dumps({"write_key": load_site.write_key,
                      "visitor_id": f"load{n % 500}", "sent_at": now, "events": events}))  # fmt: skip
            n += 1
            time.sleep(max(0.0, batch / rate - (time.perf_counter() - started)))

    out_ms: list[float] = []
    try:
        while not http_ok(ready):
            time.sleep(0.2)
        time.sleep(5)
        threading.Thread(target=load, daemon=True).start()
        http = httpx.Client(timeout=10, headers=BROWSER)
        for n in range(samples):
            now = int(time.time() * 1000)
            key = live_keys.pageviews_minute(probe_site.site_id, now // 60_000)
            before = int(client.get(key) or 0)
            event = {"id": uuid.uuid4().hex, "type": "pageview", "ts": now, "url": "https://b.test/"}
            body = json.dumps({"write_key": probe_site.write_key, "visitor_id": f"probe{n}", "sent_at": now,
                               "events": [event]})  # fmt: skip
            response = http.post(f"{ingest_url}/collect", content=body)
            accepted = time.perf_counter()
            assert response.status_code == 200, response.text
            while int(client.get(key) or 0) <= before and time.perf_counter() - accepted < 10:
                time.sleep(0.002)
            out_ms.append((time.perf_counter() - accepted) * 1000)
            time.sleep(0.25)
    finally:
        stop.set()
        worker.terminate()
        worker.wait(30)
    return out_ms


def remove_data_keep_logs(data: Path) -> None:
    """Kafka's, Redis' and the worker's data go (a run leaves about 250 MB); the logs stay for a failed run."""
    for part in data.iterdir():
        if part.name != "logs":
            shutil.rmtree(part, ignore_errors=True)
    print(f"logs: {data / 'logs'}", flush=True)


def main() -> None:
    total = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    data = Path(tempfile.mkdtemp(prefix="clickpulse-bench-"))
    env = {
        **os.environ,
        **ports_env(BASE),
        "CLICKPULSE_DATA_DIR": str(data),
        "CLICKPULSE_WORKER_INSTANCE": "bench",
        # All load comes from this machine's one address; the per-IP limit would cap it.
        "CLICKPULSE_RATE_LIMIT_IP_PER_S": "1000000",
    }
    os.environ.update(env)
    settings = Settings()
    supervisor = Supervisor(data / "logs", data / "stack.json", env)
    try:
        for service in kafka_and_redis(settings):
            supervisor.start(service)
        run_env = {**env, "CLICKPULSE_TOPIC_PREFIX": "tput-", "CLICKPULSE_WORKER_ID": "bench-tput"}
        tput = Settings(topic_prefix="tput-", worker_id="bench-tput")
        asyncio.run(ensure_topics(tput))
        print(f"producing {total} events ...", flush=True)
        asyncio.run(produce(tput, make_events(total, visitors=max(total // 40, 100))))
        ceiling_eps = asyncio.run(ceiling(tput, total))
        print(f"ceiling (aiokafka consume + decode): {ceiling_eps:,.0f} events/s", flush=True)
        worker_eps, worker_eps_cpu = worker_throughput(tput, run_env, total, data / "logs" / "worker-tput.log")
        print(f"worker on one core:                  {worker_eps:,.0f} events/s", flush=True)
        print(f"worker per CPU-second:               {worker_eps_cpu:,.0f} events/s", flush=True)

        supervisor.start(Service("ingest", [sys.executable, "-m", "clickpulse.cli", "ingest"],
                                 lambda: http_ok(f"http://127.0.0.1:{BASE + INGEST}/healthz")))  # fmt: skip
        lat_env = {
            **env,
            "CLICKPULSE_WORKER_ID": "bench-latency",
            "CLICKPULSE_WORKER_INSTANCE": "bench-latency",
            "CLICKPULSE_WORKER_BATCH_WITHIN_S": "0.05",
        }
        samples = latency(
            settings, lat_env, f"http://127.0.0.1:{BASE + INGEST}", worker_eps / 2, 60, data / "logs" / "w.log"
        )
        q = statistics.quantiles(samples, n=100)
        figures = {
            "events": total,
            "ceiling_events_per_s": round(ceiling_eps),
            "worker_events_per_s_one_core": round(worker_eps),
            "worker_events_per_cpu_s": round(worker_eps_cpu),
            "worker_share_of_ceiling": round(worker_eps / ceiling_eps, 3),
            "latency_load_events_per_s": round(worker_eps / 2),
            "latency_ms_p50": round(q[49], 1),
            "latency_ms_p99": round(q[98], 1),
            "machine": f"{os.cpu_count()} cores, worker pinned to core {WORKER_CORE}",
        }
        print(json.dumps(figures, indent=2))
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "stream.json").write_text(json.dumps(figures, indent=2))
    finally:
        supervisor.stop_all()
        remove_data_keep_logs(data)


if __name__ == "__main__":
    main()
