"""The demo's simulated shoppers: the seed repeats the traffic, never the event ids."""

from __future__ import annotations

from clickpulse.demo.personas import Step
from clickpulse.demo.simulator import Simulator


def test_two_runs_with_the_same_seed_send_different_event_ids() -> None:
    # Downstream counts by unique event id: an id a later run reused would drop that run's event as a retry.
    runs = [Simulator("http://127.0.0.1:1", "wk_test", "http://shop.test", seed=7) for _ in range(2)]
    ids = [{run._wire(Step("pageview", f"/p{n}"), 0, "")["id"] for n in range(50)} for run in runs]
    assert len(ids[0]) == len(ids[1]) == 50
    assert not ids[0] & ids[1]
