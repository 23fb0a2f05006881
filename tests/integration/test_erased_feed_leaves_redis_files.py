"""An erased visitor's feed items and signals leave Redis's append-only file, not only its memory, in a real
redis-server."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from clickpulse import live_keys as keys
from clickpulse.local_stack.redis_server import redis_command
from clickpulse.records import EnrichedEvent, IntentSignal
from clickpulse.settings import Settings
from stream_jobs.append_only_file import AppendOnlyFileRewrite
from stream_jobs.live_state import LiveState
from tests.running_stack import TEST_PORT_BASE, port_free

pytestmark = pytest.mark.integration
WITH_FILE = TEST_PORT_BASE + 360
WITHOUT_FILE = TEST_PORT_BASE + 361
ERASED, KEPT = b"v-erased-4711", b"v-kept-0815"


@pytest.fixture(scope="module")
def redis_servers() -> Iterator[dict[int, Path]]:
    """Two Redis servers as the local stack runs them, one with its append-only file turned off: port -> folder."""
    root = Path(tempfile.mkdtemp(prefix="cp-aof-"))
    servers = []
    folders = {}
    for port, append_only in ((WITH_FILE, "yes"), (WITHOUT_FILE, "no")):
        settings = Settings(redis_url=f"redis://127.0.0.1:{port}/0", data_dir=root / str(port))
        command = redis_command(settings)
        command[command.index("--appendonly") + 1] = append_only
        servers.append(subprocess.Popen(command, stdout=subprocess.DEVNULL))
        folders[port] = settings.data_dir / "redis"
    try:
        for port in folders:
            for _ in range(100):
                if not port_free(port):
                    break
                time.sleep(0.05)
        yield folders
    finally:
        for server in servers:
            server.terminate()
            server.wait(10)
        shutil.rmtree(root, ignore_errors=True)


def on_disk(folder: Path) -> bytes:
    return b"".join(path.read_bytes() for path in folder.rglob("*") if path.is_file())


async def record_two_visitors(redis: aioredis.Redis, live: LiveState) -> None:
    now = int(time.time() * 1000)
    events = [
        EnrichedEvent(event_id=f"e-{v}", site_id="s", visitor_id=v.decode(), type="pageview", ts=now, received_at=now)
        for v in (ERASED, KEPT)
    ]
    signals = [
        IntentSignal(id=f"sig-{v}", site_id="s", kind="high_intent", visitor_id=v.decode(), score=0.9, at=now)
        for v in (ERASED, KEPT)
    ]
    await live.record(events, Counter(), now, signals)


async def rewrites_done(redis: aioredis.Redis, at_least: int) -> int:
    """Redis's own count of append-only file rewrites, once at least `at_least` have finished (or 10 s passed)."""
    deadline = time.monotonic() + 10
    while True:
        info = await redis.info("persistence")
        done = info["aof_rewrites"] if not info["aof_rewrite_in_progress"] else 0
        if done >= at_least or time.monotonic() > deadline:
            return done
        await asyncio.sleep(0.05)


def test_an_erased_visitors_feed_items_and_signals_leave_the_append_only_file_and_others_stay(
    redis_servers: dict[int, Path],
) -> None:
    async def scenario() -> None:
        redis = aioredis.Redis.from_url(f"redis://127.0.0.1:{WITH_FILE}/0")
        try:
            live = LiveState(redis)
            await record_two_visitors(redis, live)
            await asyncio.sleep(1.2)  # appendfsync everysec
            assert ERASED in on_disk(redis_servers[WITH_FILE])  # what LREM alone leaves behind
            await live.forget("s", ERASED.decode())
            assert await rewrites_done(redis, 1) == 1
            files = on_disk(redis_servers[WITH_FILE])
            assert ERASED not in files
            assert KEPT in files
            for key in (keys.feed("s"), keys.intent_signals("s")):
                assert [KEPT in item for item in await redis.lrange(key, 0, -1)] == [True]
        finally:
            await redis.aclose()

    asyncio.run(scenario())


def test_erasures_within_the_interval_share_one_later_rewrite_instead_of_one_each(
    redis_servers: dict[int, Path],
) -> None:
    async def scenario() -> None:
        redis = aioredis.Redis.from_url(f"redis://127.0.0.1:{WITH_FILE}/0")
        try:
            before = await rewrites_done(redis, 0)
            rewrite = AppendOnlyFileRewrite(redis, interval_s=3.0)
            rewrite.after_erasure()
            assert await rewrites_done(redis, before + 1) == before + 1
            rewrite.after_erasure()
            rewrite.after_erasure()
            await asyncio.sleep(0.5)
            assert (await redis.info("persistence"))["aof_rewrites"] == before + 1  # waits out the interval
            assert await rewrites_done(redis, before + 2) == before + 2
            await asyncio.sleep(3.5)
            assert (await redis.info("persistence"))["aof_rewrites"] == before + 2  # the two shared it
        finally:
            await redis.aclose()

    asyncio.run(scenario())


def test_a_redis_without_an_append_only_file_is_not_made_to_write_one(redis_servers: dict[int, Path]) -> None:
    async def scenario() -> None:
        redis = aioredis.Redis.from_url(f"redis://127.0.0.1:{WITHOUT_FILE}/0")
        try:
            live = LiveState(redis)
            await record_two_visitors(redis, live)
            await live.forget("s", ERASED.decode())
            await asyncio.sleep(1.0)  # a rewrite would have started at once
            assert (await redis.info("persistence"))["aof_rewrites"] == 0
            assert ERASED not in on_disk(redis_servers[WITHOUT_FILE])
        finally:
            await redis.aclose()

    asyncio.run(scenario())
