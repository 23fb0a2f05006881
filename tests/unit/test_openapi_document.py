"""The OpenAPI page documents the API as it behaves: the read key as a bearer scheme, each answer's fields, and
refusals in the one error shape (FastAPI's default page showed untyped objects and a 422 shape the API never sends)."""

from __future__ import annotations

from typing import Any

import pytest

from api.app import create_app
from clickpulse.settings import Settings

DOCUMENT = create_app(Settings(), run_loader=False).openapi()
OPERATIONS = [
    (path, method, operation)
    for path, methods in DOCUMENT["paths"].items()
    if path.startswith("/v1/")
    for method, operation in methods.items()
]


def schema_of(answer: dict[str, Any], media_type: str = "application/json") -> dict[str, Any]:
    return answer["content"][media_type]["schema"]


def test_every_route_of_a_site_is_documented() -> None:
    assert {(path, method) for path, method, _ in OPERATIONS} == {
        ("/v1/sites/{site_id}/stats", "get"),
        ("/v1/sites/{site_id}/breakdown/{dimension}", "get"),
        ("/v1/sites/{site_id}/funnel", "get"),
        ("/v1/sites/{site_id}/retention", "get"),
        ("/v1/sites/{site_id}/intent", "get"),
        ("/v1/sites/{site_id}/webhook", "get"),
        ("/v1/sites/{site_id}/customers/{customer_id}", "get"),
        ("/v1/sites/{site_id}/customers/{customer_id}", "delete"),
        ("/v1/sites/{site_id}/visitors/{visitor_id}", "delete"),
        ("/v1/sites/{site_id}/realtime", "get"),
        ("/v1/sites/{site_id}/live", "get"),
    }


@pytest.mark.parametrize(("path", "method", "operation"), OPERATIONS, ids=[f"{m} {p}" for p, m, _ in OPERATIONS])
def test_a_route_documents_the_read_key_and_its_refusals_in_the_error_shape(
    path: str, method: str, operation: dict[str, Any]
) -> None:
    # Erasing and a webhook's status (its URL may hold a CRM's token) take the admin key, reading the read key.
    admin = method == "delete" or path.endswith("/webhook")
    assert operation["security"] == [{"AdminKey": []} if admin else {"HTTPBearer": []}]
    for status in ("401", "403", "422", "503"):
        assert schema_of(operation["responses"][status]) == {"$ref": "#/components/schemas/ErrorAnswer"}, status


def test_answers_are_documented_field_by_field() -> None:
    schemas = DOCUMENT["components"]["schemas"]
    assert "HTTPValidationError" not in schemas
    assert set(schemas["ErrorAnswer"]["properties"]) == {"error", "detail"}
    assert set(schemas["Stats"]["properties"]) >= {"from", "to", "pageviews", "visitors", "bounce_rate", "revenue"}
    signal = schemas["Signal"]["properties"]
    assert signal["kind"]["enum"] == ["high_intent", "abandoned_cart", "returning_customer"]
    assert set(signal) == {"id", "kind", "visitor_id", "customer_id", "score", "reasons", "products", "at"}
    intent = DOCUMENT["paths"]["/v1/sites/{site_id}/intent"]["get"]
    assert schema_of(intent["responses"]["200"]) == {"$ref": "#/components/schemas/IntentPage"}


def test_the_live_stream_takes_its_key_only_as_a_bearer_header_and_documents_its_event_stream() -> None:
    # ?key= (for EventSource) put the read key in URLs, which proxies log: it is refused now, and said so.
    live = DOCUMENT["paths"]["/v1/sites/{site_id}/live"]["get"]
    assert "key" not in {parameter["name"] for parameter in live["parameters"]}
    assert live["security"] == [{"HTTPBearer": []}]
    assert "`key_in_url`" in live["responses"]["401"]["description"]
    assert set(live["responses"]["200"]["content"]) == {"text/event-stream"}
