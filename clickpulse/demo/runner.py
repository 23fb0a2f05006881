"""`clickpulse up --demo`: a demo site, the demo shop, and shoppers in waves, with a progress line."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable

import redis.asyncio as aioredis

from clickpulse.demo.shop_server import serve_shop
from clickpulse.demo.simulator import Simulator
from clickpulse.settings import Settings
from clickpulse.sites import SiteRegistry

DEMO_SITE_FILE = "demo_site.json"
TRICKLE_SHOPPERS = 10
# Visits play 20 times faster than life (the simulator's time_scale), so the demo site's sessions end after 5 quiet
# minutes rather than 30, and a cart left behind counts as abandoned 5 minutes later: within about a quarter of an
# hour the dashboard shows closed sessions and abandoned carts, not only high intent.
DEMO_SESSION_GAP_S = 5 * 60
DEMO_INTENT = {"abandon_after_ms": 5 * 60 * 1000}


async def _demo_site(settings: Settings, shop_origin: str) -> dict[str, str]:
    """Create the demo site once; later `up --demo` runs find it (and its keys) again."""
    path = settings.data_dir / DEMO_SITE_FILE
    redis = aioredis.Redis.from_url(settings.redis_url)
    try:
        registry = SiteRegistry(redis)
        if path.exists():
            saved = json.loads(path.read_text())
            if await registry.get(saved["site_id"]):
                return saved
        created = await registry.create("Demo shop", [shop_origin], session_gap_s=DEMO_SESSION_GAP_S)
        await registry.tune_intent(created.site_id, DEMO_INTENT)
        # Every simulated shopper comes from this one machine's address: no per-IP limit on the demo site.
        await registry.set_rules(created.site_id, {"ip_rate_limit_per_s": -1})
        saved = {"site_id": created.site_id, "write_key": created.write_key, "read_key": created.read_key}
        path.write_text(json.dumps(saved))
        return saved
    finally:
        await redis.aclose()


def start_demo(settings: Settings, visitors: int, seed: int) -> Callable[[], None]:
    shop_origin = f"http://127.0.0.1:{settings.demo_shop_port}"
    site = asyncio.run(_demo_site(settings, shop_origin))
    serve_shop("127.0.0.1", settings.demo_shop_port, site["write_key"], settings.ingest_url)
    simulator = Simulator(settings.ingest_url, site["write_key"], shop_origin, seed)

    async def drive() -> None:
        await simulator.run(visitors)
        n = visitors
        while True:  # a steady trickle afterwards, so the dashboard keeps moving
            await simulator.run(TRICKLE_SHOPPERS, concurrency=5, start_index=n)
            n += TRICKLE_SHOPPERS

    threading.Thread(target=lambda: asyncio.run(drive()), name="demo-shoppers", daemon=True).start()
    dashboard = f"http://{settings.api_host}:{settings.api_port}/#site={site['site_id']}&key={site['read_key']}"
    print(
        f"Demo shop:  {shop_origin}/\n"
        f"Demo site:  {site['site_id']}  (write key {site['write_key']})\n"
        f"\n  >>> Dashboard: {dashboard}\n",
        flush=True,
    )

    def tick() -> None:
        p = simulator.progress
        print(f"\r  demo shoppers {p.shoppers_done}  events sent {p.events_sent}  ", end="", flush=True)

    return tick
