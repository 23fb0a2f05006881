"""A flood of forged write keys, each one a registry look-up in Redis, against ingest's rate limits: it took every
connection of ingest's Redis pool, and the rate limiter, reading the refusals as Redis being away, let requests
through unchecked (300 of 300 accepted where the client's limit allowed 33)."""

from __future__ import annotations

import asyncio
import json
import time
import uuid

import httpx

from tests.running_stack import BROWSER_HEADERS, RunningStack


async def flood(
    stack: RunningStack, write_key: str, rounds: int, forged: int, real: int
) -> tuple[list[int], list[int]]:
    """Each round sends `forged` requests with made-up write keys and `real` with the site's, all at once."""

    def body(key: str) -> str:
        event = {"id": uuid.uuid4().hex, "type": "pageview", "url": "https://shop.test/"}
        return json.dumps({"write_key": key, "visitor_id": "v-flood", "events": [event]})

    async def post(client: httpx.AsyncClient, key: str) -> int:
        response = await client.post(f"{stack.ingest}/collect", content=body(key), headers=BROWSER_HEADERS)
        return response.status_code

    forged_answers: list[int] = []
    real_answers: list[int] = []
    for _ in range(rounds):
        keys = [f"wk_forged_{uuid.uuid4().hex}" for _ in range(forged)] + [write_key] * real
        # A client per round: a round takes several seconds on a busy machine, longer than ingest keeps an idle
        # connection, and a connection the server closes just as the next round reuses it is reset.
        limits = httpx.Limits(max_connections=forged + real, max_keepalive_connections=0)
        async with httpx.AsyncClient(limits=limits, timeout=60) as client:
            answers = await asyncio.gather(*(post(client, key) for key in keys))
        forged_answers += answers[:forged]
        real_answers += answers[forged:]
    return forged_answers, real_answers


def test_a_flood_of_forged_write_keys_neither_lifts_a_sites_rate_limits_nor_gets_503(stack: RunningStack) -> None:
    site = stack.create_site("forged-key-flood")
    stack.clickpulse("site", "rules", site["site_id"], "--ip-rate-limit", "1")  # a burst of 30, then 1 a second
    time.sleep(2)  # ingest picks up rules within a second
    started = time.monotonic()
    forged, real = asyncio.run(flood(stack, site["write_key"], rounds=2, forged=500, real=100))
    allowed = 30 + 1 + (time.monotonic() - started)  # the burst, one lease, what refilled meanwhile
    assert real.count(200) <= allowed, real
    assert set(real) == {200, 429}
    assert set(forged) == {401}  # looked up, not refused as if Redis were away (503)
