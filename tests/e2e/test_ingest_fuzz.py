"""FUZZ: 100,000 hostile requests against the live ingest. No 5xx, no crash, bounded memory, valid events still land.

The corpus is generated up front by hypothesis, derandomized, so every run sends the same requests (only the
sites' write keys differ); it is then replayed concurrently over loopback until 100,000 requests have gone out.
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import json
import time
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import urlencode

import httpx
import psutil
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.running_stack import BROWSER_UA, RunningStack, pid_alive

TOTAL_REQUESTS = 100_000
DISTINCT_REQUESTS = 1_200
WARM_UP_REQUESTS = 10_000
CONCURRENCY = 50
VALID_EVERY = 50  # one request in this many is a valid batch that must be accepted
RSS_GROWTH_LIMIT = 48 * 1024 * 1024
MAX_UNREAD_BODY = 64 * 1024  # the beacon's body limit; the ingest may stop reading past it
SEGMENT_PATHS = ["/v1/batch", "/v1/import"] + [
    f"/v1/{k}" for k in ("track", "page", "screen", "identify", "alias", "group")
]
EVENT_TYPES = ["pageview", "product_view", "add_to_cart", "purchase", "custom", "identify", "teleport", ""]


@dataclass(frozen=True)
class Hostile:
    method: str
    path: str
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()
    params: tuple[tuple[str, str], ...] = ()


@dataclass
class Tally:
    statuses: Counter[int] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    valid_events: int = 0


# JSON of every shape, including what json.dumps lets through and strict parsers must refuse.
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=24)
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=10,
)
ids = st.text(min_size=0, max_size=8) | st.sampled_from(["dup-1", "dup-2"]) | st.just("i" * 300) | values
timestamps = (
    st.integers(min_value=-(2**63), max_value=2**64)
    | st.sampled_from([0, 10**14, 10**15, 253402300799999])
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.sampled_from(["0001-01-01T00:00:00", "9999-12-31T23:59:59Z", "yesterday", "2024-02-30T00:00:00Z", ""])
    | values
)


def optional(**fields: st.SearchStrategy[object]) -> st.SearchStrategy[dict[str, object]]:
    return st.fixed_dictionaries({}, optional=fields)


def native_events() -> st.SearchStrategy[object]:
    event = optional(
        id=ids,
        type=st.sampled_from(EVENT_TYPES) | values,
        ts=timestamps,
        url=st.text(max_size=40) | st.just("https://x.test/" + "p" * 3000) | values,
        referrer=st.text(max_size=20) | values,
        props=values | st.dictionaries(st.sampled_from(["revenue", "items", "product_id", "price"]), values),
        engaged_ms=timestamps,
        scroll_pct=st.integers(min_value=-5, max_value=500) | values,
    )
    return st.lists(event | values, max_size=6) | values


def segment_message(kind: st.SearchStrategy[object]) -> st.SearchStrategy[dict[str, object]]:
    return optional(
        type=kind,
        messageId=ids,
        anonymousId=ids,
        userId=ids,
        event=st.sampled_from(["Product Viewed", "Order Completed", "Product Added", ""]) | values,
        timestamp=timestamps,
        originalTimestamp=timestamps,
        sentAt=timestamps,
        properties=values | optional(total=values, products=values, sku=values, url=values, referrer=values),
        traits=values,
        context=values | optional(ip=values, userAgent=values, page=values, campaign=values),
    )


def mangle(body: bytes, how: str, cut: int) -> tuple[bytes, dict[str, str]]:
    """Damage a well-formed body the ways the internet does."""
    if how == "truncate":
        return body[: cut % (len(body) or 1)], {}
    if how == "bad-utf8":
        return body[:cut] + b"\xff\xfe\xc3(" + body[cut:], {}
    if how == "nest":
        depth = 30 + cut * 10
        return b"[" * depth + body + b"]" * depth, {}
    if how == "gzip":
        return gzip.compress(body, mtime=0), {"Content-Encoding": "gzip"}
    if how == "corrupt-gzip":
        packed = bytearray(gzip.compress(body, mtime=0))
        packed[len(packed) // 2] ^= 0xFF
        return bytes(packed[: len(packed) - cut % 8]), {"Content-Encoding": "gzip"}
    return body, {}


def corpus_strategy(write_key: str) -> st.SearchStrategy[Hostile]:
    keys = st.sampled_from([write_key, write_key, "wk_unknown", "", " " + write_key]) | values
    damage = st.sampled_from(["none", "none", "none", "truncate", "bad-utf8", "nest", "gzip", "corrupt-gzip"])
    content_types = st.sampled_from(["text/plain", "application/json", "application/x-www-form-urlencoded",
                                     "multipart/form-data; boundary=x", "image/png", ""])  # fmt: skip

    @st.composite
    def native(draw: st.DrawFn) -> Hostile:
        envelope = optional(write_key=keys, events=native_events(), visitor_id=ids, sent_at=timestamps)
        payload = draw(envelope | values)
        body, headers = mangle(json.dumps(payload).encode(), draw(damage), draw(st.integers(0, 200)))
        headers["Content-Type"] = draw(content_types)
        return Hostile("POST", "/collect", body, tuple(headers.items()))

    @st.composite
    def segment(draw: st.DrawFn) -> Hostile:
        path = draw(st.sampled_from(SEGMENT_PATHS))
        kind = st.sampled_from(["track", "page", "identify", "screen", "group", "alias", "nope"]) | values
        message = segment_message(kind)
        if path in ("/v1/batch", "/v1/import"):
            payload = draw(optional(batch=st.lists(message | values, max_size=5) | values, writeKey=keys,
                                    sentAt=timestamps) | values)  # fmt: skip
        else:
            payload = draw(message | values)
            if isinstance(payload, dict) and draw(st.booleans()):
                payload["writeKey"] = draw(keys)
        body, headers = mangle(json.dumps(payload).encode(), draw(damage), draw(st.integers(0, 200)))
        auth = draw(
            st.sampled_from(["basic", "none", "garbage", "bearer"]).map(
                lambda how: {
                    "basic": "Basic " + base64.b64encode(f"{write_key}:".encode()).decode(),
                    "none": "",
                    "garbage": "Basic %%%not-base64",
                    "bearer": "Bearer " + write_key,
                }[how]
            )
        )
        if auth:
            headers["Authorization"] = auth
        headers["Content-Type"] = draw(content_types)
        return Hostile("POST", path, body, tuple(headers.items()))

    @st.composite
    def pixel(draw: st.DrawFn) -> Hostile:
        names = st.sampled_from(["k", "id", "e", "u", "r", "t", "v"]) | st.text(max_size=6)
        query = draw(st.dictionaries(names, st.text(max_size=30) | st.just("x" * 3000), max_size=7))
        if draw(st.booleans()):
            query["k"] = write_key
        return Hostile("GET", "/pixel.gif", params=tuple(query.items()))

    @st.composite
    def raw(draw: st.DrawFn) -> Hostile:
        body = draw(st.binary(max_size=200))
        headers = {"Content-Type": draw(content_types)}
        encoding = draw(st.sampled_from(["", "gzip", "deflate", "br", "x-bogus, gzip"]))
        if encoding:
            headers["Content-Encoding"] = encoding
        path = draw(st.sampled_from(["/collect", *SEGMENT_PATHS]))
        return Hostile("POST", path, body, tuple(headers.items()))

    # Well-formed envelopes and ids around hostile field values, so input gets past decoding into enrichment.
    hostile_props = st.dictionaries(
        st.sampled_from(["revenue", "total", "price", "quantity", "currency", "order_id", "products", "items",
                         "product_id", "sku", "url", "referrer", "title", "query", "utm_source"]),
        values,
        max_size=5,
    )  # fmt: skip
    texts = st.text(max_size=30) | st.sampled_from(["https://x.test/?utm_source=a&utm_source=b", "//x", "http://[::1"])

    @st.composite
    def nearly_valid(draw: st.DrawFn) -> Hostile:
        stamp = draw(timestamps)
        if draw(st.booleans()):
            event = {"id": draw(st.text(min_size=1, max_size=12)), "type": draw(st.sampled_from(EVENT_TYPES[:-2])),
                     "ts": stamp, "url": draw(texts), "referrer": draw(texts), "title": draw(texts),
                     "props": draw(hostile_props)}  # fmt: skip
            payload: object = {"write_key": write_key, "visitor_id": "v-fuzz", "events": [event]}
            return Hostile("POST", "/collect", json.dumps(payload).encode(), (("Content-Type", "text/plain"),))
        context = {"ip": draw(texts | st.sampled_from(["::ffff:1.2.3.4", "300.1.1.1", "fe80::1%eth0"])),
                   "userAgent": draw(texts), "campaign": draw(values), "page": draw(values)}  # fmt: skip
        message = {"type": draw(st.sampled_from(["track", "page", "screen", "identify", "group", "alias"])),
                   "messageId": draw(st.text(min_size=1, max_size=12)), "anonymousId": "a-fuzz",
                   "event": draw(st.sampled_from(["Product Viewed", "Product Added", "Order Completed", "X"])),
                   "timestamp": stamp, "properties": draw(hostile_props), "traits": draw(values),
                   "context": context}  # fmt: skip
        auth = "Basic " + base64.b64encode(f"{write_key}:".encode()).decode()
        body = json.dumps({"batch": [message]}).encode()
        return Hostile("POST", "/v1/batch", body, (("Authorization", auth), ("Content-Type", "application/json")))

    return native() | segment() | pixel() | raw() | nearly_valid()


def generate_corpus(write_key: str) -> list[Hostile]:
    drawn: list[Hostile] = []

    @settings(
        max_examples=DISTINCT_REQUESTS,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(corpus_strategy(write_key))
    def collect(request: Hostile) -> None:
        drawn.append(request)

    collect()
    return drawn + heavy_requests(write_key)


def heavy_requests(write_key: str) -> list[Hostile]:
    """Rare big cases, built by hand: hypothesis keeps examples small."""
    envelope = {"write_key": write_key, "visitor_id": "v", "events": []}
    bomb = gzip.compress(json.dumps(envelope).encode()[:-2] + b'"' + b"0" * 20_000_000 + b'"]}', mtime=0)
    too_many = {**envelope, "events": [{"id": f"e{i}", "type": "pageview"} for i in range(600)]}
    return [
        Hostile("POST", "/collect", b'{"write_key":"x","events":[' + b'"x",' * 40_000 + b'"x"]}'),
        Hostile("POST", "/v1/batch", b'{"batch":[' + b"{}," * 250_000 + b"{}]}"),
        Hostile("POST", "/collect", bomb, (("Content-Encoding", "gzip"),)),
        Hostile("POST", "/v1/batch", bomb, (("Content-Encoding", "gzip"),)),
        Hostile("POST", "/collect", json.dumps(too_many).encode()),
        Hostile("POST", "/collect", b"[" * 200_000 + b"]" * 200_000),
    ]


def valid_batch(write_key: str, n: int) -> Hostile:
    now = int(time.time() * 1000)
    events = [{"id": f"ok-{n}-{i}", "type": "pageview", "ts": now, "url": f"https://shop.test/{i}"} for i in range(2)]
    body = json.dumps({"write_key": write_key, "visitor_id": f"fuzz-ok-{n % 7}", "events": events}).encode()
    return Hostile("POST", "/collect", body, (("Content-Type", "text/plain"),))


@dataclass(frozen=True)
class Reply:
    status: int
    content_type: str
    body: bytes


def wire(request: Hostile) -> bytes:
    """The request as HTTP/1.1 bytes, encoded once: the corpus is replayed many times."""
    target = request.path + ("?" + urlencode(request.params) if request.params else "")
    # A browser's agent and language, so the valid batches are not taken for bots.
    headers = {"Host": "127.0.0.1", "User-Agent": BROWSER_UA, "Accept-Language": "en", **dict(request.headers)}
    if request.method == "POST":
        headers["Content-Length"] = str(len(request.body))
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    return f"{request.method} {target} HTTP/1.1\r\n{head}\r\n".encode("latin-1") + request.body


async def exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, raw: bytes) -> tuple[Reply, bool]:
    """One request on a keep-alive connection; also says whether the server will close it."""
    writer.write(raw)
    await writer.drain()
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").lower()
    fields = dict(line.split(": ", 1) for line in head.split("\r\n")[1:] if ": " in line)
    body = await reader.readexactly(int(fields.get("content-length", "0")))
    return Reply(int(head[9:12]), fields.get("content-type", ""), body), fields.get("connection") == "close"


def check(request: Hostile, reply: Reply, valid: bool, tally: Tally) -> None:
    tally.statuses[reply.status] += 1
    what = f"{request.method} {request.path} {request.body[:80]!r} {request.params[:3]} -> {reply.status}"
    if reply.status >= 500:
        tally.failures.append(f"{what} {reply.body[:200]!r}")
    elif valid:
        if reply.status != 200 or json.loads(reply.body).get("accepted") != 2:
            tally.failures.append(f"valid batch refused: {what} {reply.body[:200]!r}")
        else:
            tally.valid_events += 2
    elif reply.status >= 400:
        if request.path == "/pixel.gif":
            ok = reply.content_type == "image/gif"
        else:
            ok = reply.content_type == "application/json" and "error" in json.loads(reply.body)
        if not ok:
            tally.failures.append(f"4xx without a machine-readable error: {what} {reply.body[:200]!r}")


async def fire(port: int, plan: list[tuple[Hostile, bytes, bool]], tally: Tally) -> None:
    """CONCURRENCY keep-alive connections drain one queue. A bare HTTP/1.1 client rather than httpx: httpx's pool
    cost several times the ingest's own CPU per request here, so it measured the client, not the service."""
    queue = iter(plan)

    async def worker() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for request, raw, valid in queue:
                try:
                    reply, closing = await exchange(reader, writer, raw)
                except (ConnectionError, asyncio.IncompleteReadError) as exc:
                    # Only a body over the limit may be cut off (the 413 can race the upload); anything else failed.
                    if len(request.body) <= MAX_UNREAD_BODY:
                        tally.failures.append(f"connection lost: {request.method} {request.path} {exc!r}")
                    tally.statuses[0] += 1
                    reply, closing = None, True
                if reply is not None:
                    check(request, reply, valid, tally)
                if closing:
                    writer.close()
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
        finally:
            writer.close()

    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))


@pytest.mark.fuzz
def test_fuzz_100k_hostile_requests_never_5xx_crash_or_grow_memory(stack: RunningStack) -> None:
    started = time.monotonic()
    site = stack.create_site("fuzz")
    valid_site = stack.create_site("fuzz-valid")
    # The whole flood comes from one address: lift the rate limits so it reaches the decoders, not the 429 path.
    for limited in (site, valid_site):
        stack.clickpulse("site", "rules", limited["site_id"], "--rate-limit", "-1", "--ip-rate-limit", "-1")
    corpus = generate_corpus(site["write_key"])
    encoded = [wire(request) for request in corpus]
    plan: list[tuple[Hostile, bytes, bool]] = []
    for n in range(TOTAL_REQUESTS):
        if n % VALID_EVERY == 0:
            valid = valid_batch(valid_site["write_key"], n)
            plan.append((valid, wire(valid), True))
        else:
            plan.append((corpus[n % len(corpus)], encoded[n % len(corpus)], False))
    ingest_pid = stack.pids()["ingest"]
    ingest = psutil.Process(ingest_pid)

    tally = Tally()
    generated = time.monotonic()
    asyncio.run(fire(stack.settings.ingest_port, plan[:WARM_UP_REQUESTS], tally))
    rss_warm = ingest.memory_info().rss
    asyncio.run(fire(stack.settings.ingest_port, plan[WARM_UP_REQUESTS:], tally))
    elapsed = time.monotonic() - generated
    rss_after = ingest.memory_info().rss
    statuses = dict(sorted(tally.statuses.items()))
    print(
        f"fuzz: {TOTAL_REQUESTS} requests ({len(corpus)} distinct, generated in {generated - started:.1f}s)"
        f" sent in {elapsed:.1f}s = {TOTAL_REQUESTS / elapsed:.0f}/s;"
        f" ingest RSS {rss_warm / 2**20:.1f} -> {rss_after / 2**20:.1f} MiB; statuses {statuses}"
    )

    assert not [status for status in statuses if status >= 500], statuses
    distinct_failures = list(dict.fromkeys(tally.failures))
    assert distinct_failures == [], f"{len(tally.failures)} failures:\n" + "\n".join(distinct_failures[:20])
    assert sum(tally.statuses.values()) == TOTAL_REQUESTS
    assert stack.pids()["ingest"] == ingest_pid and pid_alive(ingest_pid), "the ingest process died and was restarted"
    assert httpx.get(f"{stack.ingest}/healthz").json() == {"status": "ok"}
    assert rss_after - rss_warm <= RSS_GROWTH_LIMIT, f"ingest RSS grew {(rss_after - rss_warm) / 2**20:.1f} MiB"
    # Every valid event mixed into the flood reaches /stats, once.
    stats = stack.wait_for_stats(valid_site, {"pageviews": tally.valid_events}, timeout_s=120)
    assert stats["pageviews"] == tally.valid_events == 2 * TOTAL_REQUESTS // VALID_EVERY
