"""The demo's simulated shoppers: the seed repeats the traffic, never the event ids, and a page is never
engaged longer than it was open."""

from __future__ import annotations

import asyncio
import random

import httpx

from clickpulse.demo.personas import Shopper, Step, make_shopper
from clickpulse.demo.simulator import Simulator


class RecordingSimulator(Simulator):
    """Keeps the batches it would post, in order, instead of sending them."""

    def __init__(self) -> None:
        super().__init__("http://127.0.0.1:1", "wk_test", "http://shop.test", seed=3, time_scale=0.001)
        self.sent: list[dict[str, object]] = []

    async def _post(self, client: httpx.AsyncClient, shopper: Shopper, events: list[dict[str, object]]) -> None:
        self.sent += events


def test_two_runs_with_the_same_seed_send_different_event_ids() -> None:
    # Downstream counts by unique event id: an id a later run reused would drop that run's event as a retry.
    runs = [Simulator("http://127.0.0.1:1", "wk_test", "http://shop.test", seed=7) for _ in range(2)]
    ids = [{run._wire(Step("pageview", f"/p{n}"), 0, "")["id"] for n in range(50)} for run in runs]
    assert len(ids[0]) == len(ids[1]) == 50
    assert not ids[0] & ids[1]


def test_a_page_leave_reports_no_more_engaged_time_than_its_page_was_open_live_or_replayed() -> None:
    simulator, rng = RecordingSimulator(), random.Random(5)
    shoppers = [make_shopper(rng, n) for n in range(40)]
    assert any(len(s.visits) > 1 for s in shoppers)  # replayed visits (days back) as well as live ones

    async def run() -> None:
        async with httpx.AsyncClient() as client:
            for shopper in shoppers:
                await simulator.run_shopper(client, shopper)

    asyncio.run(run())
    opened: dict[str, int] = {}
    leaves = 0
    for event in simulator.sent:
        if event["type"] == "pageview":
            opened[str(event["url"])] = int(event["ts"])  # type: ignore[call-overload]
        elif event["type"] == "page_leave":
            leaves += 1
            open_for = int(event["ts"]) - opened[str(event["url"])]  # type: ignore[call-overload]
            assert 0 <= int(event["engaged_ms"]) <= open_for  # type: ignore[call-overload]
    assert leaves > 20
