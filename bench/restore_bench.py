"""Benchmark of a stream worker's restart on a table of many visitors: the time until it is ready again (its
/readyz) after a clean stop, which keeps its RocksDB store, and after a kill -9, after which the store is deleted
and rebuilt from the table's changelog topic (stream_jobs.store_checkpoint, stream_jobs.changelog_restore).

Run:  .venv/bin/python bench/restore_bench.py [visitors]     (prints figures, writes bench/results/restore.json)
It starts its own Kafka and Redis on ports 19400-19430 (or CLICKPULSE_BENCH_PORT_BASE and the 30 after it) and
stops them afterwards. A worker that replaces a killed one also waits for the group to drop the dead member (its
session timeout, 10 s); `member_s` is when the new worker was in the group, `ready_s` when it was ready, and
`changelog_records_restored_in_bulk` how many of the changelog's records it wrote a fetched list at a time.
`session_records_sent_again` counts what the worker restarted after a clean stop sent by its first sweep, which visits
every row it holds (the sessions of a table that changed nothing, none).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.stream_bench import BASE, WORKER_CORE, make_events, produce, remove_data_keep_logs, watch_commits
from clickpulse.local_stack.ports import WORKER_HTTP, ports_env
from clickpulse.local_stack.stack import kafka_and_redis
from clickpulse.local_stack.supervisor import Supervisor
from clickpulse.settings import REPO_ROOT, Settings

RESULTS = REPO_ROOT / "bench" / "results"
EVENTS_PER_VISITOR = 2


def start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    cmd = ["taskset", "-c", WORKER_CORE, sys.executable, "-m", "clickpulse.cli", "worker"]
    with log.open("ab") as out:
        return subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def wait_ready(url: str, deadline_s: float = 1800) -> tuple[float, float]:
    """Seconds until the worker's /readyz says it is a group member, and until it is ready."""
    started = time.monotonic()
    member_s = None
    while time.monotonic() - started < deadline_s:
        try:
            body = httpx.get(url, timeout=2).json()
        except (httpx.HTTPError, ValueError):
            body = {}
        now = time.monotonic() - started
        if body.get("member") and member_s is None:
            member_s = now
        if body.get("ready"):
            return member_s if member_s is not None else now, now
        time.sleep(0.1)
    raise TimeoutError("the worker did not get ready")


def counted(metrics_url: str, series: str) -> int:
    """The value of one series of the worker's /metrics, e.g. clickpulse_worker_changelog_records_restored_total."""
    for line in httpx.get(metrics_url, timeout=5).text.splitlines():
        if line.startswith(f"{series} "):
            return int(float(line.split()[1]))
    raise ValueError(f"the worker's /metrics has no {series}")


def stop(worker: subprocess.Popen[bytes], how: signal.Signals) -> None:
    os.killpg(worker.pid, how)
    worker.wait(120)


def main() -> None:
    visitors = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    total = visitors * EVENTS_PER_VISITOR
    data = Path(tempfile.mkdtemp(prefix="clickpulse-bench-"))
    env = {
        **os.environ,
        **ports_env(BASE),
        "CLICKPULSE_DATA_DIR": str(data),
        "CLICKPULSE_WORKER_INSTANCE": "bench-restore",
        "CLICKPULSE_TOPIC_PREFIX": "restore-",
        "CLICKPULSE_WORKER_ID": "bench-restore",
    }
    os.environ.update(env)
    settings = Settings()
    probes = f"http://127.0.0.1:{BASE + WORKER_HTTP}"
    log = data / "logs" / "worker.log"
    supervisor = Supervisor(data / "logs", data / "stack.json", env)
    worker = None
    try:
        for service in kafka_and_redis(settings):
            supervisor.start(service)
        print(f"producing {total} events of {visitors} visitors ...", flush=True)
        asyncio.run(produce(settings, make_events(total, visitors)))
        worker = start_worker(env, log)
        asyncio.run(watch_commits(settings, worker.pid, total))  # every row written and in the changelog
        stop(worker, signal.SIGTERM)  # a clean stop flushes the store: its size on disk is the table's
        table_bytes = sum(f.stat().st_size for f in (data / "worker").rglob("*") if f.is_file())
        worker = start_worker(env, log)
        clean_member, clean_ready = wait_ready(f"{probes}/readyz")
        time.sleep(settings.session_sweep_s + 2)  # the first sweep, which visits every row the worker holds
        sent_again = counted(f"{probes}/metrics", 'clickpulse_worker_records_emitted_total{topic="sessions"}')
        print(f"after a clean stop: member after {clean_member:.1f} s, ready after {clean_ready:.1f} s, "
              f"{sent_again} session records sent again", flush=True)  # fmt: skip
        stop(worker, signal.SIGKILL)
        worker = start_worker(env, log)
        killed_member, killed_ready = wait_ready(f"{probes}/readyz")
        restored = counted(f"{probes}/metrics", "clickpulse_worker_changelog_records_restored_total")
        print(f"after kill -9:      member after {killed_member:.1f} s, ready after {killed_ready:.1f} s, "
              f"{restored} changelog records restored in bulk", flush=True)  # fmt: skip
        figures = {
            "visitors": visitors,
            "table_store_bytes": table_bytes,
            "clean_stop_member_s": round(clean_member, 1),
            "clean_stop_ready_s": round(clean_ready, 1),
            "clean_stop_session_records_sent_again": sent_again,
            "kill_9_member_s": round(killed_member, 1),
            "kill_9_ready_s": round(killed_ready, 1),
            "kill_9_changelog_records_restored_in_bulk": restored,
            "machine": f"{os.cpu_count()} cores, worker pinned to core {WORKER_CORE}",
        }
        print(json.dumps(figures, indent=2))
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "restore.json").write_text(json.dumps(figures, indent=2))
    finally:
        if worker is not None and worker.poll() is None:
            os.killpg(worker.pid, signal.SIGTERM)
            worker.wait(60)
        supervisor.stop_all()
        remove_data_keep_logs(data)


if __name__ == "__main__":
    main()
