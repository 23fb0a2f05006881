"""What we accepted is never lost and never counted twice: across a full restart of `clickpulse up`
and across a `kill -9` of the worker. Also: after Ctrl-C nothing of ours is left running."""

from __future__ import annotations

import itertools
import os
import random
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.running_stack import RunningStack, pid_alive, port_free, send_batch, wait_until

MIN_MS = 60_000
GAP_MS = 30 * MIN_MS


def simulated_visits(visitors: int, events_each: int, seed: int) -> dict[str, list[dict[str, object]]]:
    """Page views spread over the last 10 hours. Silences are either well inside or well outside the
    30-minute gap, so milliseconds of clock correction cannot change the session count."""
    rng = random.Random(seed)
    now = int(time.time() * 1000)
    visits = {}
    for v in range(visitors):
        ts = now - 10 * 60 * MIN_MS + rng.randrange(60 * MIN_MS)
        events = []
        for _ in range(events_each):
            events.append(
                {"id": str(uuid.uuid4()), "type": "pageview", "ts": ts, "url": f"https://shop.test/{rng.randrange(9)}"}
            )
            ts += rng.choice([1, 2, 5, 10, 20]) * MIN_MS if rng.random() < 0.85 else rng.randint(45, 90) * MIN_MS
        visits[f"visitor-{seed}-{v}"] = events
    return visits


def expected_sessions(visits: dict[str, list[dict[str, object]]]) -> int:
    total = 0
    for events in visits.values():
        times = sorted(int(e["ts"]) for e in events)  # type: ignore[call-overload]
        total += 1 + sum(1 for a, b in itertools.pairwise(times) if b - a > GAP_MS)
    return total


def batches_of(visits: dict[str, list[dict[str, object]]], size: int) -> list[tuple[str, list[dict[str, object]]]]:
    """Each visitor's events in time order, cut into beacon-sized batches, visitors interleaved."""
    per_visitor = {v: [events[i : i + size] for i in range(0, len(events), size)] for v, events in visits.items()}
    out = []
    for round_ in range(max(len(b) for b in per_visitor.values())):
        out += [(v, b[round_]) for v, b in per_visitor.items() if round_ < len(b)]
    return out


def send_all(stack: RunningStack, site: dict[str, str], batches: list[tuple[str, list[dict[str, object]]]]) -> None:
    for visitor, events in batches:
        assert send_batch(stack.ingest, site, visitor, events) in (200, 202)


def assert_nothing_left(stack: RunningStack) -> None:
    gone = wait_until(lambda: not any(pid_alive(p) for p in stack.last_pids.values()), timeout_s=30, every_s=0.5)
    assert gone, {name: pid for name, pid in stack.last_pids.items() if pid_alive(pid)}
    assert all(port_free(p) for p in stack.ports()), [p for p in stack.ports() if not port_free(p)]


@pytest.fixture(scope="module")
def own_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    running = RunningStack(Path(tmp_path_factory.mktemp("durable")), 18100)
    running.start()
    try:
        yield running
    finally:
        running.stop()


def test_1000_events_sent_across_a_restart_of_the_stack_count_exactly_once(own_stack: RunningStack) -> None:
    site = own_stack.create_site("restart")
    visits = simulated_visits(visitors=50, events_each=20, seed=1)
    batches = batches_of(visits, size=5)
    assert sum(len(b) for _, b in batches) == 1000

    sender = threading.Thread(target=send_all, args=(own_stack, site, batches))
    sender.start()
    time.sleep(3)  # part of the run goes in before the stop
    own_stack.stop()  # Ctrl-C while events keep coming; the sender retries as the beacon would
    assert_nothing_left(own_stack)
    own_stack.start()
    sender.join(timeout=300)
    assert not sender.is_alive()

    want = {"pageviews": 1000, "visitors": 50, "sessions": expected_sessions(visits)}
    stats = own_stack.wait_for_stats(site, want, timeout_s=120)
    assert {k: stats[k] for k in want} == want


def test_kill_9_of_the_worker_mid_run_keeps_the_counts_exact(own_stack: RunningStack) -> None:
    site = own_stack.create_site("kill-worker")
    visits = simulated_visits(visitors=40, events_each=15, seed=2)
    batches = batches_of(visits, size=3)
    worker = own_stack.pids()["worker"]
    sender = threading.Thread(target=send_all, args=(own_stack, site, batches))
    sender.start()
    time.sleep(2)
    os.kill(worker, signal.SIGKILL)
    sender.join(timeout=300)
    assert wait_until(lambda: own_stack.pids()["worker"] != worker, timeout_s=30)  # the supervisor restarted it

    want = {"pageviews": 600, "visitors": 40, "sessions": expected_sessions(visits)}
    stats = own_stack.wait_for_stats(site, want, timeout_s=180)
    assert {k: stats[k] for k in want} == want


def test_ctrl_c_leaves_no_process_and_frees_every_port(own_stack: RunningStack) -> None:
    own_stack.stop()
    assert_nothing_left(own_stack)
