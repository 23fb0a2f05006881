"""Drives simulated shoppers against ingest exactly as the beacon would: batches of events,
text/plain bodies, client timestamps with sent_at, and retries of the same event ids on failure.

Earlier visits of a returning shopper are sent days back in time, as a browser's retry queue
would replay them; the last visit plays live. The ground truth (persona, purchase) is kept.
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from clickpulse.demo.personas import Shopper, Step, make_shopper
from clickpulse.settings import Settings

DAY_MS = 86_400_000
FLUSH_AT = 10


def now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass
class Progress:
    shoppers_done: int = 0
    events_sent: int = 0
    retries: int = 0
    refused: int = 0  # events in requests ingest refused for good (a wrong write key, an origin not allowed)
    refusal: str = ""  # the last such answer
    truth: list[dict[str, object]] = field(default_factory=list)


class Simulator:
    def __init__(self, ingest_url: str, write_key: str, shop_origin: str, seed: int, time_scale: float = 0.05) -> None:
        self.ingest_url = ingest_url.rstrip("/")
        self.write_key = write_key
        self.shop_origin = shop_origin.rstrip("/")
        self.rng = random.Random(seed)
        # Per run, as the event ids are: with the same seed (every `up --demo`), an earlier run's shoppers would go on
        # with their sessions (a dashboard of 5-minute sessions and no bounces after a restart).
        self.run_tag = uuid.uuid4().hex[:6]
        self.time_scale = time_scale
        self.progress = Progress()

    def _event_id(self) -> str:
        # Random, not from the seed: a second run with the same seed (every `up --demo`, every `simulate` without
        # --seed) would reuse the earlier run's ids for other events, and downstream drops a repeated id as a retry.
        return str(uuid.uuid4())

    def _wire(self, step: Step, ts: int, referrer: str) -> dict[str, object]:
        url = self.shop_origin + step.path
        event: dict[str, object] = {"id": self._event_id(), "type": step.type, "ts": ts, "url": url}
        if step.type == "pageview":
            event["referrer"] = referrer
            event["title"] = step.path
        props: dict[str, object] = dict(step.props)
        if step.item is not None:
            props.update(product_id=step.item.product_id, name=step.item.name, category=step.item.category)
            props.update(price=step.item.price, currency="EUR", quantity=1)
        if step.type == "purchase":
            props["order_id"] = f"o-{uuid.uuid4().hex[:12]}"  # random, as the event ids are, for the same reason
        if props:
            event["props"] = props
        return event

    def _page_leave(self, url: str, opened_at: int, ts: int) -> dict[str, object]:
        # A share of the time the page was open, as the beacon measures it (visible and active): a live visit plays
        # at time_scale, and its engaged time must shrink with it, or the demo's sessions would be engaged longer
        # than they last.
        engaged = int(max(ts - opened_at, 0) * self.rng.uniform(0.5, 1.0))
        return {"id": self._event_id(), "type": "page_leave", "ts": ts, "url": url, "engaged_ms": engaged,
                "scroll_pct": self.rng.randint(10, 100)}  # fmt: skip

    async def _post(self, client: httpx.AsyncClient, shopper: Shopper, events: list[dict[str, object]]) -> None:
        body = json.dumps(
            {"write_key": self.write_key, "visitor_id": shopper.visitor_id, "sent_at": now_ms(), "events": events}
        )
        headers = {
            "Content-Type": "text/plain",
            "User-Agent": shopper.user_agent,
            "Accept-Language": "en-GB,en;q=0.9",  # as a browser sends it: ingest flags browser agents without one
            "Origin": self.shop_origin,
            "CF-IPCountry": shopper.country,
        }
        delay = 0.2
        while True:
            try:
                response = await client.post(f"{self.ingest_url}/collect", content=body, headers=headers)
                if 400 <= response.status_code < 500 and response.status_code != 429:
                    self.progress.refused += len(events)
                    self.progress.refusal = f"{response.status_code} {response.text[:200]}"
                    return
                if response.status_code < 400:
                    self.progress.events_sent += len(events)
                    return
            except httpx.HTTPError:
                pass
            self.progress.retries += 1
            await asyncio.sleep(delay + self.rng.random() * delay)
            delay = min(delay * 2, 5.0)

    async def run_shopper(self, client: httpx.AsyncClient, shopper: Shopper) -> None:
        purchase_at = None
        for i, visit in enumerate(shopper.visits):
            live = i == len(shopper.visits) - 1
            offset = 0 if live else (len(shopper.visits) - 1 - i) * DAY_MS + self.rng.randrange(DAY_MS // 2)
            referrer = shopper.referrer if i == 0 else ""
            pending: list[dict[str, object]] = []
            clock = now_ms() - offset
            last_page: tuple[str, int] | None = None  # its url and when it was opened
            for step in visit:
                if step.type == "pageview" and last_page is not None and shopper.persona != "bot":
                    pending.append(self._page_leave(*last_page, clock))
                event = self._wire(step, clock, referrer)
                if step.type == "purchase":
                    purchase_at = clock
                pending.append(event)
                if step.type == "pageview":
                    last_page = (str(event["url"]), clock)
                if len(pending) >= FLUSH_AT or (live and step.type == "pageview"):
                    await self._post(client, shopper, pending)
                    pending = []
                if live:
                    await asyncio.sleep(step.dwell_s * self.time_scale)
                    clock = now_ms()
                else:
                    clock += int(step.dwell_s * 1000)
            if last_page is not None and shopper.persona not in ("bot", "bouncer"):
                pending.append(self._page_leave(*last_page, clock))
            if pending:
                await self._post(client, shopper, pending)
        self.progress.shoppers_done += 1
        self.progress.truth.append(
            {
                "visitor_id": shopper.visitor_id,
                "persona": shopper.persona,
                "customer_id": shopper.customer_id,
                "purchases": shopper.purchases,
                "purchase_at": purchase_at,
            }
        )

    async def run(self, shoppers: int, concurrency: int = 25, start_index: int = 0) -> None:
        queue = [make_shopper(self.rng, start_index + n) for n in range(shoppers)]
        for shopper in queue:
            shopper.visitor_id += f"_{self.run_tag}"
        limit = asyncio.Semaphore(concurrency)
        async with httpx.AsyncClient(timeout=10) as client:

            async def one(shopper: Shopper) -> None:
                async with limit:
                    await self.run_shopper(client, shopper)

            await asyncio.gather(*(one(s) for s in queue))


def write_ground_truth(path: Path, truth: list[dict[str, object]]) -> None:
    path.write_text("".join(json.dumps(row) + "\n" for row in truth))


def simulate_cli(settings: Settings, write_key: str, visitors: int, seed: int, ground_truth: str) -> None:
    shop = f"http://127.0.0.1:{settings.demo_shop_port}"
    simulator = Simulator(settings.ingest_url, write_key, shop, seed)

    def show_progress() -> None:
        p = simulator.progress
        print(
            f"\r  shoppers {p.shoppers_done}/{visitors}  events {p.events_sent}  retries {p.retries}  "
            f"refused {p.refused}",
            end="",
        )

    async def main() -> None:
        task = asyncio.create_task(simulator.run(visitors))
        while not task.done():
            show_progress()
            await asyncio.sleep(0.5)
        await task
        show_progress()  # the totals: the last line shown above can be up to half a second old
        print()

    asyncio.run(main())
    if ground_truth:
        write_ground_truth(Path(ground_truth), simulator.progress.truth)
    if simulator.progress.refused:
        sys.exit(f"ingest refused {simulator.progress.refused} events; last answer: {simulator.progress.refusal}")
