"""The collector's HTTP surface: beacon batches, Segment's Tracking API, the pixel, the script, health."""

from __future__ import annotations

import base64
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route, Router
from starlette.types import Receive, Scope, Send

from clickpulse.garbage_collection import freeze_start_up_objects
from clickpulse.log_format import logging_config
from clickpulse.redis_pool import request_serving_redis
from clickpulse.settings import Settings
from clickpulse.sites import Site
from ingest.body import SlowBodyGuard, decode_json, read_limited
from ingest.collector import Collector
from ingest.http_protocol import protocol_with_head_deadline
from ingest.incoming import IncomingEvent
from ingest.metrics import Metrics
from ingest.native_batch import decode_native
from ingest.rejection import EventRejected, RequestRejected
from ingest.request_context import plain_headers
from ingest.segment_api import decode_segment, write_key_from
from ingest.sink import EventSink, Outcome
from ingest.site_cache import SiteCache
from ingest.spool import SpoolRefused
from ingest.tracker_script import TrackerScript
from ingest.tracking_preference import asks_not_to_be_tracked

log = logging.getLogger(__name__)
PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")


def _json(status: int, body: dict[str, object], headers: dict[str, str] | None = None) -> Response:
    return Response(msgspec.json.encode(body), status_code=status, headers=headers, media_type="application/json")


def _rejection(exc: RequestRejected, headers: dict[str, str] | None = None) -> Response:
    extra = dict(headers or {})
    if exc.retry_after is not None:
        extra["Retry-After"] = str(exc.retry_after)
    if exc.status == 408:  # the rest of a late body must not be read as the connection's next request
        extra["Connection"] = "close"
    return _json(exc.status, {"error": exc.reason, "detail": exc.detail}, extra)


class JsonRoute(Route):
    """A route whose wrong-method answer is JSON with an `error`, like every other refusal: the bare Router's
    routes answer it in plain text. Its Allow lists the methods of every route of its path (allow_per_path)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.allowed = ", ".join(sorted(self.methods or ()))

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.methods and scope["method"] not in self.methods:
            allowed = self.allowed
            response = _json(405, {"error": "method_not_allowed", "detail": f"use {allowed}"}, {"Allow": allowed})
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def allow_per_path(routes: list[JsonRoute]) -> None:
    """A path served by several routes (POST and its CORS preflight) answers a wrong method with all their methods:
    the router hands it to the first route of the path, which knows only its own."""
    methods: dict[str, set[str]] = {}
    for route in routes:
        methods.setdefault(route.path, set()).update(route.methods or ())
    for route in routes:
        route.allowed = ", ".join(sorted(methods[route.path]))


async def not_found(scope: Scope, receive: Receive, send: Send) -> None:
    detail = f"no endpoint {scope['path'][:200]}"
    await _json(404, {"error": "not_found", "detail": detail})(scope, receive, send)


def create_app(settings: Settings) -> Router:
    metrics = Metrics()
    redis = request_serving_redis(settings.redis_url)
    cache = SiteCache(redis)
    sink = EventSink(settings, metrics)
    collector = Collector(settings, cache, metrics, redis)
    script = TrackerScript()
    slow_bodies = SlowBodyGuard(settings.body_timeout_s)

    def cors(headers: Mapping[str, str]) -> dict[str, str]:
        origin = headers.get("origin")
        return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"} if origin else {}

    async def respond(
        headers: Mapping[str, str],
        ip: str,
        site: Site,
        events: list[IncomingEvent],
        bad: list[EventRejected],
        endpoint: str,
    ) -> Response:
        answer_headers = cors(headers)
        records, accepted, reasons = collector.records_for(headers, ip, site, events, bad, endpoint)
        try:
            outcome = await sink.publish(records)
        except SpoolRefused as refused:
            return _json(503, {"error": refused.reason}, {**answer_headers, "Retry-After": "30"})
        metrics.inc("accepted_events", accepted)
        status = 200 if outcome is Outcome.PUBLISHED else 202
        if accepted == 0 and reasons:
            status = 400
        body: dict[str, object] = {"accepted": accepted, "rejected": len(reasons)}
        if status == 400:  # every 4xx carries one machine-readable `error`, like the whole-request rejections
            body["error"] = "all_events_rejected"
        if reasons:
            body["errors"] = sorted(set(reasons))[:10]
        return _json(status, body, answer_headers)

    async def collect(request: Request) -> Response:
        metrics.inc("requests_native")
        headers = plain_headers(request)
        try:
            body = await read_limited(request, headers, settings.max_body_bytes, slow_bodies)
            write_key, events, bad = decode_native(body, settings.max_events_per_batch)
            site = await collector.site_for(write_key)
            collector.check_origin(site, headers)
            ip = collector.ip_of(request, headers)
            await collector.admit(site, ip, len(events) + len(bad))
        except RequestRejected as exc:
            metrics.reject(exc.reason)
            return _rejection(exc, cors(headers))
        return await respond(headers, ip, site, events, bad, "collect")

    def segment(single_type: str | None) -> Callable[[Request], Awaitable[Response]]:
        async def handler(request: Request) -> Response:
            metrics.inc("requests_segment")
            headers = plain_headers(request)
            try:
                body = await read_limited(request, headers, settings.max_body_bytes * 8, slow_bodies)
                payload = decode_json(body)
                site = await collector.site_for(write_key_from(headers, payload))
                collector.check_origin(site, headers)
                events, bad = decode_segment(payload, single_type, settings.max_events_per_batch)
                ip = collector.ip_of(request, headers)
                await collector.admit(site, ip, len(events) + len(bad))
            except RequestRejected as exc:
                metrics.reject(exc.reason)
                return _rejection(exc, cors(headers))
            response = await respond(headers, ip, site, events, bad, f"segment_{single_type or 'batch'}")
            if response.status_code in (200, 202):
                return _json(200, {"success": True}, cors(headers))
            return response

        return handler

    async def pixel(request: Request) -> Response:
        """GET /pixel.gif?k=WRITE_KEY&id=EVENT_ID&u=URL&r=REFERRER&t=TITLE&v=VISITOR for no-script pages."""
        metrics.inc("requests_pixel")
        headers = plain_headers(request)
        q = request.query_params
        gif = {"Cache-Control": "no-store"}
        # The beacon sends nothing under DNT or GPC unless the visitor consented; a pixel cannot ask, so it never
        # counts such a browser.
        if asks_not_to_be_tracked(headers):
            metrics.leave_out("do_not_track")
            return Response(PIXEL, media_type="image/gif", headers=gif)
        try:
            site = await collector.site_for(q.get("k", ""))
            event = msgspec.convert(
                {
                    "id": q.get("id") or f"px-{time.time_ns()}",
                    "type": q.get("e", "pageview"),
                    "url": q.get("u") or headers.get("referer", ""),
                    "referrer": q.get("r", ""),
                    "title": q.get("t", ""),
                    "visitor_id": q.get("v") or None,
                },
                IncomingEvent,
            )
            collector.check_origin(site, headers, browsers_only=True)
            ip = collector.ip_of(request, headers)
            await collector.admit(site, ip, 1)
        except RequestRejected as exc:
            metrics.reject(exc.reason)
            return Response(PIXEL, status_code=exc.status, media_type="image/gif", headers=gif)
        except msgspec.ValidationError:
            metrics.reject("invalid_pixel")
            return Response(PIXEL, status_code=400, media_type="image/gif", headers=gif)
        response = await respond(headers, ip, site, [event], [], "pixel")
        return Response(PIXEL, status_code=response.status_code, media_type="image/gif", headers=gif)

    async def preflight(request: Request) -> Response:
        headers = {
            **cors(plain_headers(request)),
            "Access-Control-Allow-Methods": "POST, GET, OPTIONS",
            "Access-Control-Allow-Headers": "Content-Type, Authorization, Content-Encoding",
            "Access-Control-Max-Age": "86400",
        }
        return Response(status_code=204, headers=headers)

    async def healthz(request: Request) -> Response:
        return _json(200, {"status": "ok"})

    async def readyz(request: Request) -> Response:
        body = {"kafka": sink.ready, "spooled_bytes": sink.spool.size_bytes}
        return _json(200 if sink.ready else 503, body)

    async def metrics_page(request: Request) -> Response:
        gauges = {
            "spool_bytes": float(sink.spool.size_bytes),
            "in_doubt_batches": float(sink.in_doubt_batches),
            "kafka_up": float(sink.ready),
            "rate_limit_unchecked_requests": float(collector.limiter.unchecked),
            "rate_limit_redis_round_trips": float(collector.limiter.round_trips),
        }
        return PlainTextResponse(metrics.render(gauges))

    @contextlib.asynccontextmanager
    async def lifespan(app: Router) -> AsyncIterator[None]:
        await cache.start()
        await sink.start()
        freeze_start_up_objects()
        try:
            yield
        finally:
            await sink.stop()
            await cache.stop()
            await redis.aclose()

    routes = [
        JsonRoute("/collect", collect, methods=["POST"]),
        JsonRoute("/collect", preflight, methods=["OPTIONS"]),
        JsonRoute("/pixel.gif", pixel, methods=["GET"]),
        JsonRoute("/cp.js", script.latest, methods=["GET"]),
        JsonRoute("/cp/{version}.js", script.pinned, methods=["GET"]),
        JsonRoute("/healthz", healthz),
        JsonRoute("/readyz", readyz),
        JsonRoute("/metrics", metrics_page),
        JsonRoute("/v1/batch", segment(None), methods=["POST"]),
        JsonRoute("/v1/import", segment(None), methods=["POST"]),
    ]
    for kind in ("track", "page", "screen", "identify", "alias", "group"):
        routes.append(JsonRoute(f"/v1/{kind}", segment(kind), methods=["POST"]))
    routes += [JsonRoute(r.path, preflight, methods=["OPTIONS"]) for r in routes if r.path.startswith("/v1/")]
    allow_per_path(routes)
    # The bare router: Starlette's application adds two middleware layers per request for exception handlers this
    # service does not register; uvicorn already answers an unhandled exception with a logged 500.
    return Router(routes=routes, lifespan=lifespan, default=not_found)


def serve(app: Router, settings: Settings) -> None:
    """Run the collector under uvicorn until a signal stops it (the benchmark serves its no-op route this way)."""
    import uvicorn

    uvicorn.run(
        app,
        host=settings.ingest_host,
        port=settings.ingest_port,
        log_config=logging_config(settings.log_level),
        log_level=settings.log_level.lower(),
        access_log=False,
        # The client's address is ingest/client_ip.py's to find, from configured trusted proxies only:
        # uvicorn's own rewrite would trust any loopback peer's X-Forwarded-For.
        proxy_headers=False,
        http=protocol_with_head_deadline(settings.head_timeout_s),
        timeout_graceful_shutdown=10,
    )
