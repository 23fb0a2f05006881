"""The query API and dashboard (FastAPI, OpenAPI at /docs). In embedded-chDB mode it also runs the loader."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import redis.asyncio as aioredis
from fastapi import Depends, FastAPI, Query, Request
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse
from fastapi.security import HTTPBearer
from redis.exceptions import RedisError
from starlette.responses import StreamingResponse

from api.answers import (
    CustomerErased,
    CustomerHistory,
    IntentPage,
    Realtime,
    Stats,
    VisitorErased,
    refusals,
)
from api.auth import ReadKeyAuth
from api.errors import ApiError, install_error_answers
from api.intent_feed import MAX_LIMIT, BadCursor, IntentFeed
from api.queries import StatsQueries
from api.readiness import readiness
from api.realtime import RealtimeReader
from api.time_range import time_range
from clickhouse.client import connect
from clickhouse.erasures import erase_customer, erase_visitors
from clickhouse.loader import Loader
from clickhouse.loader_probes import loader_metrics
from clickhouse.migrate import apply_migrations
from clickpulse import live_keys as keys
from clickpulse.prometheus_text import CONTENT_TYPE
from clickpulse.records import Erasure
from clickpulse.settings import Settings
from clickpulse.sites import SiteRegistry
from clickpulse.worker_erasures import tell_workers

log = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "static"
LIVE_PUSH_EVERY_S = 1.0
# Declares the read key on the OpenAPI page (its Authorize button); ReadKeyAuth checks it.
READ_KEY = Depends(HTTPBearer(auto_error=False, description="the site's read key, `rk_…`"))


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
    redis = aioredis.Redis.from_url(settings.redis_url)
    registry = SiteRegistry(redis)
    auth = ReadKeyAuth(registry)
    realtime = RealtimeReader(redis)
    warehouse = Warehouse()
    embedded = settings.effective_clickhouse_dsn.startswith("chdb:")
    with_loader = embedded if run_loader is None else run_loader

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        client = connect(settings)
        await asyncio.to_thread(apply_migrations, client, settings.clickhouse_database)
        warehouse.queries = StatsQueries(client, settings.clickhouse_database)
        warehouse.intent = IntentFeed(client, settings.clickhouse_database)
        stop = asyncio.Event()
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
            if loader_task:
                loader_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await loader_task
            await redis.aclose()
            # An open chDB handle keeps the embedded engine, and a process can hold one engine path only.
            for each in clients:
                each.close()

    app = FastAPI(
        title="Clickpulse API",
        version="0.1.0",
        description="Query API, live state and purchase-intent feed. Authenticate with `Bearer <read key>`.",
        lifespan=lifespan,
    )

    install_error_answers(app)

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
        frm: str | None = Query(
            None, alias="from", description="date, ISO time or epoch ms; default 7 days before `to`"
        ),
        to: str | None = Query(None, description="date, ISO time or epoch ms; default now"),
        include_bots: bool = Query(False, description="count the visitors and sessions flagged as bots too"),
    ) -> dict[str, object]:
        """Page views, visitors, sessions, bounce rate and average session length in a time range."""
        await auth.site(request, site_id)
        start, end = time_range(frm, to)
        queries = warehouse.opened_queries()
        return await asyncio.to_thread(queries.stats, site_id, start, end, include_bots)

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
        Pages never repeat or skip a signal, even while new ones arrive."""
        await auth.site(request, site_id)
        feed = warehouse.opened_intent()
        try:
            return await asyncio.to_thread(feed.page, site_id, cursor, limit)
        except BadCursor as exc:
            raise ApiError(400, "bad_cursor", str(exc)) from None

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
        limit: int = Query(100, ge=1, le=500, description="most recent sessions listed"),
    ) -> dict[str, object]:
        """A customer's history on every device they identified on, including the sessions those devices had
        before they identified (attributed through identity links): totals, and the most recent sessions."""
        await auth.site(request, site_id)
        refuse_empty(customer_id, "customer")
        queries = warehouse.opened_queries()
        return await asyncio.to_thread(queries.customer_history, site_id, customer_id, limit)

    @app.delete(
        "/v1/sites/{site_id}/visitors/{visitor_id:path}",
        tags=["privacy"],
        status_code=202,
        response_model=VisitorErased,
        responses=refusals(400),
        dependencies=[READ_KEY],
    )
    async def forget_visitor(request: Request, site_id: str, visitor_id: str) -> dict[str, object]:
        """Forget a visitor: events, sessions, signals and identity links are deleted, also those still on their
        way through Kafka, and the stream workers drop their state and live presence within a second."""
        await auth.site(request, site_id)
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
        responses=refusals(400),
        dependencies=[READ_KEY],
    )
    async def forget_customer(request: Request, site_id: str, customer_id: str) -> dict[str, object]:
        """Forget a customer: every visitor identified as them (by an identify, or on an event or session the
        warehouse holds) is forgotten as DELETE /v1/sites/{site_id}/visitors/{visitor_id} does. A visitor whom a
        record still on its way through Kafka links to them is forgotten in the warehouse when it arrives."""
        await auth.site(request, site_id)
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
        },
        dependencies=[READ_KEY],
        openapi_extra={
            "parameters": [
                {
                    "name": "key",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "string"},
                    "description": "the read key, for a browser's EventSource, which cannot send a header",
                }
            ]
        },
    )
    async def live(request: Request, site_id: str) -> StreamingResponse:
        """Server-sent events: a realtime snapshot whenever new events arrive (at most once a second). The read
        key may come as ?key=, since a browser's EventSource cannot send an Authorization header. The stream ends
        once the key is revoked (within the key check's cache time), and the browser's reconnect is refused."""
        await auth.site(request, site_id, key_in_query=True)

        async def stream() -> AsyncIterator[bytes]:
            pubsub = redis.pubsub()
            try:
                await pubsub.subscribe(keys.updates_channel(site_id))
                while not await request.is_disconnected():
                    try:
                        await auth.site(request, site_id, key_in_query=True)
                    except ApiError:
                        return
                    yield b"data: " + orjson.dumps(await realtime.snapshot(site_id)) + b"\n\n"
                    await pubsub.get_message(ignore_subscribe_messages=True, timeout=5.0)
                    await asyncio.sleep(LIVE_PUSH_EVERY_S)
                    while await pubsub.get_message(ignore_subscribe_messages=True, timeout=0):
                        pass
            # Redis went away with the response begun: end the stream as a stream ends, and the browser reconnects.
            # Raised on, it was a traceback in the log and a broken chunked body in the browser.
            except RedisError:
                return
            finally:
                with contextlib.suppress(RedisError):
                    await pubsub.aclose()

        return StreamingResponse(stream(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})

    @app.get("/", include_in_schema=False)
    async def dashboard() -> FileResponse:
        return FileResponse(STATIC / "dashboard.html", headers={"Cache-Control": "no-cache"})

    return app
