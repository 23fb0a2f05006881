"""The API's one error shape, `{"error": <machine-readable reason>, "detail": <for people>}`, for every 4xx and for
a 503 while Redis (read keys, live state), Kafka (erasures for the stream workers, where the intent feed ends) or a
ClickHouse server is unreachable."""

from __future__ import annotations

import logging

from aiokafka.errors import KafkaError
from clickhouse_connect.driver.exceptions import OperationalError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from redis.exceptions import RedisError
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.intent_partition_ends import PartitionEndsUnknown
from clickpulse.outage_log import OutageLog

log = logging.getLogger(__name__)
# Outages of Redis or Kafka are short: a client (the dashboard, a CRM's poller) should come back this soon.
RETRY_AFTER_S = 5


class ApiError(Exception):
    def __init__(self, status: int, error: str, detail: str = "") -> None:
        super().__init__(detail or error)
        self.status = status
        self.error = error
        self.detail = detail


def answer(status: int, error: str, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": error, "detail": detail}, status_code=status, headers=headers)


def install_error_answers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        # A 401 names the scheme to authenticate with (RFC 9110), as clients and proxies expect.
        return answer(exc.status, exc.error, exc.detail, {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None)

    @app.exception_handler(RequestValidationError)
    async def invalid_parameter(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in problem['loc'][1:])}: {problem['msg']}" for problem in exc.errors()
        )
        return answer(422, "invalid_parameter", problems[:500])

    # An outage of a dependency that comes back, not a bug: 503 with Retry-After instead of a traceback and a bare 500,
    # and a warning a minute, not one per request.
    redis_outage, kafka_outage, clickhouse_outage = OutageLog(log), OutageLog(log), OutageLog(log)

    @app.exception_handler(RedisError)
    async def redis_unavailable(request: Request, exc: RedisError) -> JSONResponse:
        redis_outage.failed("redis unavailable (%s): %s answered 503", type(exc).__name__, request.url.path)
        detail = "Redis (read keys, live state) is unreachable; retry shortly"
        return answer(503, "redis_unavailable", detail, {"Retry-After": str(RETRY_AFTER_S)})

    # An erasure is in the warehouse before the workers are told through Kafka: a retry repeats both, harmlessly.
    @app.exception_handler(KafkaError)
    async def kafka_unavailable(request: Request, exc: KafkaError) -> JSONResponse:
        kafka_outage.failed("kafka unavailable (%s): %s answered 503", type(exc).__name__, request.url.path)
        detail = "Kafka is unreachable, so the stream workers were not told; retry shortly"
        return answer(503, "kafka_unavailable", detail, {"Retry-After": str(RETRY_AFTER_S)})

    # A cursor is checked against where Kafka's partitions end; unchecked, one past an end would skip signals.
    @app.exception_handler(PartitionEndsUnknown)
    async def partition_ends_unknown(request: Request, exc: PartitionEndsUnknown) -> JSONResponse:
        kafka_outage.failed("kafka unavailable (%s): %s answered 503", exc, request.url.path)
        detail = "Kafka is unreachable, so the cursor cannot be checked against where the feed ends; retry shortly"
        return answer(503, "kafka_unavailable", detail, {"Retry-After": str(RETRY_AFTER_S)})

    # A ClickHouse server that does not answer (down, restarting, unreachable); a query it refuses is our bug: a 500.
    @app.exception_handler(OperationalError)
    async def clickhouse_unavailable(request: Request, exc: OperationalError) -> JSONResponse:
        clickhouse_outage.failed("clickhouse unavailable: %s answered 503", request.url.path)
        detail = "ClickHouse (stats, history, intent feed, erasures) is unreachable; retry shortly"
        return answer(503, "clickhouse_unavailable", detail, {"Retry-After": str(RETRY_AFTER_S)})

    # Starlette's own answers (unknown route, wrong method) in the same shape.
    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        reason = str(exc.detail).lower().replace(" ", "_")
        return answer(exc.status_code, reason, str(exc.detail), getattr(exc, "headers", None))
