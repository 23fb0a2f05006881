"""The API as an attacker meets it on the shared stack: slow heads, and the headers that tell browsers how far to
trust its answers."""

from __future__ import annotations

import base64
import hashlib
import re
import socket
import time
import uuid
from typing import Any

import httpx
import redis

from api.intent_feed import encode_cursor
from clickpulse import live_keys as keys
from tests.running_stack import RunningStack, send_batch, wait_until


def test_a_client_that_sends_its_head_slowly_gets_408_and_loses_the_connection(stack: RunningStack) -> None:
    # Without a deadline an idle or half-sent head held its connection for ever (slowloris), as ingest's did.
    deadline_s = stack.settings.head_timeout_s
    with socket.create_connection(("127.0.0.1", stack.settings.api_port)) as half_sent:
        half_sent.sendall(b"GET / HTTP/1.1\r\nHost: dashboard\r\n")
        half_sent.settimeout(deadline_s + 5)
        answer = half_sent.recv(200)
        assert answer.startswith(b"HTTP/1.1 408 ")
        assert half_sent.recv(200) == b""  # closed


def test_the_dashboard_runs_only_its_own_script_and_no_answer_may_be_sniffed_framed_or_referred(
    stack: RunningStack,
) -> None:
    site = stack.create_site("browser-policy")
    page = httpx.get(f"{stack.api}/", timeout=10)
    policy = dict(part.strip().split(" ", 1) for part in page.headers["content-security-policy"].split(";"))
    (script,) = re.findall(r"<script>(.*?)</script>", page.text, re.DOTALL)
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    assert policy["script-src"] == f"'sha256-{digest}'"
    assert (policy["default-src"], policy["connect-src"], policy["frame-ancestors"]) == ("'none'", "'self'", "'none'")

    key = {"Authorization": f"Bearer {site['read_key']}"}
    answers = [
        page,
        httpx.get(f"{stack.api}/v1/sites/{site['site_id']}/realtime", headers=key, timeout=10),
        httpx.get(f"{stack.api}/v1/sites/{site['site_id']}/realtime", timeout=10),  # a refusal
        httpx.get(f"{stack.api}/docs", timeout=10),
    ]
    with httpx.stream("GET", f"{stack.api}/v1/sites/{site['site_id']}/live", headers=key, timeout=10) as live:
        answers.append(live)
    for answer in answers:
        assert answer.headers["x-content-type-options"] == "nosniff", answer.url
        assert answer.headers["x-frame-options"] == "DENY", answer.url
        assert answer.headers["referrer-policy"] == "no-referrer", answer.url
    assert [a.status_code for a in answers] == [200, 200, 401, 200, 200]


def test_an_intent_cursor_naming_thousands_of_partitions_pages_like_one_naming_none(stack: RunningStack) -> None:
    # Each position was an OR term formatted into the SQL: 4000 of them (a 57 KB cursor) took the embedded engine
    # about a minute, during which every other query of the API waited.
    site = stack.create_site("intent-cursor-flood")
    key = {"Authorization": f"Bearer {site['read_key']}"}
    feed = f"{stack.api}/v1/sites/{site['site_id']}/intent"
    cursor = encode_cursor(site["site_id"], dict.fromkeys(range(4000), 0))
    flooded = httpx.get(feed, params={"cursor": cursor}, headers=key, timeout=30)
    assert flooded.status_code == 200, flooded.text
    assert flooded.json()["signals"] == []
    assert httpx.get(feed, headers=key, timeout=30).json()["signals"] == []


def test_a_flood_of_made_up_pages_keeps_a_minute_of_top_pages_bounded_and_its_leaders_counted(
    stack: RunningStack,
) -> None:
    # Anyone with the page's write key names pages: 66,000 made-up paths took each /realtime (each dashboard's
    # snapshot, every second) 1.8 s of the API's event loop, and Redis kept them all for two hours.
    site = stack.create_site("made-up-pages")
    now = int(time.time() * 1000)
    made_up = [f"https://shop.test/made-up/{n}" for n in range(keys.TOP_KEPT_PER_MINUTE + 50)]
    for visitor, urls in enumerate([made_up[:75], made_up[75:], ["https://shop.test/leader"] * 3]):
        events = [{"id": uuid.uuid4().hex, "type": "pageview", "ts": now, "url": url} for url in urls]
        assert send_batch(stack.ingest, site, f"v{visitor}", events) == 200
    key = {"Authorization": f"Bearer {site['read_key']}"}

    def leaders() -> list[dict[str, Any]]:
        answer = httpx.get(f"{stack.api}/v1/sites/{site['site_id']}/realtime", headers=key, timeout=10).json()
        return answer["top_pages"] if answer["pageviews_last_30_min"] == len(made_up) + 3 else []

    top = wait_until(leaders, 60)
    assert top[0] == {"name": "/leader", "count": 3}
    live = redis.Redis.from_url(stack.settings.redis_url)
    try:
        bucket = keys.top_minute(site["site_id"], "pages", now // keys.MINUTE_MS)
        assert live.zcard(bucket) == keys.TOP_KEPT_PER_MINUTE
        assert live.zscore(bucket, "/leader") == 3
    finally:
        live.close()


def first_bytes_of_a_stream(stream: socket.socket, timeout_s: float = 20) -> bytes:
    """What a live stream sends until its first event, or until it ends (chunked: a zero-length chunk)."""
    stream.settimeout(timeout_s)
    received = b""
    while b"data: " not in received and not received.endswith(b"0\r\n\r\n"):
        chunk = stream.recv(65536)
        if not chunk:
            break
        received += chunk
    return received


def test_four_hundred_dashboards_opened_at_once_all_stream(stack: RunningStack) -> None:
    # Each live stream held one of the API's 100 Redis connections while open: past about 94 open dashboards, of all
    # sites together, every new stream ended as soon as it began (and the webhooks could not reach Redis). With one
    # subscription for all, a burst of first snapshots still went past the pool's 100: 56 of 500 streams ended.
    site = stack.create_site("many-dashboards")
    request = (
        f"GET /v1/sites/{site['site_id']}/live HTTP/1.1\r\nHost: api\r\n"
        f"Authorization: Bearer {site['read_key']}\r\n\r\n"
    )
    streams = [socket.create_connection(("127.0.0.1", stack.settings.api_port)) for _ in range(400)]
    try:
        for stream in streams:
            stream.sendall(request.encode())
        first = [first_bytes_of_a_stream(stream) for stream in streams]
        assert sum(b"data: {" in received for received in first) == len(streams)
        other = stack.create_site("one-more-dashboard")
        answer = httpx.get(f"{stack.api}/v1/sites/{other['site_id']}/realtime",
                           headers={"Authorization": f"Bearer {other['read_key']}"}, timeout=10)  # fmt: skip
        assert answer.status_code == 200
    finally:
        for stream in streams:
            stream.close()
