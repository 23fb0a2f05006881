"""What we accepted is never lost and never counted twice: across a full restart of `clickpulse up`
and across a `kill -9` of the worker. Also: after Ctrl-C nothing of ours is left running."""

from __future__ import annotations

import itertools
import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import msgspec
import pytest

from clickpulse.local_stack.supervisor import http_ok
from clickpulse.records import EnrichedEvent
from clickpulse.settings import Settings
from stream_jobs import intent
from stream_jobs.intent import IntentSettings
from stream_jobs.sessionizer import VisitorState, Windowing, apply
from tests.running_stack import TEST_PORT_BASE, RunningStack, pid_alive, port_free, send_batch, wait_until

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


class GatedSender:
    """Sends batches from a thread as beacons would (retrying while ingest is down): the first `first` of them,
    then it holds until released and sends the rest. A test disrupts the stack in between, so some batches
    certainly go in before the disruption and some after it, however fast the machine is."""

    def __init__(
        self, stack: RunningStack, site: dict[str, str], batches: list[tuple[str, list[dict[str, object]]]], first: int
    ) -> None:
        assert 0 < first < len(batches)
        self.first_part_sent = threading.Event()
        self.statuses: list[int] = []
        self.accepted_at: list[float] = []  # time.monotonic() when each batch was accepted
        self._released = threading.Event()
        self._thread = threading.Thread(target=self._send, args=(stack, site, batches, first), daemon=True)
        self._thread.start()

    def _send(self, stack: RunningStack, site: dict[str, str], batches: list[tuple[str, list[dict[str, object]]]],
              first: int) -> None:  # fmt: skip
        for n, (visitor, events) in enumerate(batches):
            if n == first:
                self.first_part_sent.set()
                if not self._released.wait(timeout=300):
                    return
            self.statuses.append(send_batch(stack.ingest, site, visitor, events))
            self.accepted_at.append(time.monotonic())

    def release(self) -> None:
        self._released.set()

    def finish(self, total: int) -> None:
        """Wait for the rest; every batch must have been accepted."""
        self.release()
        self._thread.join(timeout=300)
        assert not self._thread.is_alive()
        assert len(self.statuses) == total and set(self.statuses) <= {200, 202}, self.statuses

    def accepted_before_and_after(self, moment: float) -> tuple[int, int]:
        before = sum(1 for t in self.accepted_at if t < moment)
        return before, len(self.accepted_at) - before


def assert_nothing_left(stack: RunningStack) -> None:
    gone = wait_until(lambda: not any(pid_alive(p) for p in stack.last_pids.values()), timeout_s=30, every_s=0.5)
    assert gone, {name: pid for name, pid in stack.last_pids.items() if pid_alive(pid)}
    assert all(port_free(p) for p in stack.ports()), [p for p in stack.ports() if not port_free(p)]


@pytest.fixture(scope="module")
def own_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    running = RunningStack(Path(tmp_path_factory.mktemp("durable")), TEST_PORT_BASE + 100)
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

    sender = GatedSender(own_stack, site, batches, first=len(batches) // 2)
    assert sender.first_part_sent.wait(timeout=120)
    stopped_at = time.monotonic()
    own_stack.stop()  # Ctrl-C with half of the run in (some of it still on its way through the worker)
    assert_nothing_left(own_stack)
    sender.release()  # the rest meets a stopped stack: the sender retries, as the beacon would
    own_stack.start()
    sender.finish(len(batches))
    assert sender.accepted_before_and_after(stopped_at) == (len(batches) // 2, len(batches) - len(batches) // 2)

    want = {"pageviews": 1000, "visitors": 50, "sessions": expected_sessions(visits)}
    stats = own_stack.wait_for_stats(site, want, timeout_s=120)
    assert {k: stats[k] for k in want} == want
    assert crash_restarts(own_stack) == 0  # a clean stop keeps the worker's local tables


def crash_restarts(stack: RunningStack) -> int:
    """How often the stack's worker started on a table store left by a crash (stream_jobs.store_checkpoint)."""
    return (stack.data_dir / "logs" / "worker.log").read_text(errors="replace").count("was left by a crash")


def test_kill_9_of_the_worker_mid_run_keeps_the_counts_exact(own_stack: RunningStack) -> None:
    site = own_stack.create_site("kill-worker")
    visits = simulated_visits(visitors=40, events_each=15, seed=2)
    batches = batches_of(visits, size=3)
    worker = own_stack.pids()["worker"]
    sender = GatedSender(own_stack, site, batches, first=len(batches) // 2)
    assert sender.first_part_sent.wait(timeout=120)
    killed_at = time.monotonic()
    os.kill(worker, signal.SIGKILL)  # the worker dies with the first half in Kafka, some of it maybe unprocessed
    sender.release()  # the rest goes into Kafka while the worker is down or coming back
    sender.finish(len(batches))
    assert sender.accepted_before_and_after(killed_at) == (len(batches) // 2, len(batches) - len(batches) // 2)
    assert wait_until(lambda: own_stack.pids()["worker"] != worker, timeout_s=30)  # the supervisor restarted it

    want = {"pageviews": 600, "visitors": 40, "sessions": expected_sessions(visits)}
    stats = own_stack.wait_for_stats(site, want, timeout_s=180)
    assert {k: stats[k] for k in want} == want
    # Its local tables may hold rows the changelog never got, which would pass a batch's events for applied.
    assert crash_restarts(own_stack) == 1


# Ports of the extra workers' probes, next to the stack's worker's (the stack leaves base + 5 and + 6 free).
EXTRA_WORKER_PORTS = {"w2": 2, "w3": 3}


def start_worker(stack: RunningStack, instance: str) -> subprocess.Popen[bytes]:
    log = (stack.data_dir / "logs" / f"worker-{instance}.log").open("ab")
    port = stack.settings.worker_http_port + EXTRA_WORKER_PORTS[instance]
    return subprocess.Popen(
        [sys.executable, "-m", "clickpulse.cli", "worker"],
        env={**stack.env, "CLICKPULSE_WORKER_INSTANCE": instance, "CLICKPULSE_WORKER_HTTP_PORT": str(port)},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def ready(stack: RunningStack, instance: str) -> bool:
    """The worker is in the group with partitions assigned (its /readyz)."""
    return http_ok(f"http://127.0.0.1:{stack.settings.worker_http_port + EXTRA_WORKER_PORTS[instance]}/readyz")


def with_intent(visits: dict[str, list[dict[str, object]]]) -> dict[str, list[dict[str, object]]]:
    """Every other visitor also views a product twice, adds it to the cart and starts checkout."""
    for n, events in enumerate(visits.values()):
        if n % 2 == 0:
            ts = int(events[-1]["ts"]) + 1000  # type: ignore[call-overload]
            product = {"product_id": f"p{n % 5}", "category": "gear"}
            for i, kind in enumerate(["product_view", "product_view", "add_to_cart", "checkout_start"]):
                events.append({"id": str(uuid.uuid4()), "type": kind, "ts": ts + i, "url": "https://shop.test/p",
                               "props": product})  # fmt: skip
    return visits


def expected_signals(visits: dict[str, list[dict[str, object]]]) -> list[tuple[str, str, tuple[str, ...]]]:
    """What an undisturbed run yields: the same pure logic, applied to each visitor's events in order."""
    settings = Settings()
    w = Windowing(settings.session_gap_s * 1000, settings.session_grace_s * 1000, settings.session_max_s * 1000)
    out = []
    for visitor, events in visits.items():
        state = VisitorState(site_id="s", visitor_id=visitor)
        records = [msgspec.convert({**e, "event_id": e["id"], "site_id": "s", "visitor_id": visitor, "received_at": 0,
                                    "products": [e["props"]] if "props" in e else []}, EnrichedEvent)
                   for e in events]  # fmt: skip
        result = apply(state, list(enumerate(records)), w, wall_ms=0)
        for event, index in result.applied:
            for sig in intent.observe(state.intent, event, intent.Visitor("s", visitor, "", index), IntentSettings()):
                out.append((sig.kind, sig.visitor_id, tuple(sig.products)))
    return sorted(out)


def test_kill_9_of_one_of_two_workers_and_a_third_joining_change_no_figure(own_stack: RunningStack) -> None:
    site = own_stack.create_site("two-workers")
    visits = with_intent(simulated_visits(visitors=40, events_each=10, seed=3))
    total = sum(len(e) for e in visits.values())
    second = start_worker(own_stack, "w2")
    third = None
    try:
        assert wait_until(lambda: ready(own_stack, "w2"), timeout_s=60)
        time.sleep(5)  # let the group rebalance onto two workers
        batches = batches_of(visits, size=2)
        sender = GatedSender(own_stack, site, batches, first=len(batches) // 2)
        assert sender.first_part_sent.wait(timeout=120)
        killed_at = time.monotonic()
        os.kill(second.pid, signal.SIGKILL)
        second.wait()
        sender.release()  # the rest goes in while the group notices the death and the third worker joins
        third = start_worker(own_stack, "w3")
        sender.finish(len(batches))
        assert sender.accepted_before_and_after(killed_at) == (len(batches) // 2, len(batches) - len(batches) // 2)
        assert wait_until(lambda: ready(own_stack, "w3"), timeout_s=60)

        want = {"pageviews": 400, "visitors": 40, "sessions": expected_sessions(visits)}
        stats = own_stack.wait_for_stats(site, want, timeout_s=180)
        assert {k: stats[k] for k in want} == want
        headers = {"Authorization": f"Bearer {site['read_key']}"}

        def signals() -> list[tuple[str, str, tuple[str, ...]]]:
            page = httpx.get(f"{own_stack.api}/v1/sites/{site['site_id']}/intent", params={"limit": 1000},
                             headers=headers).json()  # fmt: skip
            return sorted((s["kind"], s["visitor_id"], tuple(s["products"])) for s in page["signals"])

        want_signals = expected_signals(visits)
        assert len(want_signals) == 20 and total > 400
        if not wait_until(lambda: signals() == want_signals, timeout_s=90):
            got = signals()
            missing = [x for x in want_signals if x not in got]
            extra = [x for x in got if x not in want_signals]
            raise AssertionError(f"signals differ: {len(got)} got; missing {missing}; extra {extra}")
    finally:
        for process in (second, third):
            if process is not None and process.poll() is None:
                process.terminate()
                process.wait(30)


def test_ctrl_c_leaves_no_process_and_frees_every_port(own_stack: RunningStack) -> None:
    own_stack.stop()
    assert_nothing_left(own_stack)
