"""A CRM customer's history through the API: their sessions on every device they identified on, including the
sessions a device had before they identified (attributed through the identity links)."""

from __future__ import annotations

import time
import uuid

import httpx

from tests.running_stack import RunningStack, send_batch, wait_until

HOUR_MS = 3_600_000


def pageview(ts: int, path: str) -> dict[str, object]:
    return {"id": str(uuid.uuid4()), "type": "pageview", "ts": ts, "url": f"https://s.test{path}"}


def identify(ts: int, customer_id: str) -> dict[str, object]:
    return {"id": str(uuid.uuid4()), "type": "identify", "ts": ts, "props": {"customer_id": customer_id}}


def test_a_customers_history_includes_the_sessions_their_devices_had_before_they_identified(
    stack: RunningStack,
) -> None:
    site = stack.create_site("customer-history")
    now = int(time.time() * 1000)
    # The laptop browses anonymously two hours ago (a session the next event closes at once), and an hour ago.
    anonymous = [pageview(now - 2 * HOUR_MS, "/a"), pageview(now - HOUR_MS, "/b")]
    assert send_batch(stack.ingest, site, "laptop", anonymous) == 200
    assert stack.wait_for_stats(site, {"sessions": 2})["sessions"] == 2
    assert send_batch(stack.ingest, site, "laptop", [pageview(now, "/c"), identify(now + 1, "c-7")]) == 200
    assert send_batch(stack.ingest, site, "phone", [pageview(now, "/d"), identify(now + 1, "c-7")]) == 200
    assert send_batch(stack.ingest, site, "stranger", [pageview(now, "/e")]) == 200

    headers = {"Authorization": f"Bearer {site['read_key']}"}
    path = f"{stack.api}/v1/sites/{site['site_id']}/customers/c-7"

    def history() -> dict[str, object] | None:
        body = httpx.get(path, headers=headers, timeout=10).json()
        return body if body["sessions_total"] == 4 else None

    body = wait_until(history, timeout_s=60)
    assert body, httpx.get(path, headers=headers).json()
    assert body["visitors"] == ["laptop", "phone"]
    assert body["sessions_before_identify"] >= 1
    earliest = body["sessions"][-1]
    assert (earliest["visitor_id"], earliest["entry_page"], earliest["before_identify"]) == ("laptop", "/a", True)
    assert body["first_seen"] == earliest["start"]
    # UTC times say so: a reader (JavaScript's Date) takes a time without a zone as local.
    assert all(t.endswith("Z") for t in (body["first_seen"], body["last_seen"], earliest["start"], earliest["end"]))
    nobody = httpx.get(f"{stack.api}/v1/sites/{site['site_id']}/customers/nobody", headers=headers).json()
    assert (nobody["sessions_total"], nobody["visitors"], nobody["sessions"]) == (0, [], [])


def test_a_customer_or_visitor_id_with_a_slash_can_be_looked_up_and_forgotten(stack: RunningStack) -> None:
    site = stack.create_site("ids-with-slashes")
    headers = {"Authorization": f"Bearer {site['read_key']}"}
    base = f"{stack.api}/v1/sites/{site['site_id']}"
    assert httpx.get(f"{base}/customers/crm%2F42", headers=headers).json()["customer_id"] == "crm/42"
    forgotten = httpx.delete(f"{base}/customers/crm%2F42", headers=headers)
    assert (forgotten.status_code, forgotten.json()["customer_id"]) == (202, "crm/42")
    forgotten = httpx.delete(f"{base}/visitors/a%2Fb", headers=headers)
    assert (forgotten.status_code, forgotten.json()["visitor_id"]) == (202, "a/b")
