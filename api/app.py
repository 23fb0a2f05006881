"""The query API and dashboard (FastAPI, OpenAPI at /docs). In embedded-chDB mode it also runs the loader."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated

import orjson
from fastapi import Depends, FastAPI, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse
from fastapi.security import HTTPBearer
from redis.exceptions import RedisError
from starlette.responses import StreamingResponse

from api.answers import (
    Breakdown,
    CustomerErased,
    CustomerHistory,
    Funnel,
    IntentPage,
    Realtime,
    Retention,
    Stats,
    VisitorErased,
    WebhookStatus,
    refusals,
)
from api.auth import SiteKeyAuth
from api.breakdowns import DEFAULT_ROWS, MAX_ROWS, breakdown
from api.browser_policy import EveryAnswerHeaders, page_policy
from api.cursors import BadCursor
from api.docs_pages import install_docs_pages
from api.errors import ApiError, install_error_answers
from api.funnels import DEFAULT_WINDOW, funnel
from api.intent_feed import MAX_LIMIT, IntentFeed
from api.intent_partition_ends import PartitionEnds
from api.live_updates import LiveUpdates
from api.queries import StatsQueries
from api.readiness import readiness
from api.realtime import RealtimeReader
from api.retention import DEFAULT_PERIODS, MAX_PERIODS, Period, retention
from api.time_range import time_range, utc_iso_ms
from api.webhooks import DeliveryStatus, WebhookPusher, delivery_status
from clickhouse.client import connect
from clickhouse.erasures import erase_customer, erase_visitors
from clickhouse.loader import Loader
from clickhouse.loader_probes import loader_metrics
from clickhouse.migrate import apply_migrations
from clickhouse.retention import apply_retention
from clickpulse.prometheus_text import CONTENT_TYPE
from clickpulse.records import INTENT_TOPIC, Erasure
from clickpulse.redis_pool import request_serving_redis
from clickpulse.settings import Settings
from clickpulse.sites import SiteRegistry
from clickpulse.worker_erasures import tell_workers

log = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "static"
LIVE_PUSH_EVERY_S = 1.0
# A snapshot at least this often without changes: its active visitors and minutes move on by themselves.
LIVE_QUIET_S = 5.0
STEPS = "2 to 10, in order: a page path (`/cart`; `/product/*` for a prefix) or an event type (`purchase`)"
# Declare the keys on the OpenAPI page (its Authorize button); SiteKeyAuth checks them.
READ_KEY = Depends(HTTPBearer(auto_error=False, description="the site's read key, `rk_…`"))
ADMIN_KEY = Depends(HTTPBearer(auto_error=False, scheme_name="AdminKey", description="the site's admin key, `ak_…`"))
# The time range and the bot filter of every route that answers figures.
From = Annotated[str | None, Query(alias="from", description="date, ISO time or epoch ms; default 7 days before `to`")]
To = Annotated[str | None, Query(description="date, ISO time or epoch ms; default now")]
IncludeBots = Annotated[bool, Query(description="count the visitors and sessions flagged as bots too")]


def refuse_empty(record_id: str, what: str) -> None:
    """An empty id (a client's unset variable) is no one's: the warehouse stores '' as "no customer", so it named
    every anonymous visitor, and erasing it erased them all."""
    if not record_id:
        raise ApiError(400, "empty_id", f"the {what} id is empty: /{what}s/ needs an id after it")


class Warehouse:
    """ClickHouse as the lifespan opened it: its queries, the intent feed and, in chDB mode, the embedded loader."""

    queries: StatsQueries | None = None
    intent: IntentFeed | None = None
    loader: Loader | None = None

    def opened_queries(self) -> StatsQueries:
        assert self.queries is not None, "the lifespan opens ClickHouse before any request"
        return self.queries

    def opened_intent(self) -> IntentFeed:
        assert self.intent is not None, "the lifespan opens ClickHouse before any request"
        return self.intent


def create_app(settings: Settings, *, run_loader: bool | None = None) -> FastAPI:
    redis = request_serving_redis(settings.redis_url)
    registry = SiteRegistry(redis)
    auth = SiteKeyAuth(registry, settings.api_key_cache_s)
    realtime = RealtimeReader(redis)
    live_updates = LiveUpdates(redis)
    warehouse = Warehouse()
    embedded = settings.effective_clickhouse_dsn.startswith("chdb:")
    with_loader = embedded if run_loader is None else run_loader

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        client = connect(settings)
        await asyncio.to_thread(apply_migrations, client, settings.clickhouse_database)
        await asyncio.to_thread(apply_retention, client, settings.clickhouse_database, settings.retention_days)
        warehouse.queries = StatsQueries(client, settings.clickhouse_database)
        partition_ends = PartitionEnds(settings.kafka_bootstrap, settings.topic(INTENT_TOPIC))
        warehouse.intent = IntentFeed(client, settings.clickhouse_database, partition_ends)
        stop = asyncio.Event()
        webhooks_task = asyncio.create_task(WebhookPusher(registry, redis, warehouse.intent).run(stop))
        updates_task = asyncio.create_task(live_updates.run(stop))
        loader_task = None
        clients = [client]
        if with_loader:
            clients.append(connect(settings))
            warehouse.loader = Loader(settings, clients[-1])
            loader_task = asyncio.create_task(warehouse.loader.run(stop))
        try:
            yield
        finally:
            stop.set()
            for task in (webhooks_task, updates_task, loader_task):
                if task:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
            await redis.aclose()
            # An open chDB handle keeps the embedded engine, and a process can hold one engine path only.
            for each in clients:
                each.close()

    app = FastAPI(
        title="Clickpulse API",
        version="0.1.0",
        description="Query API, live state and purchase-intent feed. Authenticate with `Bearer <read key>`.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        # A path with a trailing slash is 404, not a redirect: the redirect's address took its host from the
        # request's Host header, so a cache in front could be made to send visitors elsewhere.
        redirect_slashes=False,
    )

    install_error_answers(app)
    app.add_middleware(EveryAnswerHeaders)
    install_docs_pages(app)

    @app.get("/healthz", tags=["operations"])
    async def healthz() -> dict[str, object]:
        """Liveness: the process serves. It asks no dependency."""
        return {"status": "ok", "loaded_rows": warehouse.loader.loaded if warehouse.loader else None}

    @app.get("/readyz", tags=["operations"])
    async def readyz() -> JSONResponse:
        """Readiness: 200 when ClickHouse and Redis answer, else 503 saying which does not."""
        answer = await readiness(warehouse.queries.client if warehouse.queries else None, redis)
        return JSONResponse(answer, status_code=200 if answer["ready"] else 503)

    if with_loader:

        @app.get("/metrics", tags=["operations"])
        async def metrics() -> PlainTextResponse:
            """The embedded loader's metrics (Prometheus text), as `clickpulse loader` serves them in server mode."""
            text = loader_metrics(warehouse.loader) if warehouse.loader else ""
            return PlainTextResponse(text, media_type=CONTENT_TYPE)

    @app.get(
        "/v1/sites/{site_id}/stats",
        tags=["query"],
        response_model=Stats,
        responses=refusals(400),
        dependencies=[READ_KEY],
    )
    async def stats(
        request: Request,
        site_id: str,
        frm: From = None,
        to: To = None,
        include_bots: IncludeBots = False,
    ) -> dict[str, object]:
        """Page views, visitors, sessions, bounce rate and average session length in a time range."""
        await auth.site(request, site_id)
        start, end = time_range(frm, to)
        queries = warehouse.opened_queries()
        return await asyncio.to_thread(queries.stats, site_id, start, end, include_bots)

    @app.get(
        "/v1/sites/{site_id}/breakdown/{dimension}",
        tags=["query"],
        response_model=Breakdown,
        responses=refusals(400),
        dependencies=[READ_KEY],
    )
    async def breakdown_by(
        request: Request,
        site_id: str,
        dimension: str,
        frm: From = None,
        to: To = None,
        limit: int = Query(DEFAULT_ROWS, ge=1, le=MAX_ROWS, description="values listed; the rest summed as `other`"),
        include_bots: IncludeBots = False,
    ) -> dict[str, object]:
        """Where visitors came from (channel, source, medium, campaign), where they entered and left (entry_page,
        exit_page), where they are and what they use (country, device, browser, os): sessions and their figures per
        value, sorted by visitors. Pages (page) by page views; products (product) by views, carts and purchases.
        Another dimension is 400 bad_dimension, naming them all."""
        await auth.site(request, site_id)
        start, end = time_range(frm, to)
        client, db = warehouse.opened_queries().client, settings.clickhouse_database
        return await asyncio.to_thread(breakdown, client, db, site_id, dimension, start, end, limit, include_bots)

    @app.get(
        "/v1/sites/{site_id}/funnel",
        tags=["query"],
        response_model=Funnel,
        responses=refusals(400),
        dependencies=[READ_KEY],
    )
    async def funnel_of(
        request: Request,
        site_id: str,
        step: Annotated[list[str] | None, Query(description=STEPS)] = None,
        window: str = Query(DEFAULT_WINDOW, description="from a visitor's first step: seconds, or 30m, 12h, 7d"),
        frm: From = None,
        to: To = None,
        include_bots: IncludeBots = False,
    ) -> dict[str, object]:
        """Visitors who went through the steps in order, each within the window of their first step, and the
        share of each step's visitors who went on to the next."""
        await auth.site(request, site_id)
        start, end = time_range(frm, to)
        client, db = warehouse.opened_queries().client, settings.clickhouse_database
        return await asyncio.to_thread(funnel, client, db, site_id, step or [], window, start, end, include_bots)

    @app.get(
        "/v1/sites/{site_id}/retention",
        tags=["query"],
        response_model=Retention,
        responses=refusals(400),
        dependencies=[READ_KEY],
    )
    async def retention_of(
        request: Request,
        site_id: str,
        period: Annotated[Period, Query(description="cohorts and periods by `day` or `week` (from Monday)")] = "week",
        periods: int = Query(DEFAULT_PERIODS, ge=1, le=MAX_PERIODS, description="periods followed from the first"),
        frm: From = None,
        to: To = None,
        include_bots: IncludeBots = False,
    ) -> dict[str, object]:
        """Cohorts of the visitors whose first session ever started in the range, by the day or week it started,
        and how many of each came back in each day or week after it (a visitor is a browser: one person on two
        devices is two)."""
        await auth.site(request, site_id)
        start, end = time_range(frm, to)
        client, db = warehouse.opened_queries().client, settings.clickhouse_database
        now = dt.datetime.now(dt.UTC)
        return await asyncio.to_thread(retention, client, db, site_id, period, periods, start, end, include_bots, now)

    @app.get(
        "/v1/sites/{site_id}/intent",
        tags=["crm"],
        response_model=IntentPage,
        responses=refusals(400),
        dependencies=[READ_KEY],
    )
    async def intent_signals(
        request: Request,
        site_id: str,
        cursor: str | None = Query(None, description="next_cursor of the previous page; omit to start"),
        limit: int = Query(100, ge=1, le=MAX_LIMIT),
    ) -> dict[str, object]:
        """Purchase-intent signals (high_intent, abandoned_cart, returning_customer) with reasons.
        Pages never repeat or skip a signal, even while new ones arrive. A cursor past where the feed's data ends
        (the data was reset, or the cursor made by hand) reads the feed again from its start and says so:
        cursor_reset is true."""
        await auth.site(request, site_id)
        feed = warehouse.opened_intent()
        try:
            return await asyncio.to_thread(feed.page, site_id, cursor, limit)
        except BadCursor as exc:
            raise ApiError(400, "bad_cursor", str(exc)) from None

    @app.get(
        "/v1/sites/{site_id}/webhook",
        tags=["crm"],
        response_model=WebhookStatus,
        responses=refusals(key="admin"),
        dependencies=[ADMIN_KEY],
    )
    async def webhook_status(request: Request, site_id: str) -> dict[str, object]:
        """How the site's signed webhook pushes go: signals delivered, the last success, the last failure and why,
        and the failures since the last success. Takes the site's admin key, as the URL may hold a CRM's token."""
        await auth.site(request, site_id, kind="admin")
        site = await registry.get(site_id)  # the webhook as it is now, not as the key check cached it
        url = site.webhook_url if site else ""
        status = await delivery_status(redis, site) if site and url else DeliveryStatus()
        return {
            "site_id": site_id,
            "url": url or None,
            "delivered_signals": status.delivered_signals,
            "last_success": utc_iso_ms(status.last_success_at) if status.last_success_at else None,
            "last_failure": utc_iso_ms(status.last_failure_at) if status.last_failure_at else None,
            "last_failure_reason": status.last_failure or None,
            "failures_since_success": status.failures_since_success,
        }

    # Ids are the client's (a CRM's, a Segment SDK's) and may hold a "/": sent as %2F, the router sees it decoded,
    # so the id is the rest of the path.
    @app.get(
        "/v1/sites/{site_id}/customers/{customer_id:path}",
        tags=["crm"],
        response_model=CustomerHistory,
        responses=refusals(400),
        dependencies=[READ_KEY],
    )
    async def customer_history(
        request: Request,
        site_id: str,
        customer_id: str,
        limit: int = Query(100, ge=1, le=500, description="sessions listed on a page"),
        cursor: str | None = Query(None, description="next_cursor of the previous page; omit for the newest"),
    ) -> dict[str, object]:
        """A customer's history on every device they identified on, including the sessions those devices had
        before they identified (attributed through identity links): totals, and their sessions, newest first, a
        page at a time. Pages never repeat or skip a session, even while new ones start."""
        await auth.site(request, site_id)
        refuse_empty(customer_id, "customer")
        queries = warehouse.opened_queries()
        try:
            return await asyncio.to_thread(queries.customer_history, site_id, customer_id, limit, cursor)
        except BadCursor as exc:
            raise ApiError(400, "bad_cursor", str(exc)) from None

    @app.delete(
        "/v1/sites/{site_id}/visitors/{visitor_id:path}",
        tags=["privacy"],
        status_code=202,
        response_model=VisitorErased,
        responses=refusals(400, key="admin"),
        dependencies=[ADMIN_KEY],
    )
    async def forget_visitor(request: Request, site_id: str, visitor_id: str) -> dict[str, object]:
        """Forget a visitor: events, sessions, signals and identity links are deleted, also those still on their
        way through Kafka, and the stream workers drop their state and live presence within a second. Takes the
        site's admin key."""
        await auth.site(request, site_id, kind="admin")
        refuse_empty(visitor_id, "visitor")
        queries = warehouse.opened_queries()
        requested_at = int(time.time() * 1000)
        db = settings.clickhouse_database
        await asyncio.to_thread(erase_visitors, queries.client, db, site_id, [visitor_id], requested_at)
        await tell_workers(settings, [Erasure(site_id=site_id, visitor_id=visitor_id, requested_at=requested_at)])
        return {"site_id": site_id, "visitor_id": visitor_id, "erased": True}

    @app.delete(
        "/v1/sites/{site_id}/customers/{customer_id:path}",
        tags=["privacy"],
        status_code=202,
        response_model=CustomerErased,
        responses=refusals(400, key="admin"),
        dependencies=[ADMIN_KEY],
    )
    async def forget_customer(request: Request, site_id: str, customer_id: str) -> dict[str, object]:
        """Forget a customer: every visitor identified as them (by an identify, or on an event or session the
        warehouse holds) is forgotten as DELETE /v1/sites/{site_id}/visitors/{visitor_id} does. A visitor whom a
        record still on its way through Kafka links to them is forgotten in the warehouse when it arrives. Takes
        the site's admin key."""
        await auth.site(request, site_id, kind="admin")
        refuse_empty(customer_id, "customer")
        queries = warehouse.opened_queries()
        requested_at = int(time.time() * 1000)
        db = settings.clickhouse_database
        visitors = await asyncio.to_thread(erase_customer, queries.client, db, site_id, customer_id, requested_at)
        await tell_workers(
            settings, [Erasure(site_id=site_id, visitor_id=visitor, requested_at=requested_at) for visitor in visitors]
        )
        return {"site_id": site_id, "customer_id": customer_id, "visitors": visitors, "erased": True}

    @app.get(
        "/v1/sites/{site_id}/realtime",
        tags=["live"],
        response_model=Realtime,
        responses=refusals(),
        dependencies=[READ_KEY],
    )
    async def realtime_now(request: Request, site_id: str) -> dict[str, object]:
        """Active visitors (last 5 minutes), page views per minute and top pages/products (last 30 minutes)."""
        await auth.site(request, site_id)
        return await realtime.snapshot(site_id)

    @app.get(
        "/v1/sites/{site_id}/live",
        tags=["live"],
        response_class=StreamingResponse,
        responses={
            200: {
                "description": "`data: <the /realtime snapshot as JSON>` events",
                "content": {"text/event-stream": {"schema": {"type": "string"}}},
            },
            **refusals(),
            401: {
                **refusals()[401],
                "description": "`missing_read_key`: no `Authorization: Bearer <read key>`; `key_in_url`: a `?key=`",
            },
        },
        dependencies=[READ_KEY],
    )
    async def live(request: Request, site_id: str) -> StreamingResponse:
        """Server-sent events: a realtime snapshot whenever new events arrive (at most once a second). The read
        key comes as `Authorization: Bearer`, like everywhere else: read the stream with fetch(), since a browser's
        EventSource cannot send that header. A `?key=` is refused, even with the header: URLs end up in proxies' and
        CDNs' logs. The stream ends once the key is revoked (within the key check's cache time)."""
        # Refused rather than ignored: a client that still sends it learns why its stream stopped, and stops leaking.
        if "key" in request.query_params:
            raise ApiError(
                401,
                "key_in_url",
                "/live no longer takes the read key as ?key= (URLs end up in proxies' logs): send only "
                "Authorization: Bearer <read key>, reading the stream with fetch() rather than EventSource",
            )
        await auth.site(request, site_id)

        async def stream() -> AsyncIterator[bytes]:
            try:
                with live_updates.watch(site_id) as changed:
                    while not await request.is_disconnected():
                        try:
                            await auth.site(request, site_id)
                        except ApiError:
                            return
                        changed.clear()  # a change from here on brings the next snapshot
                        yield b"data: " + orjson.dumps(await realtime.snapshot(site_id)) + b"\n\n"
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(changed.wait(), LIVE_QUIET_S)
                        await asyncio.sleep(LIVE_PUSH_EVERY_S)
            # Redis went away with the response begun: end the stream as a stream ends, and the browser reconnects.
            # Raised on, it was a traceback in the log and a broken chunked body in the browser.
            except RedisError:
                return

        return StreamingResponse(stream(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})

    # The page as read here, not the file at each request: its policy allows the script and style of this text by
    # their hashes, so a page edited while the API runs would have its script refused.
    dashboard_page = (STATIC / "dashboard.html").read_text()
    dashboard_headers = {"Cache-Control": "no-cache", "Content-Security-Policy": page_policy(dashboard_page)}

    @app.get("/", include_in_schema=False)
    async def dashboard() -> HTMLResponse:
        return HTMLResponse(dashboard_page, headers=dashboard_headers)

    return app
