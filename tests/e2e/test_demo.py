"""`clickpulse up --demo`: a demo site, the demo shop, simulated shoppers, and the dashboard URL."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import httpx
import pytest
import redis.asyncio as aioredis

from clickpulse.sites import Site, SiteRegistry
from tests.running_stack import TEST_PORT_BASE, RunningStack, wait_until


def test_up_with_demo_serves_the_shop_and_its_traffic_reaches_the_dashboard(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    running = RunningStack(Path(tmp_path_factory.mktemp("demo")), TEST_PORT_BASE + 200)
    running.start(args=["--demo", "--visitors", "30"])
    try:
        printed = "\n".join(running.output)
        url = re.search(r"Dashboard: (http://\S+)#site=(\S+)&key=(\S+)", printed)
        assert url, printed
        site = {"site_id": url.group(2), "read_key": url.group(3)}
        assert "<title>Clickpulse" in httpx.get(url.group(1)).text
        shop = httpx.get(f"http://127.0.0.1:{running.settings.demo_shop_port}/product/p1.html").text
        assert 'data-cp-product="p1"' in shop
        config = httpx.get(f"http://127.0.0.1:{running.settings.demo_shop_port}/config.js").text
        assert json.loads(config.split("=", 1)[1].rstrip(";\n"))["api"] == running.ingest

        def moving() -> dict[str, object] | None:
            stats = running.stats(site)
            return stats if stats["pageviews"] > 30 and stats["sessions"] > 10 and stats["revenue"] > 0 else None

        assert wait_until(moving, timeout_s=120), running.stats(site)
        headers = {"Authorization": f"Bearer {site['read_key']}"}
        live = httpx.get(f"{running.api}/v1/sites/{site['site_id']}/realtime", headers=headers).json()
        assert live["active_visitors"] > 0 and live["top_products"]

        def breakdown(dimension: str) -> list[dict[str, object]]:
            url = f"{running.api}/v1/sites/{site['site_id']}/breakdown/{dimension}"
            return httpx.get(url, headers=headers).json()["rows"]  # type: ignore[no-any-return]

        # The demo's purchases name what was bought, as the shop's checkout does, and its shoppers have countries
        # (through the CDN header ingest trusts by default): the dashboard's product and country panels fill.
        assert wait_until(lambda: sum(int(row["purchases"]) for row in breakdown("product")) > 0, timeout_s=60)  # type: ignore[call-overload]
        assert {row["value"] for row in breakdown("country")} & {"DE", "FR", "GB"}

        # Its sessions end and its carts count as abandoned after 5 minutes, as its visits play 20 times faster.
        async def demo_site() -> Site | None:
            redis = aioredis.Redis.from_url(running.settings.redis_url)
            try:
                return await SiteRegistry(redis).get(site["site_id"])
            finally:
                await redis.aclose()

        tuned = asyncio.run(demo_site())
        assert tuned and tuned.session_gap_s == 300 and tuned.intent == {"abandon_after_ms": 300_000}
    finally:
        running.stop()
