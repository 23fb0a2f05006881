"""A CRM customer's history through the API: their sessions on every device they identified on, including the
sessions a device had before they identified (attributed through the identity links)."""

from __future__ import annotations

import time
import uuid
from typing import Any

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
    admin = {"Authorization": f"Bearer {site['admin_key']}"}
    forgotten = httpx.delete(f"{base}/customers/crm%2F42", headers=admin)
    assert (forgotten.status_code, forgotten.json()["customer_id"]) == (202, "crm/42")
    forgotten = httpx.delete(f"{base}/visitors/a%2Fb", headers=admin)
    assert (forgotten.status_code, forgotten.json()["visitor_id"]) == (202, "a/b")


def test_a_customers_history_pages_by_cursor_without_repeats_or_gaps_while_new_sessions_start(
    stack: RunningStack,
) -> None:
    site = stack.create_site("customer-history-pages")
    now = int(time.time() * 1000)
    # Five sessions an hour apart on the laptop; the last one identifies.
    visits = [pageview(now - hours * HOUR_MS, f"/p{hours}") for hours in (4, 3, 2, 1)]
    assert send_batch(stack.ingest, site, "laptop", visits) == 200
    assert stack.wait_for_stats(site, {"sessions": 4})["sessions"] == 4
    # A minute before the phone's session below: event times are corrected by each batch's own send time, so two
    # batches a few milliseconds apart could come out in either order.
    assert (
        send_batch(stack.ingest, site, "laptop", [pageview(now - 60_000, "/p0"), identify(now - 59_999, "c-9")]) == 200
    )
    headers = {"Authorization": f"Bearer {site['read_key']}"}
    path = f"{stack.api}/v1/sites/{site['site_id']}/customers/c-9"

    def page(**params: object) -> dict[str, Any]:
        response = httpx.get(path, params={"limit": 2, **params}, headers=headers, timeout=10)
        assert response.status_code == 200, response.text
        return response.json()

    first = wait_until(lambda: (body := page()) and body["sessions_total"] == 5 and body, timeout_s=60)
    assert first, page()
    # A new session starts while the CRM pages: newer than every page, it moves no session to another page.
    assert send_batch(stack.ingest, site, "phone", [pageview(now + 2, "/new"), identify(now + 3, "c-9")]) == 200
    assert wait_until(lambda: page()["sessions_total"] == 6, timeout_s=60)
    listed, body = [], first
    while True:
        listed += [s["entry_page"] for s in body["sessions"]]
        if body["next_cursor"] is None:
            break
        body = page(cursor=body["next_cursor"])
    assert listed == ["/p0", "/p1", "/p2", "/p3", "/p4"]
    assert page(limit=6)["next_cursor"] is None and page()["sessions"][0]["entry_page"] == "/new"

    nobody = httpx.get(f"{stack.api}/v1/sites/{site['site_id']}/customers/nobody", headers=headers, timeout=10)
    assert nobody.json()["next_cursor"] is None
    for customer, cursor in [("c-9", first["next_cursor"][:-3]), ("c-1", first["next_cursor"])]:  # forged, another's
        refused = httpx.get(path.replace("c-9", customer), params={"cursor": cursor}, headers=headers, timeout=10)
        assert (refused.status_code, refused.json()["error"]) == (400, "bad_cursor")
