"""A ClickHouse server that does not answer is an outage, answered 503 with Retry-After like Redis and Kafka ones;
a query the server refuses stays a 500: it is our bug."""

from __future__ import annotations

import logging

import pytest
from clickhouse_connect.driver.exceptions import DatabaseError, OperationalError
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.errors import ApiError, install_error_answers


def app_failing_with(exc: Exception) -> TestClient:
    app = FastAPI()
    install_error_answers(app)

    @app.get("/stats")
    async def stats() -> None:
        raise exc

    return TestClient(app, raise_server_exceptions=False)


def test_a_clickhouse_server_that_does_not_answer_gives_503_clickhouse_unavailable_with_retry_after(
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = app_failing_with(OperationalError("Error executing HTTP request attempt 2"))
    with caplog.at_level(logging.WARNING, logger="api.errors"):
        responses = [client.get("/stats") for _ in range(3)]
    for response in responses:
        assert response.status_code == 503
        assert response.json()["error"] == "clickhouse_unavailable"
        assert response.headers["Retry-After"] == "5"
    # Said once for the outage, not once per request.
    assert [r.getMessage() for r in caplog.records] == ["clickhouse unavailable: /stats answered 503"]


def test_a_query_clickhouse_refuses_stays_a_500() -> None:
    assert app_failing_with(DatabaseError("Code: 62. Syntax error")).get("/stats").status_code == 500


def test_a_missing_read_key_answers_401_with_the_bearer_scheme() -> None:
    response = app_failing_with(ApiError(401, "missing_read_key", "send a read key")).get("/stats")
    assert response.status_code == 401 and response.headers["WWW-Authenticate"] == "Bearer"
    assert response.json()["error"] == "missing_read_key"
