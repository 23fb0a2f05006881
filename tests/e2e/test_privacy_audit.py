"""Personal data sent through every entry point of the real stack, looked for in every Kafka topic, Redis and every
service's log: no full client IP anywhere, and no e-mail address or secret a page put in an address, a title, a
campaign tag, an autocaptured click, form or search, nor in what was rejected. A site's own custom properties and
identify traits are stored as sent (README), so they are the one place the audit's addresses may show up."""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from typing import Any

import httpx
import redis
from aiokafka import AIOKafkaConsumer, TopicPartition
from confluent_kafka.admin import AdminClient

from clickpulse.records import DLQ_TOPIC, EVENTS_TOPIC, IDENTITIES_TOPIC, SESSIONS_TOPIC
from tests.running_stack import BROWSER_HEADERS, RunningStack, send_batch, wait_until

# Documentation addresses (RFC 5737); only their /24 network, 198.51.100.0, may be stored.
RELAYED_IPS = ("198.51.100.17", "198.51.100.18", "198.51.100.19")


def records_of(stack: RunningStack, topics: list[str], marker: str) -> list[bytes]:
    """Every record of these topics, up to their end now, whose key or value holds the marker."""
    known = AdminClient({"bootstrap.servers": stack.settings.kafka_bootstrap}).list_topics(timeout=10).topics
    partitions = [TopicPartition(topic, p) for topic in topics for p in known[topic].partitions]

    async def read() -> list[bytes]:
        consumer = AIOKafkaConsumer(bootstrap_servers=stack.settings.kafka_bootstrap, enable_auto_commit=False)
        await consumer.start()
        try:
            consumer.assign(partitions)
            await consumer.seek_to_beginning(*partitions)
            ends = await consumer.end_offsets(partitions)
            found: list[bytes] = []
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
                for messages in (await consumer.getmany(timeout_ms=500)).values():
                    found += [
                        (m.key or b"") + b" " + (m.value or b"")
                        for m in messages
                        if marker.encode() in (m.key or b"") + (m.value or b"")
                    ]
            return found
        finally:
            await consumer.stop()

    return asyncio.run(read())


def redis_contents(stack: RunningStack) -> str:
    """Every key of the stack's Redis with its value, as text."""
    client = redis.Redis.from_url(stack.settings.redis_url)
    read = {
        "string": client.get,
        "list": lambda key: client.lrange(key, 0, -1),
        "zset": lambda key: client.zrange(key, 0, -1),
        "hash": client.hgetall,
        "set": client.smembers,
    }
    try:
        return "\n".join(
            f"{key!r} {read.get(client.type(key).decode(), repr)(key)!r}" for key in client.scan_iter(count=1000)
        )
    finally:
        client.close()


def test_no_full_ip_e_mail_address_or_secret_from_pages_reaches_kafka_redis_or_a_log(stack: RunningStack) -> None:
    site = stack.create_site("privacy-audit")
    marker = uuid.uuid4().hex[:10]
    visitor, sdk_visitor = f"v-{marker}", f"a-{marker}"
    mail = f"jane.{marker}@mail.example"
    secret = f"S3cr{marker}"
    page = f"https://shop.test/confirm?email={mail.replace('@', '%40')}&token={secret}#/done?access_token={secret}"
    now = int(time.time() * 1000)

    def event(kind: str, **fields: Any) -> dict[str, Any]:
        return {"id": str(uuid.uuid4()), "type": kind, "ts": now, "url": page, **fields}

    beacon = [
        event("pageview", title=f"Order for {mail}", referrer=f"https://webmail.example/read?to={mail}&sid={secret}"),
        event("pageview", url=f"https://shop.test/?utm_source=news&utm_medium=email&utm_term={mail}"),
        event("click", props={"tag": "a", "text": f"Mail {mail}", "href": f"https://shop.test/reset?pwd={secret}"}),
        event("search", props={"query": mail}),
        event("form_submit", props={"id": "login", "action": f"/login?user={mail}&password={secret}"}),
        event("teleport", title=mail),  # rejected: its dead letter
        {"type": "pageview", "url": page, "title": mail},  # rejected by its shape (no id)
    ]
    assert send_batch(stack.ingest, site, visitor, beacon) == 200

    def message(kind: str, ip: str, **fields: Any) -> dict[str, Any]:
        return {"type": kind, "messageId": str(uuid.uuid4()), "anonymousId": sdk_visitor, "context": {"ip": ip},
                **fields}  # fmt: skip

    batch = [
        message("page", RELAYED_IPS[0], name="Confirm", properties={"url": page, "title": f"Hi {mail}"}),
        message("track", RELAYED_IPS[1], event="Product Viewed", properties={}),  # rejected: no product id
        {"type": "track", "anonymousId": sdk_visitor, "event": "X", "context": {"ip": RELAYED_IPS[2]}},  # no id
    ]
    sdk = httpx.post(
        f"{stack.ingest}/v1/batch",
        json={"batch": batch},
        auth=(site["write_key"], ""),
        headers={"User-Agent": "analytics-python/2.3.0"},
        timeout=10,
    )
    assert sdk.status_code == 200
    pixel = {"k": site["write_key"], "v": f"p-{marker}", "u": page, "t": mail}
    gpc = httpx.get(f"{stack.ingest}/pixel.gif", params=pixel, headers={**BROWSER_HEADERS, "Sec-GPC": "1"})
    assert gpc.status_code == 200

    topics = [stack.settings.topic(t) for t in (EVENTS_TOPIC, DLQ_TOPIC, SESSIONS_TOPIC, IDENTITIES_TOPIC)]
    topics.append(f"{stack.settings.worker_id}-visitors-changelog")
    # The worker has sessionized both visitors: their sessions are out, and so are the changelog rows.
    assert wait_until(
        lambda: len({r.split(b" ")[0] for r in records_of(stack, topics[2:3], marker)}) >= 2, timeout_s=45
    ), "the worker emitted no session for the audit's visitors"
    kafka = b"\n".join(records_of(stack, topics, marker)).decode("utf-8", "replace")
    assert "unknown_event_type" in kafka  # the rejected input is there to look at
    assert f"p-{marker}" not in kafka  # the pixel from a GPC browser recorded nothing

    redis_text = redis_contents(stack)
    logs = "\n".join(path.read_text(errors="replace") for path in (stack.data_dir / "logs").glob("*.log"))

    for where, text in (("kafka", kafka), ("redis", redis_text), ("logs", logs)):
        assert not set(RELAYED_IPS) & set(re.findall(r"198\.51\.100\.\d+", text)), where
        assert mail not in text and mail.replace("@", "%40") not in text, where
        assert secret not in text, where
    assert "198.51.100.0" in kafka
    for key in (site["write_key"], site["read_key"]):
        assert key not in logs
