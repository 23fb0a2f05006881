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
        self.visitors: set[str] = set()

    async def _post(self, client: httpx.AsyncClient, shopper: Shopper, events: list[dict[str, object]]) -> None:
        self.sent += events
        self.visitors.add(shopper.visitor_id)


def shoppers(seed: int, n: int = 40) -> list[Shopper]:
    rng = random.Random(seed)
    return [make_shopper(rng, i) for i in range(n)]


def events_sent(shoppers: list[Shopper]) -> list[dict[str, object]]:
    """What a run of these shoppers posts, in order."""
    simulator = RecordingSimulator()

    async def run() -> None:
        async with httpx.AsyncClient() as client:
            for shopper in shoppers:
                await simulator.run_shopper(client, shopper)

    asyncio.run(run())
    return simulator.sent


def test_two_runs_with_the_same_seed_send_different_event_ids() -> None:
    # Downstream counts by unique event id: an id a later run reused would drop that run's event as a retry.
    runs = [Simulator("http://127.0.0.1:1", "wk_test", "http://shop.test", seed=7) for _ in range(2)]
    ids = [{run._wire(Step("pageview", f"/p{n}"), 0, "")["id"] for n in range(50)} for run in runs]
    assert len(ids[0]) == len(ids[1]) == 50
    assert not ids[0] & ids[1]


def test_two_runs_with_the_same_seed_send_the_same_journeys_as_other_visitors() -> None:
    # A restarted `up --demo` reused the visitor ids: its shoppers went on with the earlier run's sessions.
    runs = [RecordingSimulator() for _ in range(2)]
    for simulator in runs:
        asyncio.run(simulator.run(10))
    visitors = [simulator.visitors for simulator in runs]
    assert len(visitors[0]) == len(visitors[1]) == 10
    assert not visitors[0] & visitors[1]
    journeys = [sorted(str(event["url"]) for event in simulator.sent) for simulator in runs]
    assert journeys[0] == journeys[1]


def test_a_page_leave_reports_no_more_engaged_time_than_its_page_was_open_live_or_replayed() -> None:
    simulated = shoppers(seed=5)
    assert any(len(s.visits) > 1 for s in simulated)  # replayed visits (days back) as well as live ones
    opened: dict[str, int] = {}
    leaves = 0
    for event in events_sent(simulated):
        if event["type"] == "pageview":
            opened[str(event["url"])] = int(event["ts"])  # type: ignore[call-overload]
        elif event["type"] == "page_leave":
            leaves += 1
            open_for = int(event["ts"]) - opened[str(event["url"])]  # type: ignore[call-overload]
            assert 0 <= int(event["engaged_ms"]) <= open_for  # type: ignore[call-overload]
    assert leaves > 20


def test_a_purchase_names_the_products_bought_and_an_order_id_no_other_run_repeats() -> None:
    # The products panel counts purchases from the lines (an empty list was 0 purchases for every product), and
    # orders by their id (a reused id would count a later run's order as a reloaded receipt).
    runs = [events_sent(shoppers(seed=5)) for _ in range(2)]
    purchases = [[e["props"] for e in sent if e["type"] == "purchase"] for sent in runs]
    assert len(purchases[0]) == len(purchases[1]) > 3
    for props in purchases[0]:
        assert props["items"] and all(line["product_id"] for line in props["items"])  # type: ignore[index]
    orders = [{props["order_id"] for props in run} for run in purchases]  # type: ignore[index]
    assert len(orders[0]) == len(purchases[0]) and not orders[0] & orders[1]
