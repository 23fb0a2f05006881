"""Signed webhooks end to end: a site's new intent signals reach its CRM's URL, each once in a 2xx-answered push,
through the CRM's failures; signals from before the webhook was set are not pushed."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import redis

from tests.e2e.test_intent_feed import feed_page, shopping
from tests.running_stack import TEST_PORT_BASE, RunningStack, send_batch, wait_until

RECEIVER_PORT = TEST_PORT_BASE + 390


@dataclass
class Push:
    headers: dict[str, str]
    body: bytes
    answered: int

    @property
    def signal_ids(self) -> list[str]:
        return [s["id"] for s in json.loads(self.body)["signals"]]


@contextmanager
def crm_receiver(failing_first: int) -> Iterator[list[Push]]:
    """A CRM's webhook endpoint on RECEIVER_PORT that answers 500 to its first `failing_first` pushes, then 200."""
    pushes: list[Push] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            status = 500 if len(pushes) < failing_first else 200
            pushes.append(Push({k.lower(): v for k, v in self.headers.items()}, body, status))
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", RECEIVER_PORT), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield pushes
    finally:
        server.shutdown()
        server.server_close()


def signed_by(secret: str, push: Push) -> bool:
    fields = dict(part.split("=", 1) for part in push.headers["clickpulse-signature"].split(","))
    expected = hmac.new(secret.encode(), f"{fields['t']}.".encode() + push.body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(fields["v1"], expected) and abs(time.time() - int(fields["t"])) < 300


def test_new_signals_are_pushed_signed_once_each_through_the_crms_failures_and_older_ones_not(
    stack: RunningStack,
) -> None:
    site = stack.create_site("webhooks")
    now = int(time.time() * 1000)
    send_batch(stack.ingest, site, "before-webhook", shopping(now, "sku-old"))
    assert wait_until(lambda: feed_page(stack, site, None, 10)["signals"], timeout_s=60)
    (old,) = feed_page(stack, site, None, 10)["signals"]

    with crm_receiver(failing_first=2) as pushes:
        answer = json.loads(stack.clickpulse("site", "webhook", site["site_id"], f"http://127.0.0.1:{RECEIVER_PORT}/"))
        secret = answer["webhook_secret"]
        assert secret.startswith("whsec_") and answer["webhook_url"].endswith(f":{RECEIVER_PORT}/")
        # The API takes the webhook's starting point (the feed's end now) within a second.
        store = redis.Redis.from_url(stack.settings.redis_url)
        assert wait_until(lambda: store.keys(f"cp:webhook:cursor:{site['site_id']}:*"), timeout_s=30, every_s=0.2)
        store.close()

        for n in range(3):
            send_batch(stack.ingest, site, f"after-webhook-{n}", shopping(now + 1000, f"sku-{n}"))

        def delivered() -> list[str]:
            return [sid for push in pushes if push.answered == 200 for sid in push.signal_ids]

        assert wait_until(lambda: len(delivered()) >= 3, timeout_s=90, every_s=0.5)
        time.sleep(2)  # a push of a page twice would come within a poll

    new = [s["id"] for s in feed_page(stack, site, None, 100)["signals"] if s["id"] != old["id"]]
    assert len(new) == 3
    assert sorted(delivered()) == sorted(new)  # each new signal once; the older one never
    assert all(old["id"] not in push.signal_ids for push in pushes)
    assert [p.answered for p in pushes[:3]] == [500, 500, 200]
    assert set(pushes[0].signal_ids) <= set(delivered())  # what failed was pushed again, not skipped
    assert all(signed_by(secret, push) for push in pushes)
    assert all(json.loads(push.body)["site_id"] == site["site_id"] for push in pushes)
    assert not signed_by("whsec_another", pushes[0])


def test_a_sites_owner_sees_how_its_webhook_pushes_go_and_why_the_last_one_failed(stack: RunningStack) -> None:
    site = stack.create_site("webhook-status")
    url = f"{stack.api}/v1/sites/{site['site_id']}/webhook"
    admin = {"Authorization": f"Bearer {site['admin_key']}"}
    assert httpx.get(url, headers=admin).json()["url"] is None
    # The URL may hold a CRM's token, and the read key travels in dashboard links.
    refused = httpx.get(url, headers={"Authorization": f"Bearer {site['read_key']}"})
    assert (refused.status_code, refused.json()["error"]) == (403, "invalid_admin_key")

    with crm_receiver(failing_first=2) as pushes:
        stack.clickpulse("site", "webhook", site["site_id"], f"http://127.0.0.1:{RECEIVER_PORT}/")
        assert wait_until(lambda: httpx.get(url, headers=admin).json()["url"], timeout_s=30, every_s=0.2)
        store = redis.Redis.from_url(stack.settings.redis_url)
        assert wait_until(lambda: store.keys(f"cp:webhook:cursor:{site['site_id']}:*"), timeout_s=30, every_s=0.2)
        store.close()
        send_batch(stack.ingest, site, "status-shopper", shopping(int(time.time() * 1000), "sku-status"))

        def delivered() -> dict[str, Any] | None:
            status: dict[str, Any] = httpx.get(url, headers=admin).json()
            return status if status["delivered_signals"] else None

        status = wait_until(delivered, timeout_s=90, every_s=0.5)

    assert status["url"] == f"http://127.0.0.1:{RECEIVER_PORT}/"
    assert status["delivered_signals"] == len(pushes[2].signal_ids) >= 1
    assert (status["failures_since_success"], status["last_failure_reason"]) == (0, "answered HTTP 500")
    assert status["last_failure"] < status["last_success"]  # ISO 8601 UTC times sort as times
